#!/usr/bin/env bash
# test.sh: the whole test suite of orders_stream.  Run as root (CI: .ci/run).
#
#  1. installs the missing Debian packages (test/lib.sh ensure_packages)
#  2. builds the extension here and installs it into Debian's PostgreSQL 15
#  3. copies the repository to a temporary directory owned by postgres, and
#     there, as postgres:
#     a. regression tests: make installcheck (pg_regress --temp-instance over
#        sql/*.sql against expected/*.out), without the TAP tests
#     b. TAP tests: make installcheck with no REGRESS (prove over t/*.pl)
#     c. the AWS conformance check (test/conformance/run.sh)
#  Every suite runs even if an earlier one failed; failures print
#  regression.diffs / the TAP and server logs.  Exit status 0 iff all passed.
#
# Environment: ORDERS_STREAM_KEEP=1 keeps the temporary directories;
# ORDERS_STREAM_SUITES="regress tap conformance" picks suites;
# ORDERS_STREAM_TAP="t/010_hostile_roles.pl ..." picks TAP files.
set -euo pipefail
cd "$(dirname "$0")"
. test/lib.sh
os_init

suites=${ORDERS_STREAM_SUITES:-regress tap conformance}
want() { case " $suites " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

ensure_packages
build_install
work_copy
W=$OS_WORK

passed=() failed=() skipped=()
pg_make() { as_postgres -C "$W" make -C "$W" PG_CONFIG="$PG_CONFIG" "$@"; }

# a list of the files matching a glob, without the extension's install scripts
tests_in() { local f; for f in "$@"; do [ -e "$f" ] && echo "$f"; done | grep -v '/orders_stream--' || true; }

# ------------------------------------------------------------ regression --
if want regress; then
	if [ -z "$(tests_in "$W"/sql/*.sql)" ]; then
		os_log "regression tests: none (no sql/*.sql besides the install script)"
		skipped+=(regress)
	else
		os_log "regression tests: make installcheck (pg_regress)"
		# TAP_TESTS= here, REGRESS= below: the two halves of "make installcheck"
		# separately, so that both run and each keeps its own logs (prove
		# starts by removing tmp_check/, where pg_regress leaves its log).
		if pg_make installcheck TAP_TESTS=; then
			passed+=(regress)
		else
			failed+=(regress)
			if [ -f "$W/regression.diffs" ]; then
				echo "======================== regression.diffs ========================"
				cat "$W/regression.diffs"
			fi
			for f in "$W"/tmp_check/log/*; do
				[ -f "$f" ] || continue
				echo "======================== $(basename "$f") (last 200 lines) ========================"
				tail -n 200 "$f"
			done
		fi
	fi
fi

# ------------------------------------------------------------------- TAP --
if want tap; then
	if [ -z "$(tests_in "$W"/t/*.pl)" ]; then
		os_log "TAP tests: none (no t/*.pl)"
		skipped+=(tap)
	else
		os_log "TAP tests: make installcheck (prove t/*.pl)"
		# t/096_upgrade.pl updates the extension past the library's version
		# and back: a test-only pair of update scripts, in the share
		# directory (root's) of the PostgreSQL under test, for this run only
		ext_dir="$("$PG_CONFIG" --sharedir)/extension"
		ext_ver=$(sed -n "s/^default_version = '\(.*\)'$/\1/p" orders_stream.control)
		for pair in "$ext_ver--9.9" "9.9--$ext_ver"; do
			install -m 644 test/upgrade_newer.sql "$ext_dir/orders_stream--$pair.sql"
			os_add_cleanup "rm -f '$ext_dir/orders_stream--$pair.sql'"
		done
		# Debian's PGXS has enable_tap_tests = yes and PROVE = /usr/bin/prove,
		# with PostgreSQL::Test::Cluster under its src/test/perl: nothing to add.
		if pg_make installcheck REGRESS= PROVE_FLAGS=--timer ${ORDERS_STREAM_TAP:+PROVE_TESTS="$ORDERS_STREAM_TAP"} 2>&1 | tee "$W/prove.out"; then
			passed+=(tap)
		else
			failed+=(tap)
			# the logs of the failed test files (prove's summary names them),
			# or all logs if that finds none
			bad=$(sed -n 's|^t/\([^ ]*\)\.pl  *(Wstat.*|\1|p' "$W/prove.out" | sort -u)
			for f in "$W"/tmp_check/log/*; do
				[ -f "$f" ] || continue
				if [ -n "$bad" ]; then
					keep=
					for b in $bad; do
						case "$(basename "$f")" in "regress_log_$b" | "${b}_"*) keep=1 ;; esac
					done
					[ -n "$keep" ] || continue
				fi
				echo "======================== $(basename "$f") (last 300 lines) ========================"
				tail -n 300 "$f"
			done
		fi
	fi
fi

# ----------------------------------------------------------- conformance --
if want conformance; then
	os_log "AWS conformance check: test/conformance/run.sh"
	if "$W/test/conformance/run.sh"; then
		passed+=(conformance)
	else
		failed+=(conformance)
	fi
fi

os_log "summary"
echo "passed:  ${passed[*]:-}"
echo "failed:  ${failed[*]:-}"
echo "skipped: ${skipped[*]:-}"
echo "suites: ${#passed[@]} passed, ${#failed[@]} failed, ${#skipped[@]} skipped"
[ ${#failed[@]} -eq 0 ]
