#!/bin/sh
# SPDX-License-Identifier: MIT
# Writes det_rec.c: src/detmath.c with each final double -> float rounding
# ("return (float)EXPR;") routed through rec_f(EXPR), which ties.c defines to
# record the double before rounding it.
/usr/bin/python3 - "$(dirname "$0")/../../src/detmath.c" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
out, n = re.subn(r"return \(float\)(.*?);\n", lambda m: f"return rec_f({m.group(1)});\n", src)
open("det_rec.c", "w").write(out)
print(f"det_rec.c: {n} roundings recorded")
PY
