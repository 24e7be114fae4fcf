"""Clover XML: statements per file, conditionals as branches."""

from __future__ import annotations

import pytest

from ingest.coverage import clover
from ingest.errors import EmptyReport, MalformedReport, UnsupportedFormat
from ingest.xmlsafe import parse_xml


def report(files: str, project_metrics: str = "") -> bytes:
    return (
        '<?xml version="1.0"?>\n<coverage generated="1">\n<project timestamp="1">\n'
        f"{project_metrics}\n{files}\n</project>\n</coverage>\n"
    ).encode()


def files_of(data: bytes) -> dict[str, tuple]:
    return {
        f.path: (f.lines_valid, f.lines_covered, f.branches_valid, f.branches_covered)
        for f in clover.parse(data).files
    }


def test_parse_root_takes_a_root_from_parse_xml() -> None:
    root = parse_xml(report('<file name="a.php"><line num="1" type="stmt" count="1"/></file>'))
    parsed = clover.parse_root(root)
    assert parsed.format == "clover"
    assert [f.path for f in parsed.files] == ["a.php"]


def test_statement_lines_count_once_per_line_and_methods_do_not_count() -> None:
    data = report(
        '<package name="p"><file name="shape.cpp" path="src/shape.cpp">'
        '<line num="7" type="method" count="3"/>'
        '<line num="8" type="stmt" count="3"/>'
        '<line num="10" type="stmt" count="0"/><line num="10" type="stmt" count="3"/>'
        '<line num="11" type="stmt" count="0"/>'
        "</file></package>"
    )
    assert files_of(data) == {"src/shape.cpp": (3, 2, None, None)}


def test_cond_lines_give_two_branches_each() -> None:
    data = report(
        '<file name="A.java">'
        '<line num="6" type="stmt" count="3"/>'
        '<line num="6" type="cond" truecount="2" falsecount="0"/>'
        "</file>"
        '<file name="B.java"><line num="1" type="stmt" count="1"/></file>'
    )
    assert files_of(data) == {"A.java": (1, 1, 2, 1), "B.java": (1, 1, 0, 0)}


def test_zero_conditionals_everywhere_means_no_branch_data() -> None:
    # PHPUnit writes conditionals="0" because it records no branches.
    data = report(
        '<file name="a.php"><metrics conditionals="0" coveredconditionals="0" statements="1"'
        ' coveredstatements="1"/><line num="1" type="stmt" count="1"/></file>',
        project_metrics='<metrics conditionals="0" coveredconditionals="0" statements="1"'
        ' coveredstatements="1"/>',
    )
    assert files_of(data) == {"a.php": (1, 1, None, None)}


def test_a_file_without_lines_falls_back_to_its_metrics() -> None:
    data = report(
        '<file name="a.java"><metrics statements="4" coveredstatements="1"'
        ' conditionals="2" coveredconditionals="2"/></file>'
    )
    assert files_of(data) == {"a.java": (4, 1, 2, 2)}


def test_testproject_files_are_left_out() -> None:
    data = (
        b'<coverage><project><file name="src/A.java"><line num="1" type="stmt" count="1"/>'
        b'</file></project><testproject><file name="test/ATest.java">'
        b'<line num="1" type="stmt" count="1"/></file></testproject></coverage>'
    )
    assert list(files_of(data)) == ["src/A.java"]


def test_path_is_preferred_to_name_and_absolute_paths_lose_their_common_directory() -> None:
    data = report(
        '<file name="A.java" path="C:\\b\\src\\pkg\\A.java"><line num="1" type="stmt" count="1"/>'
        '</file><file name="B.java" path="C:\\b\\src\\pkg\\sub\\B.java">'
        '<line num="1" type="stmt" count="0"/></file>'
    )
    assert list(files_of(data)) == ["A.java", "sub/B.java"]


def test_project_metrics_contradicting_the_lines_are_warned_about() -> None:
    data = report(
        '<file name="a.php"><line num="1" type="stmt" count="1"/>'
        '<line num="2" type="stmt" count="1"/></file>',
        project_metrics='<metrics statements="18" coveredstatements="0"/>',
    )
    assert clover.parse(data).warnings == [
        "the report states 0 of 18 statements covered, but its per-line data gives 2 of 2; "
        "the per-line data is used"
    ]


def test_project_metrics_counting_duplicate_statements_are_no_contradiction() -> None:
    data = report(
        '<file name="a.cpp"><line num="10" type="stmt" count="0"/>'
        '<line num="10" type="stmt" count="3"/></file>',
        project_metrics='<metrics statements="2" coveredstatements="1"/>',
    )
    assert clover.parse(data).warnings == []


def test_project_conditionals_without_any_cond_line_stay_none_with_a_warning() -> None:
    data = report(
        '<file name="a.java"><line num="1" type="stmt" count="1"/></file>',
        project_metrics='<metrics statements="1" coveredstatements="1" conditionals="4"'
        ' coveredconditionals="2"/>',
    )
    parsed = clover.parse(data)
    assert parsed.files[0].branches_valid is None
    assert parsed.warnings == [
        "the project's metrics count 4 conditionals, but no file lists one; "
        "branch coverage is not recorded"
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('<line num="7a" type="stmt" count="1"/>', "num='7a'"),
        ('<line num="7" type="stmt"/>', "no count attribute"),
        ('<line num="7" type="cond" truecount="1" falsecount="x"/>', "falsecount='x'"),
    ],
)
def test_malformed_lines_are_refused_at_their_line(line: str, message: str) -> None:
    with pytest.raises(MalformedReport, match=message) as caught:
        clover.parse(report(f'<file name="a.java">\n{line}\n</file>'))
    assert caught.value.line == 6


def test_a_file_without_path_or_name_is_malformed() -> None:
    with pytest.raises(MalformedReport, match="neither path nor name"):
        clover.parse(report("<file/>"))


def test_a_project_without_files_is_empty() -> None:
    with pytest.raises(EmptyReport):
        clover.parse(report("", project_metrics='<metrics statements="0"/>'))


def test_a_zero_byte_file_is_empty() -> None:
    with pytest.raises(EmptyReport):
        clover.parse(b"")


def test_a_coverage_root_without_project_is_not_clover() -> None:
    with pytest.raises(UnsupportedFormat, match="no <project>"):
        clover.parse(b"<coverage><packages/></coverage>")
