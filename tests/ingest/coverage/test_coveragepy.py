"""coverage.py JSON reports."""

from __future__ import annotations

import json

import pytest

from ingest.coverage import coveragepy
from ingest.errors import EmptyReport, MalformedReport, UnsupportedFormat


def summary(statements: int, covered: int, branches: int | None = None, taken: int = 0) -> dict:
    fields = {"num_statements": statements, "covered_lines": covered, "percent_covered": 0.0}
    if branches is not None:
        fields |= {"num_branches": branches, "covered_branches": taken}
    return {"executed_lines": [], "missing_lines": [], "summary": fields}


def report(files: dict, *, branch: bool, totals: dict | None = None) -> bytes:
    document: dict = {"meta": {"version": "7.6.1", "branch_coverage": branch}, "files": files}
    if totals is not None:
        document["totals"] = totals
    return json.dumps(document).encode()


def files_of(data: bytes) -> dict[str, tuple]:
    return {
        f.path: (f.lines_valid, f.lines_covered, f.branches_valid, f.branches_covered)
        for f in coveragepy.parse(data).files
    }


def test_branch_coverage_true_gives_branch_counts_even_zero() -> None:
    data = report({"a.py": summary(5, 3, 4, 2), "b.py": summary(1, 1, 0, 0)}, branch=True)
    assert files_of(data) == {"a.py": (5, 3, 4, 2), "b.py": (1, 1, 0, 0)}
    assert coveragepy.parse(data).format == "coveragepy-json"


def test_without_branch_coverage_branches_are_none() -> None:
    data = report({"a.py": summary(5, 3)}, branch=False)
    assert files_of(data) == {"a.py": (5, 3, None, None)}


def test_branch_fields_are_ignored_when_meta_says_no_branch_coverage() -> None:
    data = report({"a.py": summary(5, 3, 0, 0)}, branch=False)
    assert files_of(data) == {"a.py": (5, 3, None, None)}


def test_absolute_paths_are_made_relative() -> None:
    data = report({"/home/runner/work/kv/kv/kv/store.py": summary(1, 1)}, branch=False)
    assert list(files_of(data)) == ["kv/store.py"]


def test_totals_contradicting_the_files_are_warned_about() -> None:
    totals = {"num_statements": 9, "covered_lines": 9, "num_branches": 4, "covered_branches": 2}
    data = report({"a.py": summary(5, 3, 4, 2)}, branch=True, totals=totals)
    assert coveragepy.parse(data).warnings == [
        "the report states 9 of 9 statements covered, but its per-line data gives 3 of 5; "
        "the per-line data is used"
    ]


def test_odd_totals_are_ignored() -> None:
    data = report({"a.py": summary(5, 3)}, branch=False, totals={"num_statements": "lots"})
    assert coveragepy.parse(data).warnings == []


def test_a_byte_order_mark_is_accepted() -> None:
    data = b"\xef\xbb\xbf" + report({"a.py": summary(1, 0)}, branch=False)
    assert files_of(data) == {"a.py": (1, 0, None, None)}


def test_bad_json_is_malformed_with_line_and_column() -> None:
    with pytest.raises(MalformedReport) as caught:
        coveragepy.parse(b'{"files": {\n  "a.py": }\n}')
    assert (caught.value.line, caught.value.column) == (2, 11)


def test_an_old_coverage_data_file_is_malformed_json() -> None:
    data = b'!coverage.py: This is a private format, don\'t read it directly!{"lines": {}}'
    with pytest.raises(MalformedReport) as caught:
        coveragepy.parse(data)
    assert (caught.value.line, caught.value.column) == (1, 1)


def test_bytes_that_are_not_utf8_are_malformed() -> None:
    with pytest.raises(MalformedReport, match="UTF-8"):
        coveragepy.parse(b'{"files": "\xff"}')


@pytest.mark.parametrize("document", [[], {"lines": {}}, {"files": []}])
def test_json_without_a_files_object_is_not_a_coverage_py_report(document) -> None:
    with pytest.raises(UnsupportedFormat):
        coveragepy.parse(json.dumps(document).encode())


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"executed_lines": [1]}, "no summary"),
        ({"summary": {"num_statements": -1, "covered_lines": 0}}, "num_statements is -1"),
        ({"summary": {"num_statements": True, "covered_lines": 0}}, "num_statements is True"),
        ({"summary": {"num_statements": 2, "covered_lines": 3}}, "exceeds"),
    ],
)
def test_bad_summaries_are_malformed(entry: dict, message: str) -> None:
    with pytest.raises(MalformedReport, match=message):
        coveragepy.parse(json.dumps({"meta": {}, "files": {"a.py": entry}}).encode())


def test_missing_branch_counts_are_malformed_when_branch_coverage_is_on() -> None:
    with pytest.raises(MalformedReport, match="num_branches"):
        coveragepy.parse(report({"a.py": summary(1, 1)}, branch=True))


def test_no_files_is_empty() -> None:
    with pytest.raises(EmptyReport):
        coveragepy.parse(report({}, branch=False))
