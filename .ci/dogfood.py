"""Feed the suite's own reports to Suitescope and check nothing was lost.

Reads the JSON reply of `suitescope ingest --json` on stdin and compares its
counts with the totals pytest wrote into build/junit.xml.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def pytest_totals(junit: Path) -> dict[str, int]:
    root = ET.parse(junit).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        for key in totals:
            totals[key] += int(suite.get(key, 0))
    return totals


def main() -> int:
    reply = json.load(sys.stdin)
    expected = pytest_totals(Path("build/junit.xml"))
    counts = reply["counts"]
    got = {
        "tests": counts["tests"],
        "failures": counts["failed"],
        "errors": counts["errors"],
        "skipped": counts["skipped"],
    }
    print(f"pytest reported {expected}; Suitescope stored {got}; coverage {reply['coverage']}")
    if got != expected:
        print("dogfood: the counts differ", file=sys.stderr)
        return 1
    if not reply["coverage"] or reply["coverage"]["branch_rate"] is None:
        print("dogfood: the coverage report lost its branch data", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
