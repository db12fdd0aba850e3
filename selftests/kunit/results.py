#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Turns kunit.py's --json results into run-check result lines.

    results.py RESULTS.json SUITE...

Prints one "PASS: kunit/<suite>/<case>" or "FAIL: kunit/<suite>/<case>: why"
line per test case.  A parameterised case is one line; it fails when any of
its parameters failed, and the reason names them.  A skipped case (or
parameter) is a FAIL too: a check that did not run proves nothing.  Every SUITE named on the
command line must be in the results ("FAIL: kunit/<suite>: did not run"
otherwise).  Exits 1 when a line is a FAIL, or when the file holds no
results at all.
"""
import json
import sys

OK = "PASS"


def why_not(status):
    return "skipped" if status == "SKIP" else "status " + status


def cases(suite):
    """(name, status, reason) for every case of a suite group."""
    for case in suite.get("test_cases", []):
        status = case.get("status", "FAIL")
        yield case["name"], status, "" if status == OK else why_not(status)
    for case in suite.get("sub_groups", []):
        params = case.get("test_cases", [])
        bad = [(p["name"], p.get("status", "FAIL")) for p in params
               if p.get("status", "FAIL") != OK]
        if not params:
            yield case["name"], "FAIL", "no parameters ran"
        elif bad:
            shown = "; ".join("%s (%s)" % (n, why_not(s)) for n, s in bad[:5])
            shown += "; ..." if len(bad) > 5 else ""
            yield case["name"], "FAIL", "%d of %d parameters did not pass: %s" % (
                len(bad), len(params), shown)
        else:
            yield case["name"], "PASS", ""


def main(argv):
    if len(argv) < 2:
        print("usage: results.py RESULTS.json SUITE...", file=sys.stderr)
        return 2
    try:
        with open(argv[1]) as f:
            top = json.load(f)
    except (OSError, ValueError) as e:
        print("FAIL: kunit/results: cannot read %s: %s" % (argv[1], e))
        return 1
    failed = False
    seen = set()
    total = 0
    for suite in top.get("sub_groups", []):
        seen.add(suite["name"])
        for name, status, why in cases(suite):
            total += 1
            label = "kunit/%s/%s" % (suite["name"], name)
            if status == OK:
                print("PASS: %s" % label)
            else:
                failed = True
                print("FAIL: %s: %s" % (label, why))
    for want in argv[2:]:
        if want not in seen:
            failed = True
            print("FAIL: kunit/%s: did not run (not in the results)" % want)
    if total == 0:
        print("FAIL: kunit/results: no test cases in %s" % argv[1])
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
