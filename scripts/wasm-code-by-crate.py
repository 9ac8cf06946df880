#!/usr/bin/env python3
"""Where a wasm module's code is: function body bytes summed by the first segment of each
function's name (the crate, for Rust), from the module's `name` section. Prints the total and the
largest groups; with --functions, the largest single functions instead (V8 compiles a function
whole the first time it runs, so one large function on the request path lengthens an isolate's
first request: docs/benchmarks.md, "Fifth run"). A Workers build keeps its names with
    VERGE_KEEP_NAMES=1 scripts/build-workers.sh /tmp/named && scripts/wasm-code-by-crate.py [--functions] /tmp/named/index_bg.wasm
Standard library only; reads the binary format directly (sections 2 imports, 10 code, 0 name)."""
import collections
import re
import sys


def leb(d, i):
    r = s = 0
    while True:
        b = d[i]
        i += 1
        r |= (b & 0x7F) << s
        s += 7
        if b < 0x80:
            return r, i


def skip_limits(d, j):
    flags, j = leb(d, j)
    _, j = leb(d, j)
    if flags & 1:
        _, j = leb(d, j)
    return j


def main(path, functions=False, top=20):
    d = open(path, "rb").read()
    if d[:4] != b"\0asm":
        sys.exit(f"{path}: not a wasm module")
    sections, i = [], 8
    while i < len(d):
        sid = d[i]
        n, i = leb(d, i + 1)
        sections.append((sid, i, i + n))
        i += n
    imported, code, names = 0, [], {}
    for sid, a, b in sections:
        if sid == 2:  # imports: functions imported come first in the function index space
            count, j = leb(d, a)
            for _ in range(count):
                for _ in range(2):  # module and field names
                    n, j = leb(d, j)
                    j += n
                kind = d[j]
                j += 1
                if kind == 0:
                    _, j = leb(d, j)
                    imported += 1
                elif kind == 1:
                    j = skip_limits(d, j + 1)
                elif kind == 2:
                    j = skip_limits(d, j)
                elif kind == 3:
                    j += 2
                elif kind == 4:
                    _, j = leb(d, j + 1)
        elif sid == 10:  # code: one body per defined function
            count, j = leb(d, a)
            for _ in range(count):
                n, k = leb(d, j)
                code.append(k - j + n)
                j = k + n
        elif sid == 0:
            n, j = leb(d, a)
            if d[j : j + n] != b"name":
                continue
            j += n
            while j < b:
                sub = d[j]
                size, j = leb(d, j + 1)
                if sub == 1:  # function names
                    count, k = leb(d, j)
                    for _ in range(count):
                        idx, k = leb(d, k)
                        n, k = leb(d, k)
                        names[idx] = d[k : k + n].decode("utf-8", "replace")
                        k += n
                j += size
    if not names:
        sys.exit(f"{path}: no names section (build with VERGE_KEEP_NAMES=1)")
    print(f"{path}: {sum(code)} bytes of code in {len(code)} functions")
    if functions:
        for size, k in sorted(((size, k) for k, size in enumerate(code)), reverse=True)[:top]:
            print(f"{size:9d}  {names.get(imported + k, '?')[:160]}")
        return
    groups = collections.Counter()
    for k, size in enumerate(code):
        name = re.sub(r"^[<&_]+", "", names.get(imported + k, "?"))
        m = re.match(r"([A-Za-z0-9_]+)(?:\[[0-9a-f]+\])?::", name)
        groups[m.group(1) if m else "(other)"] += size
    for group, size in groups.most_common(top):
        print(f"{size:9d}  {group}")


if __name__ == "__main__":
    args = sys.argv[1:]
    functions = "--functions" in args
    args = [a for a in args if a != "--functions"]
    if len(args) != 1:
        sys.exit(__doc__)
    main(args[0], functions)
