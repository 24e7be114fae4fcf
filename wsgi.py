"""Entry point for WSGI servers: ``gunicorn wsgi:app``.

Production settings unless ``SUITESCOPE_ENV`` names another config.
"""

import gc

from config import selected_config_name
from dashboard import create_app

app = create_app(selected_config_name(default="production"))

# What is loaded by now lives as long as the worker: keep it out of the garbage
# collector's full passes, which otherwise add tens of milliseconds to a heavy
# page whenever one falls due (measured by ``python -m bench.pages``).
gc.freeze()
