"""Entry point for WSGI servers: ``gunicorn wsgi:app``.

Production settings unless ``SUITESCOPE_ENV`` names another config.
"""

from config import selected_config_name
from dashboard import create_app

app = create_app(selected_config_name(default="production"))
