"""LCOV tracefiles."""

from __future__ import annotations

import pytest

from ingest.coverage import lcov
from ingest.errors import EmptyReport, MalformedReport


def files_of(text: str) -> dict[str, tuple]:
    return {
        f.path: (f.lines_valid, f.lines_covered, f.branches_valid, f.branches_covered)
        for f in lcov.parse(text.encode()).files
    }


def test_lines_and_branches() -> None:
    text = (
        "TN:\nSF:src/a.c\nFN:1,main\nFNDA:1,main\nDA:1,1\nDA:2,0\nDA:3,5,abcdef\n"
        "LF:3\nLH:2\nBRDA:2,0,0,1\nBRDA:2,0,1,0\nBRF:2\nBRH:1\nend_of_record\n"
    )
    assert files_of(text) == {"src/a.c": (3, 2, 2, 1)}
    assert lcov.parse(text.encode()).format == "lcov"


def test_no_branch_records_anywhere_means_none() -> None:
    assert files_of("SF:a.py\nDA:1,1\nend_of_record\n") == {"a.py": (1, 1, None, None)}


def test_brf_zero_is_branch_data_with_zero_branches() -> None:
    text = "SF:a.js\nDA:1,1\nBRF:0\nBRH:0\nend_of_record\n"
    assert files_of(text) == {"a.js": (1, 1, 0, 0)}


def test_a_file_without_br_records_in_a_report_with_branches_has_zero() -> None:
    # geninfo writes no BRF/BRH at all for a file without branches.
    text = (
        "SF:a.c\nDA:1,1\nBRDA:1,0,0,1\nBRDA:1,0,1,1\nend_of_record\nSF:b.c\nDA:1,1\nend_of_record\n"
    )
    assert files_of(text) == {"a.c": (1, 1, 2, 2), "b.c": (1, 1, 0, 0)}


def test_a_dash_taken_count_is_a_branch_not_covered() -> None:
    text = "SF:a.c\nDA:3,0\nBRDA:3,2,0,-\nBRDA:3,2,1,-\nBRDA:3,e2,2,1\nend_of_record\n"
    assert files_of(text) == {"a.c": (1, 0, 3, 1)}


def test_records_for_the_same_file_merge_line_by_line() -> None:
    text = (
        "TN:one\nSF:a.c\nDA:1,1\nDA:2,0\nBRDA:2,0,0,0\nBRDA:2,0,1,-\nend_of_record\n"
        "TN:two\nSF:./a.c\nDA:2,4\nDA:3,0\nBRDA:2,0,0,0\nBRDA:2,0,1,2\nend_of_record\n"
    )
    assert files_of(text) == {"a.c": (3, 2, 2, 1)}


def test_absolute_paths_lose_their_common_directory() -> None:
    text = "SF:C:\\temp\\main.cpp\nDA:1,1\nend_of_record\nSF:C:\\temp\\sub\\calc.cpp\nDA:1,0\n"
    assert list(files_of(text)) == ["main.cpp", "sub/calc.cpp"]


def test_huge_and_negative_hit_counts() -> None:
    # istanbul has written 2**64 - 1; gcov has written negative overflowed counters.
    text = "SF:a.js\nDA:1,18446744073709551615\nDA:2,-1\nend_of_record\n"
    assert files_of(text) == {"a.js": (2, 1, None, None)}


def test_a_last_record_without_end_of_record_still_counts() -> None:
    assert files_of("SF:a.c\nDA:1,1\n") == {"a.c": (1, 1, None, None)}


def test_crlf_trailing_spaces_and_unknown_records_are_tolerated() -> None:
    text = "TN:\r\nSF:a.c\r\nVER:1\r\nFNL:0,1,3\r\nMCDC:1,0,t,1,0,x\r\nDA:1,1\r\nend_of_record \r\n"
    assert files_of(text) == {"a.c": (1, 1, None, None)}


def test_stated_totals_contradicting_the_lines_are_warned_about_once() -> None:
    text = (
        "SF:a.c\nDA:1,1\nLF:5\nLH:1\nend_of_record\n"
        "SF:b.c\nDA:1,1\nLF:1\nLH:0\nBRF:3\nBRH:0\nend_of_record\n"
        "SF:c.c\nDA:1,1\nLF:2\nLH:2\nend_of_record\n"
    )
    assert lcov.parse(text.encode()).warnings == [
        "3 record(s) state LF/LH totals that contradict their own lines (first: a.c); "
        "the lines are used",
        "1 record(s) state BRF/BRH totals that contradict their own lines (first: b.c); "
        "the lines are used",
    ]


def test_stated_totals_counting_duplicate_entries_are_no_contradiction() -> None:
    # coverlet lists a line once per method on it (a property's get and set).
    text = "SF:a.cs\nDA:46,0\nDA:46,0\nDA:9,1\nLF:3\nLH:1\nend_of_record\n"
    parsed = lcov.parse(text.encode())
    assert (parsed.files[0].lines_valid, parsed.warnings) == (2, [])


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("SF:a.c\nDA:x,1\n", 2, "DA line number 'x'"),
        ("SF:a.c\nDA:1\n", 2, "DA needs"),
        ("SF:a.c\nDA:1,1\nDA:2,lots\n", 3, "DA hit count 'lots'"),
        ("SF:a.c\nBRDA:1,0,0\n", 2, "BRDA needs"),
        ("SF:a.c\nBRDA:1,0,0,some\n", 2, "BRDA taken count 'some'"),
        ("SF:a.c\nLF:three\n", 2, "stated total 'three'"),
        ("DA:1,1\n", 1, "outside a record"),
        ("SF:a.c\nthis is not lcov\n", 2, "not an LCOV line"),
    ],
)
def test_malformed_lines_are_refused_with_their_line_number(
    text: str, line: int, message: str
) -> None:
    with pytest.raises(MalformedReport, match=message) as caught:
        lcov.parse(text.encode())
    assert caught.value.line == line


@pytest.mark.parametrize("text", ["", "\n\n", "TN:\n"])
def test_no_records_is_empty(text: str) -> None:
    with pytest.raises(EmptyReport):
        lcov.parse(text.encode())


def test_a_large_report_keeps_every_file_and_count() -> None:
    # Speed is measured in bench/, never timed here; this checks the counts hold at size.
    records = []
    for number in range(500):
        records.append(f"SF:/home/ci/repo/src/pkg{number % 20}/file{number}.c")
        records.extend(f"DA:{line},{line % 3}" for line in range(1, 91))
        records.extend(f"BRDA:{line},0,{line % 2},{line}" for line in range(1, 11))
        records.append("end_of_record")
    parsed = lcov.parse("\n".join(records).encode())
    assert len(parsed.files) == 500
    assert all(f.lines_valid == 90 for f in parsed.files)
    assert all(f.lines_covered == 60 for f in parsed.files)
    assert all((f.branches_valid, f.branches_covered) == (10, 10) for f in parsed.files)
