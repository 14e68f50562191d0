#!/usr/bin/python3
"""scripts/check-layers.py SRCDIR [LIBPCORE.a]: fails on a dependency cycle
among the gateway's modules.

A module is a .c/.h pair under gateway/ (gateway/lifecycle/chain.{c,h}).
Two graphs are checked, because each misses what the other sees:

  includes  A -> B when A.c or A.h includes B.h;
  symbols   A -> B when A's object uses a symbol that B's object defines
            (from `nm` over libpcore.a): this catches a function declared
            in one module's header and defined in another's file.

Any strongly connected component of more than one module is a cycle and is
printed with the edges that make it. The check also fails when a file
outside gateway/front/ names libmicrohttpd, which must stay in the HTTP
front-end glue (MHD_ALLOWED would list exceptions, each with its reason;
there are none: the admin listener's glue is gateway/front/admin_http.c).
"""
import os
import re
import subprocess
import sys

# Files outside gateway/front/ that may use libmicrohttpd, and why.
MHD_ALLOWED = {}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def modules(src):
    gw = os.path.join(src, "gateway")
    mods = {}
    for root, _, files in os.walk(gw):
        for f in files:
            if f.endswith((".c", ".h")):
                path = os.path.join(root, f)
                mod = os.path.relpath(path, gw)[:-2]
                mods.setdefault(mod, []).append(path)
    return mods


def include_graph(src, mods):
    graph = {m: set() for m in mods}
    for m, paths in mods.items():
        for p in paths:
            with open(p, encoding="utf-8") as fh:
                for inc in INCLUDE.findall(fh.read()):
                    dep = inc[:-2]
                    if inc.endswith(".h") and dep in mods and dep != m:
                        graph[m].add(dep)
    return graph


def symbol_graph(lib, mods):
    out = subprocess.run(["nm", "-A", "--defined-only", lib], capture_output=True,
                         text=True, check=True).stdout
    defs = {}
    for line in out.splitlines():
        obj, _, rest = line.partition(":")[2].partition(":")
        obj = line.split(":")[1]
        parts = rest.split()
        if len(parts) == 3 and parts[1] in "TDBR":
            defs[parts[2]] = obj
    out = subprocess.run(["nm", "-A", "--undefined-only", lib], capture_output=True,
                         text=True, check=True).stdout
    by_obj = {}
    for m in mods:
        by_obj[os.path.basename(m).replace("/", "_")] = m
    def mod_of(obj):
        # automake names objects <dir>_<file>.o or libpcore_a-<dir>_<file>.o
        name = obj.split("-", 1)[-1][:-2]
        for m in mods:
            if name.endswith(m.replace("/", "_")) or name == os.path.basename(m):
                return m
        return None
    graph = {m: set() for m in mods}
    for line in out.splitlines():
        parts = line.split(":")
        if len(parts) < 3:
            continue
        obj, sym = parts[1], parts[2].split()[-1]
        a, b = mod_of(obj), mod_of(defs.get(sym, ""))
        if a and b and a != b:
            graph[a].add(b)
    return graph


def cycles(graph):
    """Tarjan's strongly connected components of more than one node."""
    index, low, stack, on, comps, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return comps


def mhd_outside_front(src):
    bad = []
    gw = os.path.join(src, "gateway")
    for root, _, files in os.walk(gw):
        if os.path.relpath(root, gw).split(os.sep)[0] == "front":
            continue
        for f in files:
            if f.endswith((".c", ".h")):
                with open(os.path.join(root, f), encoding="utf-8") as fh:
                    text = fh.read()
                rel = os.path.relpath(os.path.join(root, f), src)
                if rel in MHD_ALLOWED:
                    continue
                if re.search(r"microhttpd\.h|\bMHD_|struct MHD", text):
                    bad.append(rel)
    return bad


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "."
    lib = sys.argv[2] if len(sys.argv) > 2 else None
    mods = modules(src)
    failed = False
    graphs = [("includes", include_graph(src, mods))]
    if lib:
        graphs.append(("symbols", symbol_graph(lib, mods)))
    for name, g in graphs:
        for comp in cycles(g):
            failed = True
            print(f"check-layers: {name} cycle among {', '.join(comp)}:")
            for a in comp:
                for b in sorted(g[a] & set(comp)):
                    print(f"    {a} -> {b}")
    for f in mhd_outside_front(src):
        failed = True
        print(f"check-layers: {f} names libmicrohttpd outside gateway/front/")
    if failed:
        return 1
    print(f"check-layers: {len(mods)} modules, no cycle"
          + ("" if lib else " (includes only)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
