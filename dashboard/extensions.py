"""Extension singletons, bound to an app in ``create_app``."""

from __future__ import annotations

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from dashboard.models import Base

# "create_savepoint" lets the test harness run each test inside an outer
# transaction while application code commits freely; in production it is inert.
db = SQLAlchemy(
    metadata=Base.metadata,
    session_options={"join_transaction_mode": "create_savepoint"},
)
migrate = Migrate(render_as_batch=True, compare_type=True)
csrf = CSRFProtect()
