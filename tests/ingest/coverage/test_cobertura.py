"""Cobertura XML: per-file lines and branches, merged across classes."""

from __future__ import annotations

import pytest

from ingest.coverage import cobertura
from ingest.errors import EmptyReport, MalformedReport, UnsupportedFormat
from ingest.xmlsafe import parse_xml


def report(classes: str, attributes: str = "", sources: str = "") -> bytes:
    return (
        f'<?xml version="1.0" ?>\n<coverage {attributes}>\n'
        f"<sources>{sources}</sources>\n"
        f'<packages><package name="p"><classes>\n{classes}\n</classes></package></packages>\n'
        "</coverage>\n"
    ).encode()


def files_of(data: bytes) -> dict[str, tuple]:
    parsed = cobertura.parse(data)
    return {
        f.path: (f.lines_valid, f.lines_covered, f.branches_valid, f.branches_covered)
        for f in parsed.files
    }


def test_parse_root_takes_a_root_from_parse_xml() -> None:
    root = parse_xml(
        report('<class filename="a.py"><lines><line number="1" hits="1"/></lines></class>')
    )
    parsed = cobertura.parse_root(root)
    assert parsed.format == "cobertura"
    assert [f.path for f in parsed.files] == ["a.py"]


def test_without_any_condition_coverage_branches_are_none() -> None:
    data = report(
        '<class filename="a.py" branch-rate="0"><lines>'
        '<line number="1" hits="1"/><line number="2" hits="0" branch="false"/>'
        "</lines></class>",
        attributes='branch-rate="0" branches-valid="0" branches-covered="0"',
    )
    assert files_of(data) == {"a.py": (2, 1, None, None)}
    assert cobertura.parse(data).warnings == []


def test_with_condition_coverage_a_file_without_branches_has_zero() -> None:
    data = report(
        '<class filename="a.py"><lines>'
        '<line number="1" hits="1" branch="true" condition-coverage="50% (1/2)"/>'
        "</lines></class>"
        '<class filename="b.py"><lines><line number="1" hits="1"/></lines></class>'
    )
    assert files_of(data) == {"a.py": (1, 1, 2, 1), "b.py": (1, 1, 0, 0)}


def test_classes_sharing_a_file_merge_lines_by_number_with_the_highest_hits() -> None:
    data = report(
        '<class name="A" filename="x.cs"><lines>'
        '<line number="1" hits="0"/><line number="2" hits="0"/>'
        "</lines></class>"
        '<class name="A.B" filename="x.cs"><lines>'
        '<line number="2" hits="4" branch="True" condition-coverage="100% (2/2)"/>'
        '<line number="3" hits="0"/>'
        "</lines></class>"
    )
    assert files_of(data) == {"x.cs": (3, 1, 2, 2)}


def test_class_lines_are_used_and_method_lines_ignored_when_both_exist() -> None:
    # istanbul lists a function's start line under its method only.
    data = report(
        '<class filename="a.ts"><methods><method name="f"><lines>'
        '<line number="1" hits="0"/></lines></method></methods>'
        '<lines><line number="2" hits="1"/></lines></class>'
    )
    assert files_of(data) == {"a.ts": (1, 1, None, None)}


def test_method_lines_are_used_when_a_class_has_none() -> None:
    # Swift converters: no <classes> wrapper, lines under methods only.
    data = (
        b'<coverage><packages><package name="p">'
        b'<class filename="App/S.swift"><methods>'
        b'<method name="a"><lines><line number="5" hits="1"/></lines></method>'
        b'<method name="b"><lines><line number="9" hits="0"/></lines></method>'
        b"</methods></class></package></packages></coverage>"
    )
    assert files_of(data) == {"App/S.swift": (2, 1, None, None)}


def test_absolute_filenames_lose_the_source_root() -> None:
    data = report(
        '<class filename="C:\\Work\\App\\Util\\Clock.cs"><lines><line number="1" hits="1"/>'
        "</lines></class>",
        sources="<source>c:\\Work\\App</source><source>--source</source>",
    )
    assert list(files_of(data)) == ["Util/Clock.cs"]


def test_stated_totals_contradicting_the_lines_are_warned_about() -> None:
    data = report(
        '<class filename="a.py"><lines><line number="1" hits="1"/><line number="2" hits="0"/>'
        "</lines></class>",
        attributes='lines-valid="10" lines-covered="7"',
    )
    parsed = cobertura.parse(data)
    assert (parsed.files[0].lines_valid, parsed.files[0].lines_covered) == (2, 1)
    assert parsed.warnings == [
        "the report states 7 of 10 lines covered, but its per-line data gives 1 of 2; "
        "the per-line data is used"
    ]


def test_stated_totals_counting_duplicate_entries_are_no_contradiction() -> None:
    # gcovr lists a line once per function instance and counts it so.
    data = report(
        '<class filename="a.cpp"><lines>'
        '<line number="10" hits="0"/><line number="10" hits="3"/><line number="11" hits="0"/>'
        "</lines></class>",
        attributes='lines-valid="3" lines-covered="1"',
    )
    parsed = cobertura.parse(data)
    assert files_of(data) == {"a.cpp": (2, 1, None, None)}
    assert parsed.warnings == []


def test_stated_branches_without_any_per_line_data_stay_none_with_a_warning() -> None:
    data = report(
        '<class filename="a.ts"><lines><line number="1" hits="1" branch="false"/></lines></class>',
        attributes='branches-valid="29" branches-covered="3"',
    )
    parsed = cobertura.parse(data)
    assert parsed.files[0].branches_valid is None
    assert parsed.warnings == [
        "the report's branches-valid is 29, but no line carries condition-coverage; "
        "branch coverage is not recorded"
    ]


def test_stated_branches_contradicting_the_lines_are_warned_about() -> None:
    data = report(
        '<class filename="a.py"><lines>'
        '<line number="1" hits="1" branch="true" condition-coverage="50% (1/2)"/>'
        "</lines></class>",
        attributes='branches-valid="4" branches-covered="1"',
    )
    assert cobertura.parse(data).warnings == [
        "the report states 1 of 4 branches covered, but its per-line data gives 1 of 2; "
        "the per-line data is used"
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('<line number="x1" hits="1"/>', "number='x1' is not a whole number"),
        ('<line number="-3" hits="1"/>', "number='-3' is not a whole number"),
        ('<line hits="1"/>', "has no number attribute"),
        ('<line number="1" hits="many"/>', "hits='many'"),
        ('<line number="1" hits="1" condition-coverage="50%"/>', "does not give"),
        ('<line number="1" hits="1" condition-coverage="150% (3/2)"/>', "more branches"),
    ],
)
def test_malformed_lines_are_refused_at_their_line(line: str, message: str) -> None:
    data = report(f'<class filename="a.py"><lines>\n{line}\n</lines></class>')
    with pytest.raises(MalformedReport, match=message) as caught:
        cobertura.parse(data)
    assert caught.value.line == 6


def test_a_class_without_filename_is_malformed() -> None:
    with pytest.raises(MalformedReport, match="no filename"):
        cobertura.parse(report('<class name="A"><lines/></class>'))


def test_broken_xml_is_malformed_with_line_and_column() -> None:
    with pytest.raises(MalformedReport) as caught:
        cobertura.parse(b'<coverage>\n<packages><package name="p"></packages>\n</coverage>')
    assert (caught.value.line, caught.value.column) == (2, 40)


def test_a_report_without_classes_is_empty() -> None:
    with pytest.raises(EmptyReport):
        cobertura.parse(b'<coverage line-rate="0"><packages/></coverage>')


def test_a_class_without_lines_is_a_file_with_no_lines() -> None:
    assert files_of(report('<class filename="kv/__init__.py"><methods/><lines/></class>')) == {
        "kv/__init__.py": (0, 0, None, None)
    }


def test_another_root_element_is_not_cobertura() -> None:
    with pytest.raises(UnsupportedFormat, match="<report>"):
        cobertura.parse(b"<report/>")
