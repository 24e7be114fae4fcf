"""Third-party front-end files, served from where their registries installed them.

plotly.js ships inside the ``plotly`` wheel; htmx and Pico CSS come from the npm
registry into ``node_modules`` (``make`` runs ``npm ci``). Nothing is committed
and nothing is fetched from a CDN at run time.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from flask import Blueprint, abort, send_file

bp = Blueprint("vendor", __name__, url_prefix="/vendor")

NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"
CACHE_SECONDS = 7 * 24 * 3600


def plotly_js() -> Path:
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


VENDOR_FILES = {
    "plotly.min.js": plotly_js,
    "htmx.min.js": lambda: NODE_MODULES / "htmx.org" / "dist" / "htmx.min.js",
    "pico.min.css": lambda: NODE_MODULES / "@picocss" / "pico" / "css" / "pico.min.css",
}


@bp.get("/<name>")
def asset(name: str):
    locate = VENDOR_FILES.get(name)
    if locate is None:
        abort(404)
    path = locate()
    if not path.is_file():
        abort(404, f"{name} is not installed; run `make setup` (npm ci) first")
    return send_file(path, max_age=CACHE_SECONDS)
