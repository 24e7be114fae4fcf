"""Extension singletons, bound to an app in ``create_app``."""

from __future__ import annotations

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData

# A naming convention makes constraint names stable across SQLite and
# PostgreSQL, so Alembic can compare and alter them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# "create_savepoint" lets the test harness run each test inside an outer
# transaction while application code commits freely; in production it is inert.
db = SQLAlchemy(
    metadata=MetaData(naming_convention=NAMING_CONVENTION),
    session_options={"join_transaction_mode": "create_savepoint"},
)
migrate = Migrate(render_as_batch=True, compare_type=True)
csrf = CSRFProtect()
