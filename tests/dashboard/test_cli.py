"""The suitescope command's projects and tokens groups."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import select

from dashboard.models import ApiToken
from tests.factories import ApiTokenFactory, ProjectFactory


def test_projects_create_and_list(runner, db_session):
    result = runner.invoke(args=["projects", "create", "web", "--name", "Web App"])
    assert result.exit_code == 0, result.output
    assert "created project web (Web App)" in result.output
    listing = runner.invoke(args=["projects", "list"])
    assert listing.output.splitlines() == ["web\tWeb App\tmain"]


def test_projects_list_when_empty_says_how_to_start(runner, db_session):
    result = runner.invoke(args=["projects", "list"])
    assert result.exit_code == 0
    assert "suitescope projects create SLUG" in result.output


def test_duplicate_slug_exits_2(runner, db_session):
    ProjectFactory(slug="web")
    result = runner.invoke(args=["projects", "create", "web"])
    assert result.exit_code == 2
    assert "already exists" in result.output


def test_invalid_slug_exits_2(runner, db_session):
    result = runner.invoke(args=["projects", "create", "Not A Slug"])
    assert result.exit_code == 2
    assert "invalid slug" in result.output


def test_tokens_create_stores_only_a_hash(runner, db_session):
    ProjectFactory(slug="web")
    result = runner.invoke(args=["tokens", "create", "web", "--name", "gha"])
    assert result.exit_code == 0, result.output
    secret = result.output.splitlines()[-1]
    assert secret.startswith("ss_")
    stored = db_session.scalars(select(ApiToken)).one()
    assert stored.token_hash == ApiToken.hash_token(secret)
    assert secret not in (stored.prefix, stored.token_hash, stored.name)


def test_tokens_create_quiet_prints_only_the_token(runner, db_session):
    ProjectFactory(slug="web")
    result = runner.invoke(args=["tokens", "create", "web", "--quiet"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("ss_")
    assert len(lines[0]) > 40


def test_tokens_list_and_revoke(runner, db_session):
    token = ApiTokenFactory(project=ProjectFactory(slug="web"), name="gha")
    listing = runner.invoke(args=["tokens", "list", "web"])
    assert f"{token.id}\t" in listing.output
    assert "active" in listing.output
    revoked = runner.invoke(args=["tokens", "revoke", "web", str(token.id)])
    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in runner.invoke(args=["tokens", "list", "web"]).output


def test_revoking_another_projects_token_exits_2(runner, db_session):
    ProjectFactory(slug="web")
    other = ApiTokenFactory(project=ProjectFactory(slug="api"))
    result = runner.invoke(args=["tokens", "revoke", "web", str(other.id)])
    assert result.exit_code == 2
    assert "has no token" in result.output


def test_unknown_project_exits_2(runner, db_session):
    for args in (["tokens", "create", "nope"], ["tokens", "list", "nope"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 2
        assert "no project with slug 'nope'" in result.output


def test_console_script_shows_flask_and_suitescope_commands(tmp_path):
    env = {"SUITESCOPE_ENV": "testing", "PATH": "", "SUITESCOPE_INSTANCE_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", "from dashboard.cli import main; main()", "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for command in ("run", "db", "shell", "projects", "tokens"):
        assert f"  {command}" in done.stdout
