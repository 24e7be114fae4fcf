"""Configuration classes: the only place that reads the environment.

Each class reads its settings when instantiated (``Config.from_env()``), never
at import time, so tests and the CLI can set variables before building an app.
Every variable is listed in the README.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
DEFAULT_INSTANCE_DIR = BASE_DIR / "instance"


def _env_bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    value = environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(environ: Mapping[str, str], name: str, default: int) -> int:
    value = environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError as error:
        raise RuntimeError(f"{name} must be a whole number, got {value!r}") from error


def _env_list(environ: Mapping[str, str], name: str) -> list[str]:
    """A comma-separated list, blanks dropped."""
    return [item.strip() for item in environ.get(name, "").split(",") if item.strip()]


def _env_text(environ: Mapping[str, str], name: str, default: str) -> str:
    """The variable's value, stripped; ``default`` only when it is unset (empty stays empty)."""
    value = environ.get(name)
    return default if value is None else value.strip()


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def normalise_database_url(url: str) -> str:
    """Let people write ``postgres://`` or ``postgresql://``; we drive psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def development_secret_key(instance_dir: Path) -> str:
    """A key generated once and kept in ``instance/`` so sessions survive restarts."""
    key_file = instance_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text(encoding="utf-8").strip()
    instance_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    key_file.write_text(key, encoding="utf-8")
    key_file.chmod(0o600)
    return key


class Config:
    """Settings shared by every environment."""

    DEBUG = False
    TESTING = False
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    WTF_CSRF_TIME_LIMIT = None
    JSON_SORT_KEYS = False
    # Flask-Limiter (dashboard/ratelimits.py). X-RateLimit-* and Retry-After on
    # limited routes; if the storage (Redis) fails, count in this process's
    # memory until it is back, and never fail a request because of the limiter.
    RATELIMIT_HEADERS_ENABLED = True
    # A moving window: at most N in any minute. A fixed one allows twice the limit
    # across a window boundary, and let a test at that boundary pass a third try.
    RATELIMIT_STRATEGY = "moving-window"
    RATELIMIT_KEY_PREFIX = "suitescope"
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.INSTANCE_DIR = Path(env.get("SUITESCOPE_INSTANCE_DIR") or DEFAULT_INSTANCE_DIR)
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            env.get("DATABASE_URL") or sqlite_url(self.INSTANCE_DIR / "suitescope.db")
        )
        self.SECRET_KEY = env.get("SECRET_KEY") or self.default_secret_key()
        self.SUITESCOPE_MAX_UPLOAD_MB = _env_int(env, "SUITESCOPE_MAX_UPLOAD_MB", 100)
        self.MAX_CONTENT_LENGTH = self.SUITESCOPE_MAX_UPLOAD_MB * 1024 * 1024
        self.SUITESCOPE_PRIVATE = _env_bool(env, "SUITESCOPE_PRIVATE", False)
        self.SUITESCOPE_DEMO = _env_bool(env, "SUITESCOPE_DEMO", True)
        self.SUITESCOPE_BASE_URL = env.get("SUITESCOPE_BASE_URL", "").rstrip("/")
        # Reverse proxies in front of the app whose X-Forwarded-* headers are trusted.
        self.SUITESCOPE_PROXY_HOPS = _env_int(env, "SUITESCOPE_PROXY_HOPS", 0)
        if self.SUITESCOPE_PROXY_HOPS < 0:
            raise RuntimeError("SUITESCOPE_PROXY_HOPS must be 0 or more")
        # Delivery of the weekly review (suitescope review --send).
        self.SUITESCOPE_WEBHOOK_URL = env.get("SUITESCOPE_WEBHOOK_URL", "").strip()
        self.SUITESCOPE_SMTP_HOST = env.get("SUITESCOPE_SMTP_HOST", "").strip()
        self.SUITESCOPE_SMTP_PORT = _env_int(env, "SUITESCOPE_SMTP_PORT", 587)
        self.SUITESCOPE_SMTP_USER = env.get("SUITESCOPE_SMTP_USER", "")
        self.SUITESCOPE_SMTP_PASSWORD = env.get("SUITESCOPE_SMTP_PASSWORD", "")
        self.SUITESCOPE_SMTP_FROM = env.get("SUITESCOPE_SMTP_FROM", "").strip()
        self.SUITESCOPE_SMTP_TO = _env_list(env, "SUITESCOPE_SMTP_TO")
        self.SUITESCOPE_SMTP_STARTTLS = _env_bool(env, "SUITESCOPE_SMTP_STARTTLS", True)
        # Rate limits (flask-limiter syntax, "600 per minute"; empty turns one off).
        self.RATELIMIT_ENABLED = _env_bool(env, "SUITESCOPE_RATELIMIT_ENABLED", True)
        self.RATELIMIT_STORAGE_URI = (
            _env_text(env, "SUITESCOPE_RATELIMIT_STORAGE", "") or "memory://"
        )
        # Instances sharing one Redis database count apart under their own prefix.
        self.RATELIMIT_KEY_PREFIX = (
            _env_text(env, "SUITESCOPE_RATELIMIT_KEY_PREFIX", "") or self.RATELIMIT_KEY_PREFIX
        )
        self.SUITESCOPE_RATELIMIT_UPLOADS = _env_text(
            env, "SUITESCOPE_RATELIMIT_UPLOADS", "600 per minute"
        )
        self.SUITESCOPE_RATELIMIT_SIGNIN = _env_text(
            env, "SUITESCOPE_RATELIMIT_SIGNIN", "10 per minute"
        )

    def default_secret_key(self) -> str:
        return development_secret_key(self.INSTANCE_DIR)

    def as_dict(self) -> dict:
        """Every upper-case setting, class-level and instance-level."""
        names = {n for n in dir(self) if n.isupper()}
        return {name: getattr(self, name) for name in names}


class DevelopmentConfig(Config):
    DEBUG = True


class TestingConfig(Config):
    """For the test suite: ``TEST_DATABASE_URL`` or an in-memory SQLite database."""

    __test__ = False  # not a pytest test class, despite its name
    TESTING = True
    WTF_CSRF_ENABLED = False

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        super().__init__(environ)
        env = os.environ if environ is None else environ
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            env.get("TEST_DATABASE_URL") or "sqlite://"
        )
        self.SUITESCOPE_DEMO = False
        # One app serves a whole xdist worker and its memory storage would count
        # across tests; the rate-limit tests build their own apps with limits on.
        self.RATELIMIT_ENABLED = False

    def default_secret_key(self) -> str:
        return "testing-secret-key"


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True

    def default_secret_key(self) -> str:
        raise RuntimeError(
            "SECRET_KEY must be set in production (for example: "
            "SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))'))"
        )


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def selected_config_name(
    default: str = "development", environ: Mapping[str, str] | None = None
) -> str:
    """The config named by ``SUITESCOPE_ENV`` (development, testing, production)."""
    env = os.environ if environ is None else environ
    return env.get("SUITESCOPE_ENV") or default
