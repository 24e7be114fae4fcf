"""create_app: config by name, class, instance or mapping of overrides."""

from __future__ import annotations

import importlib

import pytest

from config import ProductionConfig, TestingConfig
from dashboard import create_app


def test_config_by_name(monkeypatch):
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    app = create_app("testing")
    assert app.testing is True
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite://"


def test_config_by_class():
    assert create_app(TestingConfig).testing is True


def test_config_by_instance():
    app = create_app(ProductionConfig({"SECRET_KEY": "k", "DATABASE_URL": "sqlite://"}))
    assert app.testing is False
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_mapping_overrides_the_default_config():
    app = create_app({"SUITESCOPE_MAX_UPLOAD_MB": 3, "MAX_CONTENT_LENGTH": 3 * 1024 * 1024})
    assert app.config["MAX_CONTENT_LENGTH"] == 3 * 1024 * 1024
    assert app.testing is True  # the default here is SUITESCOPE_ENV=testing (tests/conftest.py)


def test_database_url_from_the_environment_selects_the_database(monkeypatch, tmp_path):
    monkeypatch.setenv("SUITESCOPE_ENV", "development")
    monkeypatch.setenv("SUITESCOPE_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/other.db")
    assert create_app().config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/other.db"


def test_unknown_config_name_is_refused():
    with pytest.raises(ValueError, match="unknown config 'staging'"):
        create_app("staging")


def test_wsgi_exposes_a_production_app(monkeypatch):
    monkeypatch.setenv("SUITESCOPE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "k")
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    wsgi = importlib.import_module("wsgi")
    app = importlib.reload(wsgi).app
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.debug is False
