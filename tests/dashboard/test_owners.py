"""Owners of a test from CODEOWNERS-style rules (GitHub's matching)."""

from __future__ import annotations

import pytest

from dashboard.owners import case_owners, case_path, owners_of, pattern_regex

RULES = """\
# The last matching line wins.
*               @everyone
*.js            @web
/docs/          @docs
apps/           @apps
docs/*          docs@example.com
/build/logs     @ops
**/fixtures     @qa
tests/api/**    @api-team @org/backend
"""


@pytest.mark.parametrize(
    ("path", "owners"),
    [
        ("README.md", ("@everyone",)),
        ("web/app.js", ("@web",)),
        ("src/deep/nested/app.js", ("@web",)),
        ("docs/index.md", ("docs@example.com",)),  # docs/* is later than /docs/
        ("docs/guide/setup.md", ("@docs",)),  # docs/* stays at its level
        ("apps/web/main.py", ("@apps",)),
        ("src/apps/main.py", ("@apps",)),  # no slash inside: any depth
        ("build/logs/today.txt", ("@ops",)),
        ("sub/build/logs/today.txt", ("@everyone",)),  # anchored at the root
        ("tests/fixtures/data.json", ("@qa",)),
        ("fixtures/data.json", ("@qa",)),
        ("tests/api/test_users.py", ("@api-team", "@org/backend")),
        ("./tests/api/v2/test_x.py", ("@api-team", "@org/backend")),
        ("tests\\api\\test_win.py", ("@api-team", "@org/backend")),
    ],
)
def test_the_last_matching_rule_names_the_owners(path, owners):
    assert owners_of(path, RULES) == owners


def test_no_rules_no_match_no_path_mean_no_owners():
    assert owners_of("src/app.py", None) == ()
    assert owners_of("src/app.py", "docs/ @docs") == ()
    assert owners_of("", "* @everyone") == ()


def test_invalid_lines_are_skipped():
    # The settings page refuses them; a stored file read here must not break the review.
    assert owners_of("a.py", "*.py @py\n!a.py @nobody\nsrc/[ab].py @x") == ("@py",)


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*.py", "a.py", True),
        ("*.py", "pkg/a.py", True),
        ("/*.py", "pkg/a.py", False),
        ("pkg/?.py", "pkg/a.py", True),
        ("pkg/?.py", "pkg/ab.py", False),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("docs/", "docs", False),  # a directory pattern needs something inside
        ("logs", "app/logs/x.log", True),
    ],
)
def test_pattern_semantics(pattern, path, matches):
    assert bool(pattern_regex(pattern).match(path)) is matches


def test_a_tests_file_comes_from_its_classname_when_the_report_gave_none():
    assert case_path("tests/test_a.py", "tests.test_a.TestX") == "tests/test_a.py"
    assert case_path("", "tests.api.test_users.TestLogin") == "tests/api/test_users.py"
    assert case_path("", "") == ""
    assert case_path("", "com.example.FooTest") == ""  # not a pytest module
    assert case_owners("", "tests.api.test_users", RULES) == ("@api-team", "@org/backend")
