#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Sums the individual test cases in meson's test logs and prints one line,
"N passed, M failed".  Criterion programs report "Synthesis: Tested: T |
Passing: P | Failing: F | Crashing: C"; Python unittest reports "Ran N
tests" and "FAILED (failures=F, errors=E)".  A test program that ends
without either line (killed, timed out, failed to start) counts as one
failure, so nothing can pass by not running; one that meson marks SKIP
(exit 77: a tool it needs is missing, and it said which) counts as skipped.

usage: count_tests.py TESTLOG.json [...]
"""
import json
import re
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError as e:
        print(f"count_tests: {path}: {e}", file=sys.stderr)
        failed += 1
        continue
    for line in lines:
        t = json.loads(line)
        out = (t.get("stdout") or "") + (t.get("stderr") or "")
        syn = re.findall(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| "
                         r"Failing: (\d+) \| Crashing: (\d+)", out)
        ran = re.findall(r"^Ran (\d+) tests?", out, re.M)
        if syn:
            _, p, f, c = map(int, syn[-1])
            passed += p
            failed += f + c
            if t["result"] != "OK" and f + c == 0:
                failed += 1
        elif ran:
            n = int(ran[-1])
            m = re.search(r"FAILED \(([^)]*)\)", out)
            bad = sum(int(x) for x in re.findall(r"=(\d+)", m.group(1))) if m else 0
            if t["result"] != "OK" and bad == 0:
                bad = 1
            passed += n - min(bad, n)
            failed += bad
        elif t["result"] == "OK":
            passed += 1
        elif t["result"] == "SKIP":
            print(f"count_tests: {t['name']} skipped", file=sys.stderr)
            skipped += 1
        else:
            print(f"count_tests: {t['name']} ended with {t['result']} and no "
                  f"summary", file=sys.stderr)
            failed += 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed else 0)
