#!/usr/bin/env python3
"""The import graph of src/: prints it, layer by layer, and fails on a cycle
or on an arrow that does not run down.

A module is a .c file with its same-named .h.  A module imports another
when its .c or .h includes a header that declares a symbol the other's
object file defines (nm of src/*.o: build first).  The files that include
an *_internal.h header, with that header and their shared public header,
are one package (delivery*: delivery_*.c, redrive.c, delivery.h,
delivery_internal.h): the arrows inside it are its own business.  With
--nm the arrows are the linker's instead: A -> B when A.o uses a symbol
B.o defines.

Usage, after make: test/include_graph.py [src] [--nm]
"""
import glob, os, re, subprocess, sys

args = [a for a in sys.argv[1:] if not a.startswith('-')]
src = args[0] if args else 'src'
use_nm = '--nm' in sys.argv
cfiles = sorted(glob.glob(os.path.join(src, '*.c')))
hfiles = sorted(glob.glob(os.path.join(src, '*.h')))
base = lambda p: os.path.splitext(os.path.basename(p))[0]
read = lambda p: open(p).read()

def includes(path):
    return [h for h in re.findall(r'^#include "(\w+\.h)"', read(path), re.M)
            if os.path.exists(os.path.join(src, h))]

# packages: an internal header, the files that include it, and their public header
package = {}
for h in hfiles:
    if base(h).endswith('_internal'):
        name = base(h)[:-len('_internal')]
        package[base(h)] = name + '*'
        package[name] = name + '*'
        for f in cfiles:
            if base(h) + '.h' in includes(f):
                package[base(f)] = name + '*'
node = lambda m: package.get(m, m)

defines, uses = {}, {}
for c in cfiles:
    out = subprocess.run(['nm', c[:-2] + '.o'], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in 'TDBRC':
            defines[parts[2]] = base(c)
        elif len(parts) == 2 and parts[0] == 'U':
            uses.setdefault(base(c), set()).add(parts[1])

def implementers(h):
    text = re.sub(r'/\*.*?\*/', ' ', read(os.path.join(src, h)), flags=re.S)
    names = set(re.findall(r'\bextern\b[^;]*?\b(\w+)\s*\(', text)) | \
        set(re.findall(r'\bextern\b[^;(]*?\b(\w+)\s*;', text))
    return {defines[n] for n in names if n in defines} or {base(h)}

edges = {}
def arrow(a, b):
    a, b = node(a), node(b)
    edges.setdefault(a, set())
    edges.setdefault(b, set())
    if a != b:
        edges[a].add(b)

for f in cfiles + hfiles:
    arrow(base(f), base(f))
    if use_nm:
        continue
    for h in includes(f):
        for m in implementers(h):
            arrow(base(f), m)
if use_nm:
    for a, us in uses.items():
        for u in us:
            if u in defines:
                arrow(a, defines[u])

layer, state, cycles = {}, {}, []
def visit(n, path):
    if state.get(n) == 'open':
        cycles.append(path[path.index(n):] + [n])
        return 0
    if n not in layer:
        state[n] = 'open'
        layer[n] = 1 + max([visit(m, path + [n]) for m in sorted(edges[n])] or [-1])
        state[n] = 'done'
    return layer[n]
for n in sorted(edges):
    visit(n, [])

print('layer module                 imports')
for n in sorted(edges, key=lambda n: (layer[n], n)):
    print(f'{layer[n]:5d} {n:22s} {" ".join(sorted(edges[n])) or "-"}')
back = sorted((a, b) for a in edges for b in edges[a] if layer[b] >= layer[a])
for c in cycles:
    print('CYCLE: ' + ' -> '.join(c))
for a, b in back:
    print(f'BACK UP: {a} -> {b}')
print('FAIL' if cycles or back else 'no cycle; every arrow runs to a lower layer')
sys.exit(1 if cycles or back else 0)
