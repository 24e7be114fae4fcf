"""JaCoCo XML: per-sourcefile lines and branches."""

from __future__ import annotations

import pytest

from ingest.coverage import jacoco
from ingest.errors import EmptyReport, MalformedReport, UnsupportedFormat
from ingest.xmlsafe import parse_xml


def report(body: str) -> bytes:
    return f'<?xml version="1.0"?>\n<report name="r">\n{body}\n</report>\n'.encode()


def files_of(data: bytes) -> dict[str, tuple]:
    return {
        f.path: (f.lines_valid, f.lines_covered, f.branches_valid, f.branches_covered)
        for f in jacoco.parse(data).files
    }


def test_parse_root_takes_a_root_from_parse_xml() -> None:
    root = parse_xml(report('<package name="a/b"><sourcefile name="C.java"/></package>'))
    parsed = jacoco.parse_root(root)
    assert parsed.format == "jacoco"
    assert [f.path for f in parsed.files] == ["a/b/C.java"]


def test_lines_with_instruction_counts_give_lines_and_branches() -> None:
    data = report(
        '<package name="com/acme"><sourcefile name="Cart.java">'
        '<line nr="7" mi="0" ci="4" mb="0" cb="0"/>'
        '<line nr="9" mi="2" ci="6" mb="1" cb="3"/>'
        '<line nr="11" mi="5" ci="0" mb="0" cb="0"/>'
        "</sourcefile></package>"
    )
    assert files_of(data) == {"com/acme/Cart.java": (3, 2, 4, 3)}


def test_a_file_without_branch_counter_has_zero_branches_not_none() -> None:
    # JaCoCo records branches; it omits the BRANCH counter where there are none.
    data = report(
        '<package name="p"><sourcefile name="Item.java">'
        '<line nr="3" mi="3" ci="0" mb="0" cb="0"/>'
        '<counter type="LINE" missed="1" covered="0"/>'
        "</sourcefile></package>"
    )
    assert files_of(data) == {"p/Item.java": (1, 0, 0, 0)}


def test_lines_without_instruction_counts_fall_back_to_the_counters() -> None:
    # gcovr --jacoco writes <line nr> alone, and lists a line once per function.
    data = report(
        '<package name=""><sourcefile name="main.cpp">'
        '<line nr="8"/><line nr="10"/><line nr="10"/><line nr="12" mb="2" cb="2"/>'
        '<counter type="LINE" missed="1" covered="3"/>'
        '<counter type="BRANCH" missed="2" covered="2"/>'
        "</sourcefile></package>"
    )
    assert files_of(data) == {"main.cpp": (4, 3, 4, 2)}


def test_packages_inside_groups_are_found() -> None:
    data = report(
        '<group name="core"><group name="inner"><package name="a">'
        '<sourcefile name="A.java"><counter type="LINE" missed="0" covered="1"/></sourcefile>'
        "</package></group></group>"
    )
    assert list(files_of(data)) == ["a/A.java"]


def test_the_same_file_in_two_groups_sums_up() -> None:
    sourcefile = (
        '<package name="a"><sourcefile name="A.java">'
        '<counter type="LINE" missed="1" covered="1"/></sourcefile></package>'
    )
    data = report(f'<group name="one">{sourcefile}</group><group name="two">{sourcefile}</group>')
    assert files_of(data) == {"a/A.java": (4, 2, 0, 0)}


def test_report_counters_contradicting_the_files_are_warned_about() -> None:
    data = report(
        '<package name="p"><sourcefile name="A.java">'
        '<line nr="1" mi="0" ci="1"/><line nr="2" mi="1" ci="0"/>'
        '<counter type="LINE" missed="1" covered="1"/>'
        "</sourcefile></package>"
        '<counter type="LINE" missed="3" covered="9"/>'
    )
    assert jacoco.parse(data).warnings == [
        "the report states 9 of 12 lines covered, but its per-line data gives 1 of 2; "
        "the per-line data is used"
    ]


def test_sourcefile_counters_contradicting_its_lines_lose_to_the_lines() -> None:
    data = report(
        '<package name="p"><sourcefile name="A.java">'
        '<line nr="1" mi="0" ci="1"/>'
        '<counter type="LINE" missed="5" covered="5"/>'
        "</sourcefile></package>"
        '<counter type="LINE" missed="5" covered="5"/>'
    )
    parsed = jacoco.parse(data)
    assert files_of(data) == {"p/A.java": (1, 1, 0, 0)}
    assert len(parsed.warnings) == 1


@pytest.mark.parametrize(
    ("element", "message"),
    [
        ('<line nr="one" mi="0" ci="1"/>', "nr='one'"),
        ('<line nr="1" mi="0" ci="-1"/>', "ci='-1'"),
        ('<counter type="LINE" missed="1"/>', "no covered attribute"),
    ],
)
def test_malformed_numbers_are_refused_at_their_line(element: str, message: str) -> None:
    data = report(
        f'<package name="p"><sourcefile name="A.java">\n{element}\n</sourcefile></package>'
    )
    with pytest.raises(MalformedReport, match=message) as caught:
        jacoco.parse(data)
    assert caught.value.line == 4


def test_a_sourcefile_without_name_is_malformed() -> None:
    with pytest.raises(MalformedReport, match="no name"):
        jacoco.parse(report('<package name="p"><sourcefile/></package>'))


def test_a_report_without_sourcefiles_is_empty() -> None:
    with pytest.raises(EmptyReport):
        jacoco.parse(report('<package name="p"><class name="p/A"/></package>'))


def test_an_ant_build_file_is_not_a_jacoco_report() -> None:
    with pytest.raises(UnsupportedFormat, match="<project>"):
        jacoco.parse(b'<project name="JaCoCo"><target name="report"/></project>')
