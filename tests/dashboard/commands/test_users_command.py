"""``suitescope users``: create, list, delete, set-password."""

from __future__ import annotations

from sqlalchemy import select

from dashboard.access import password_matches
from dashboard.models import User
from tests.factories import UserFactory

PASSWORD = "correct horse"


def stored(db_session, username: str) -> User:
    db_session.expire_all()
    return db_session.scalars(select(User).where(User.username == username)).one()


def test_create_prompts_twice_with_hidden_input_and_stores_a_hash(runner, db_session):
    result = runner.invoke(args=["users", "create", "alice"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "created user alice" in result.output
    assert result.output.count("Password") == 1
    assert "Repeat for confirmation" in result.output
    assert PASSWORD not in result.output
    user = stored(db_session, "alice")
    assert user.is_admin is False
    assert user.password_hash.startswith("scrypt:")
    assert password_matches(user, PASSWORD)


def test_create_admin_from_stdin(runner, db_session):
    result = runner.invoke(
        args=["users", "create", "root", "--admin", "--password-stdin"], input=f"{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert "created admin root" in result.output
    user = stored(db_session, "root")
    assert user.is_admin is True
    assert password_matches(user, PASSWORD)


def test_create_refuses_a_short_password(runner, db_session):
    result = runner.invoke(args=["users", "create", "bob", "--password-stdin"], input="short77\n")
    assert result.exit_code == 2
    assert "at least 8 characters" in result.output
    assert db_session.scalars(select(User)).all() == []


def test_create_refuses_a_duplicate_name_before_asking_for_a_password(runner, db_session):
    UserFactory(username="alice")
    db_session.commit()
    result = runner.invoke(args=["users", "create", "alice"], input="")
    assert result.exit_code == 2
    assert "already exists" in result.output
    assert "Password" not in result.output


def test_create_refuses_an_invalid_name(runner, db_session):
    result = runner.invoke(
        args=["users", "create", "no spaces", "--password-stdin"], input=f"{PASSWORD}\n"
    )
    assert result.exit_code == 2
    assert "invalid user name" in result.output


def test_list_shows_names_and_roles(runner, db_session):
    UserFactory(username="zed")
    UserFactory(username="ann", is_admin=True)
    db_session.commit()
    result = runner.invoke(args=["users", "list"])
    assert result.exit_code == 0
    rows = [line.split("\t")[:2] for line in result.output.splitlines()]
    assert rows == [["ann", "admin"], ["zed", "user"]]


def test_list_when_empty_says_how_to_start(runner, db_session):
    result = runner.invoke(args=["users", "list"])
    assert "suitescope users create NAME --admin" in result.output


def test_delete(runner, db_session):
    UserFactory(username="alice")
    db_session.commit()
    result = runner.invoke(args=["users", "delete", "alice"])
    assert result.exit_code == 0, result.output
    assert db_session.scalars(select(User)).all() == []


def test_delete_unknown_user_exits_2(runner, db_session):
    result = runner.invoke(args=["users", "delete", "ghost"])
    assert result.exit_code == 2
    assert "no user called 'ghost'" in result.output


def test_set_password(runner, db_session):
    UserFactory(username="alice")
    db_session.commit()
    result = runner.invoke(
        args=["users", "set-password", "alice"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert password_matches(stored(db_session, "alice"), PASSWORD)


def test_set_password_refuses_a_short_one(runner, db_session):
    UserFactory(username="alice", password_hash="unchanged")
    db_session.commit()
    result = runner.invoke(
        args=["users", "set-password", "alice", "--password-stdin"], input="tiny\n"
    )
    assert result.exit_code == 2
    assert stored(db_session, "alice").password_hash == "unchanged"


def test_set_password_of_unknown_user_exits_2(runner, db_session):
    result = runner.invoke(args=["users", "set-password", "ghost", "--password-stdin"], input="x")
    assert result.exit_code == 2
