"""Our streaming JUnit reader, checked against junitparser as a reference reader.

junitparser (the design card's JUnit model) reads each fixture independently;
per outcome, its count of <testcase> elements must equal ours. Where the two
differ by design, the reason is written down here rather than hidden.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped, TestSuite

from ingest.junit import parse_junit

FIXTURES = sorted((Path(__file__).parents[1] / "data" / "junit").glob("*.xml"))

# Where our reading deliberately differs from a plain element count.
BY_DESIGN = {
    "googletest.xml": "status='notrun' (a DISABLED_ test) is skipped, not passed",
    "gotestsum.xml": "a test re-run by --rerun-fails is one case, a retry flake, not two",
}


def reference_outcomes(path: Path) -> Counter:
    xml = JUnitXml.fromfile(str(path))
    counts: Counter = Counter()

    def walk(suite: TestSuite) -> None:
        for item in suite:
            if isinstance(item, TestSuite):
                walk(item)
                continue
            kinds = {type(result) for result in item.result}
            if Failure in kinds:
                counts["failed"] += 1
            elif Error in kinds:
                counts["error"] += 1
            elif Skipped in kinds:
                counts["skipped"] += 1
            else:
                counts["passed"] += 1

    for suite in [xml] if isinstance(xml, TestSuite) else list(xml):
        walk(suite)
    return counts


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_outcome_counts_agree_with_junitparser(path):
    ours = Counter(case.outcome for case in parse_junit(path.read_bytes()).cases)
    reference = reference_outcomes(path)
    if path.name in BY_DESIGN:
        assert ours != reference, f"{path.name} no longer differs: {BY_DESIGN[path.name]}"
        assert sum(ours.values()) <= sum(reference.values())
    else:
        assert ours == reference


def test_there_are_fixtures_to_compare():
    assert len(FIXTURES) >= 25
