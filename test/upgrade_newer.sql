-- test/upgrade_newer.sql: a test-only update script, to a version newer than
-- the library's (9.9) and back.  test.sh installs it twice into the share
-- directory of the PostgreSQL under test, as orders_stream--<version>--9.9.sql
-- and orders_stream--9.9--<version>.sql, for t/096_upgrade.pl, and removes
-- them when it ends.  Never packaged: it changes nothing.
\echo Use "ALTER EXTENSION orders_stream UPDATE" to load this file. \quit
