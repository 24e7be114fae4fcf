"""Suitescope's Flask application: ``create_app`` builds one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from config import CONFIGS, Config, selected_config_name

if TYPE_CHECKING:
    from flask import Flask

ConfigLike = str | type[Config] | Config | Mapping[str, Any] | None


def load_config(config: ConfigLike) -> dict[str, Any]:
    """Settings from a config name, class, instance or a mapping of overrides.

    ``None`` means the config named by ``SUITESCOPE_ENV`` (default: development).
    A mapping is applied on top of that default.
    """
    if config is None:
        config = selected_config_name()
    if isinstance(config, str):
        try:
            return CONFIGS[config]().as_dict()
        except KeyError:
            known = ", ".join(sorted(CONFIGS))
            raise ValueError(f"unknown config {config!r}; use one of {known}") from None
    if isinstance(config, type) and issubclass(config, Config):
        return config().as_dict()
    if isinstance(config, Config):
        return config.as_dict()
    return {**load_config(None), **dict(config)}


def create_app(config: ConfigLike = None) -> Flask:
    """Build the Suitescope app (see README, "Configuration")."""
    from flask import Flask

    settings = load_config(config)
    app = Flask(__name__, instance_path=str(settings["INSTANCE_DIR"]))
    app.config.update(settings)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        app.config["INSTANCE_DIR"].mkdir(parents=True, exist_ok=True)

    from dashboard import access, database, errors, ratelimits, security
    from dashboard.api import bp as api_bp
    from dashboard.cli import register_commands
    from dashboard.extensions import csrf, db, migrate
    from dashboard.health import bp as health_bp
    from dashboard.ui import bp as ui_bp
    from dashboard.vendor import bp as vendor_bp

    db.init_app(app)
    migrate.init_app(app, db, directory=str(database.MIGRATIONS_DIR))
    csrf.init_app(app)
    with app.app_context():
        database.configure_engines(db.engines.values())

    app.register_blueprint(ui_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(vendor_bp)
    app.register_blueprint(health_bp)
    csrf.exempt(api_bp)
    ratelimits.init_app(app)  # wraps views, so after the blueprints
    errors.register(app)
    security.register(app)
    access.register(app)
    register_commands(app)
    trust_proxies(app, app.config["SUITESCOPE_PROXY_HOPS"])
    return app


def trust_proxies(app: Flask, hops: int) -> None:
    """Behind ``hops`` reverse proxies, take the client's address, scheme, host and
    path prefix from their ``X-Forwarded-*`` headers (Werkzeug's ProxyFix): the
    sign-in limit counts per client, not per proxy, and links and secure cookies
    follow the scheme the browser used. Without proxies those headers are
    anyone's to forge, so none is trusted."""
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)
