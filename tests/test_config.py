"""config.py: every setting from the environment, read when a config is built."""

from __future__ import annotations

import pytest

from config import (
    Config,
    DevelopmentConfig,
    ProductionConfig,
    TestingConfig,
    normalise_database_url,
    selected_config_name,
)


def test_defaults_use_sqlite_in_the_instance_folder(tmp_path):
    config = DevelopmentConfig({"SUITESCOPE_INSTANCE_DIR": str(tmp_path)})
    assert f"sqlite:///{tmp_path / 'suitescope.db'}" == config.SQLALCHEMY_DATABASE_URI
    assert config.SUITESCOPE_MAX_UPLOAD_MB == 100
    assert config.MAX_CONTENT_LENGTH == 100 * 1024 * 1024
    assert config.SUITESCOPE_PRIVATE is False


def test_development_secret_is_generated_once_and_kept(tmp_path):
    first = DevelopmentConfig({"SUITESCOPE_INSTANCE_DIR": str(tmp_path)}).SECRET_KEY
    second = DevelopmentConfig({"SUITESCOPE_INSTANCE_DIR": str(tmp_path)}).SECRET_KEY
    assert first == second
    assert len(first) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_production_requires_a_secret_key(tmp_path):
    with pytest.raises(RuntimeError, match="SECRET_KEY must be set"):
        ProductionConfig({"SUITESCOPE_INSTANCE_DIR": str(tmp_path)})
    config = ProductionConfig({"SECRET_KEY": "s3cret", "DATABASE_URL": "postgres://db/x"})
    assert config.SECRET_KEY == "s3cret"
    assert config.SESSION_COOKIE_SECURE is True
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://db/x"


def test_settings_are_read_from_the_environment_given():
    env = {
        "SECRET_KEY": "k",
        "SUITESCOPE_MAX_UPLOAD_MB": "7",
        "SUITESCOPE_PRIVATE": "1",
        "SUITESCOPE_DEMO": "0",
        "SUITESCOPE_BASE_URL": "https://ci.example.org/",
    }
    config = Config(env)
    assert config.MAX_CONTENT_LENGTH == 7 * 1024 * 1024
    assert config.SUITESCOPE_PRIVATE is True
    assert config.SUITESCOPE_DEMO is False
    assert config.SUITESCOPE_BASE_URL == "https://ci.example.org"


def test_a_bad_number_is_reported_with_its_variable():
    with pytest.raises(RuntimeError, match="SUITESCOPE_MAX_UPLOAD_MB must be a whole number"):
        Config({"SECRET_KEY": "k", "SUITESCOPE_MAX_UPLOAD_MB": "lots"})


def test_testing_config_uses_test_database_url():
    assert TestingConfig({}).SQLALCHEMY_DATABASE_URI == "sqlite://"
    url = TestingConfig({"TEST_DATABASE_URL": "postgresql://h/db"}).SQLALCHEMY_DATABASE_URI
    assert url == "postgresql+psycopg://h/db"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_url_normalisation(given, expected):
    assert normalise_database_url(given) == expected


def test_selected_config_name():
    assert selected_config_name(environ={}) == "development"
    assert selected_config_name("production", environ={}) == "production"
    assert selected_config_name(environ={"SUITESCOPE_ENV": "testing"}) == "testing"


def test_rate_limits_default_to_memory_and_ci_friendly_limits():
    config = Config({"SECRET_KEY": "k"})
    assert config.RATELIMIT_ENABLED is True
    assert config.RATELIMIT_STORAGE_URI == "memory://"
    assert config.SUITESCOPE_RATELIMIT_UPLOADS == "600 per minute"
    assert config.SUITESCOPE_RATELIMIT_SIGNIN == "10 per minute"
    assert config.RATELIMIT_KEY_PREFIX == "suitescope"


def test_rate_limits_are_read_from_the_environment_given():
    config = Config(
        {
            "SECRET_KEY": "k",
            "SUITESCOPE_RATELIMIT_ENABLED": "0",
            "SUITESCOPE_RATELIMIT_STORAGE": " redis://127.0.0.1:6379/0 ",
            "SUITESCOPE_RATELIMIT_UPLOADS": "100 per minute; 2000 per hour",
            "SUITESCOPE_RATELIMIT_SIGNIN": "",
            "SUITESCOPE_RATELIMIT_KEY_PREFIX": " staging ",
        }
    )
    assert config.RATELIMIT_ENABLED is False
    assert config.RATELIMIT_KEY_PREFIX == "staging"
    assert config.RATELIMIT_STORAGE_URI == "redis://127.0.0.1:6379/0"
    assert config.SUITESCOPE_RATELIMIT_UPLOADS == "100 per minute; 2000 per hour"
    assert config.SUITESCOPE_RATELIMIT_SIGNIN == "", "empty turns that limit off"


def test_an_empty_storage_means_memory():
    assert Config(
        {"SECRET_KEY": "k", "SUITESCOPE_RATELIMIT_STORAGE": ""}
    ).RATELIMIT_STORAGE_URI == ("memory://")


def test_testing_config_switches_rate_limits_off_whatever_the_environment():
    assert TestingConfig({"SUITESCOPE_RATELIMIT_ENABLED": "1"}).RATELIMIT_ENABLED is False
