"""Checking a project's settings, and reading its owners file."""

from __future__ import annotations

import pytest

from dashboard import project_settings
from dashboard.project_settings import OwnerRule, parse_owners, validate_settings
from tests.factories import ProjectFactory


@pytest.mark.parametrize(
    ("field", "raw", "value"),
    [
        ("name", "  Web App ", "Web App"),
        ("default_branch", "release/2.x", "release/2.x"),
        ("timezone", "America/New_York", "America/New_York"),
        ("timezone", "UTC", "UTC"),
        ("flip_rate_threshold", "0", 0.0),
        ("flip_rate_threshold", "1", 1.0),
        ("min_executions", " 2 ", 2),
        ("regression_pct", "0.5", 0.5),
        ("regression_min_ms", "0", 0.0),
        ("branch_coverage_threshold", "0.85", 0.85),
        ("owners", "", None),
        ("owners", "  \n# only a comment\n", "# only a comment"),
    ],
)
def test_accepted_values(field, raw, value):
    assert validate_settings({field: raw}) == ({field: value}, {})


@pytest.mark.parametrize(
    ("field", "raw", "message"),
    [
        ("name", "   ", "Give the project a name."),
        ("name", "x" * 201, "At most 200 characters."),
        ("default_branch", "", "Name the default branch."),
        ("default_branch", "my branch", "no spaces"),
        ("timezone", "Europe/Atlantis", "Unknown time zone"),
        ("timezone", "localtime", "Unknown time zone"),
        ("timezone", "../../etc/passwd", "Unknown time zone"),
        ("flip_rate_threshold", "1.01", "from 0 to 1"),
        ("flip_rate_threshold", "-0.1", "from 0 to 1"),
        ("flip_rate_threshold", "nan", "Enter a number."),
        ("flip_rate_threshold", "ten", "Enter a number."),
        ("min_executions", "1", "at least 2"),
        ("min_executions", "2.5", "at least 2"),
        ("regression_pct", "0", "above 0"),
        ("regression_pct", "inf", "Enter a number."),
        ("regression_min_ms", "-1", "0 or more"),
        ("branch_coverage_threshold", "80", "from 0 to 1"),
        ("owners", "x" * 20_001, "At most 20000 characters."),
    ],
)
def test_refused_values(field, raw, message):
    values, errors = validate_settings({field: raw})
    assert values == {}
    assert message in errors[field]


def test_fields_left_out_stay_as_they_are_and_unknown_keys_are_ignored():
    assert validate_settings({"csrf_token": "x", "name": "Web"}) == ({"name": "Web"}, {})


def test_update_saves_nothing_when_any_field_is_wrong(db_session):
    project = ProjectFactory(name="Before")
    errors = project_settings.update_settings(project, {"name": "After", "min_executions": "0"})
    assert set(errors) == {"min_executions"}
    assert project.name == "Before"


def test_update_saves_every_valid_field(db_session):
    project = ProjectFactory()
    changes = {"name": "After", "timezone": "Asia/Tokyo"}
    assert project_settings.update_settings(project, changes) == {}
    db_session.expire_all()
    assert (project.name, project.timezone) == ("After", "Asia/Tokyo")


def test_settings_values_show_numbers_without_float_noise(db_session):
    project = ProjectFactory(regression_pct=25.0, regression_min_ms=1234567.0)
    values = project_settings.settings_values(project)
    assert values["regression_pct"] == "25"
    assert values["regression_min_ms"] == "1234567"
    assert values["flip_rate_threshold"] == "0.1"
    assert values["owners"] == ""


def test_parse_owners_reads_rules_and_skips_comments():
    text = "# owners\n\nsrc/api/   @acme/backend  @bob\n*.md docs@example.com\n"
    assert parse_owners(text).rules == [
        OwnerRule(3, "src/api/", ("@acme/backend", "@bob")),
        OwnerRule(4, "*.md", ("docs@example.com",)),
    ]
    assert parse_owners(None).rules == []


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("src/", "needs at least one owner"),
        ("src/ bob", "'bob' is not an owner"),
        ("src/ @", "'@' is not an owner"),
        ("!src/ @bob", "not supported"),
        ("src/[ab]/ @bob", "not supported"),
    ],
)
def test_parse_owners_reports_bad_lines_by_number(line, message):
    parsed = parse_owners(f"* @alice\n{line}\n")
    assert len(parsed.rules) == 1
    assert parsed.errors[0].startswith("line 2: ")
    assert message in parsed.errors[0]


def test_many_bad_owner_lines_are_summarised():
    _, errors = validate_settings({"owners": "a\nb\nc\nd\ne\nf\ng\n"})
    assert errors["owners"].count("line ") == 5
    assert errors["owners"].endswith("and 2 more")


def test_token_names():
    assert project_settings.parse_token_name("  ci ") == "ci"
    with pytest.raises(project_settings.InvalidSetting):
        project_settings.parse_token_name("x" * 201)
