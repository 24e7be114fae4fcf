"""The counting shared by the coverage parsers (``ingest.coverage``)."""

from __future__ import annotations

import pytest

from ingest.coverage import (
    Counts,
    FileTally,
    build_coverage,
    parse_count,
    refuse_blank,
    regroup,
    stated_totals_warning,
)
from ingest.errors import EmptyReport, MalformedReport


def test_a_line_listed_twice_counts_once_with_its_highest_hits() -> None:
    tally = FileTally()
    tally.add_line(10, 0)
    tally.add_line(10, 3)
    tally.add_line(11, 0)
    assert tally.counts().lines == (2, 1)
    assert tally.listed.lines == (3, 1)


def test_branches_keep_the_best_outcome_per_key() -> None:
    tally = FileTally()
    tally.add_branches(4, 2, 0)
    tally.add_branches(4, 2, 1)
    assert tally.counts().branches == (2, 1)


def test_merging_tallies_merges_lines_not_sums_them() -> None:
    first, second = FileTally(), FileTally()
    first.add_line(1, 1)
    first.add_line(2, 0)
    second.add_line(2, 5)
    second.add_line(3, 0)
    first.merge(second)
    assert first.counts().lines == (3, 2)


def test_regroup_merges_paths_that_normalise_alike() -> None:
    merged = regroup(
        {"./a.py": Counts(2, 1), "a.py": Counts(3, 3), "b.py": Counts(1, 0)},
        {"./a.py": "a.py", "a.py": "a.py", "b.py": "b.py"},
    )
    assert merged == {"a.py": Counts(5, 4), "b.py": Counts(1, 0)}


def test_regroup_refuses_a_path_that_names_no_file() -> None:
    with pytest.raises(MalformedReport, match="does not name a file"):
        regroup({"./": Counts()}, {"./": ""})


def test_stated_totals_agreeing_with_lines_or_entries_earn_no_warning() -> None:
    assert stated_totals_warning("lines", None, (3, 2)) is None
    assert stated_totals_warning("lines", (3, 2), (3, 2)) is None
    assert stated_totals_warning("lines", (5, 2), (3, 2), listed=(5, 2)) is None


def test_stated_totals_contradicting_lines_earn_a_warning() -> None:
    warning = stated_totals_warning("lines", (108, 75), (97, 70), listed=(97, 70))
    assert warning == (
        "the report states 75 of 108 lines covered, but its per-line data gives "
        "70 of 97; the per-line data is used"
    )


def test_build_coverage_sorts_files_and_keeps_zero_branches() -> None:
    parsed = build_coverage(
        "lcov", {"b.c": Counts(2, 1, 0, 0), "a.c": Counts(1, 1, 2, 1)}, has_branch_data=True
    )
    assert [(f.path, f.branches_valid) for f in parsed.files] == [("a.c", 2), ("b.c", 0)]


def test_build_coverage_without_branch_data_says_none_not_zero() -> None:
    parsed = build_coverage("lcov", {"a.c": Counts(1, 1)}, has_branch_data=False)
    assert (parsed.files[0].branches_valid, parsed.files[0].branches_covered) == (None, None)
    assert not parsed.has_branch_data


def test_build_coverage_drops_empty_and_repeated_warnings() -> None:
    parsed = build_coverage(
        "lcov", {"a.c": Counts()}, has_branch_data=False, warnings=[None, "w", "w"]
    )
    assert parsed.warnings == ["w"]


def test_a_report_without_files_is_empty() -> None:
    with pytest.raises(EmptyReport):
        build_coverage("clover", {}, has_branch_data=False)


@pytest.mark.parametrize("data", [b"", b"  \n\t\r\n", b"\xef\xbb\xbf\n"])
def test_blank_bytes_are_an_empty_report(data: bytes) -> None:
    with pytest.raises(EmptyReport):
        refuse_blank(data, "lcov")


@pytest.mark.parametrize(
    ("text", "value"),
    [("3", 3), (" 12 ", 12), ("3.0", 3), ("1e2", 100), ("-1", None), ("1.5", None), ("x", None)],
)
def test_parse_count(text: str, value: int | None) -> None:
    assert parse_count(text) == value
