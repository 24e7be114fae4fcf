"""Front-end libraries come from the installed packages, never from a CDN."""

from __future__ import annotations

import pytest

from dashboard import vendor


def test_plotly_is_served_from_the_plotly_wheel(client):
    response = client.get("/vendor/plotly.min.js")
    assert response.status_code == 200
    assert response.data == vendor.plotly_js().read_bytes()
    assert "max-age" in response.headers["Cache-Control"]


@pytest.mark.parametrize("name", ["htmx.min.js", "pico.min.css"])
def test_npm_assets_are_served_from_node_modules(client, name):
    response = client.get(f"/vendor/{name}")
    assert response.status_code == 200, "run `make setup` (npm ci) first"
    assert len(response.data) > 1000


def test_unknown_asset_is_404(client):
    assert client.get("/vendor/jquery.js").status_code == 404


def test_missing_install_says_what_to_run(client, monkeypatch, tmp_path):
    monkeypatch.setattr(vendor, "NODE_MODULES", tmp_path)
    response = client.get("/vendor/htmx.min.js")
    assert response.status_code == 404
    assert "make setup" in response.text


def test_pages_reference_no_cdn(client, db_session):
    page = client.get("/").text
    assert 'src="/vendor/htmx.min.js"' in page
    assert 'href="/vendor/pico.min.css"' in page
    for cdn in ("cdn.", "unpkg.com", "jsdelivr", "cdnjs"):
        assert cdn not in page
