"""GraphiQL works offline: the page and every script come from Podium itself, and headless
Chromium renders the editor from them (a CDN script would leave "Loading GraphiQL...")."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.api.browser import assert_graphiql_editor, needs_chromium, rendered_dom
from tests.api.cli_runner import ROOT, cli_env
from tests.api.test_cli_service import free_port

STATIC = ROOT / "api" / "graphiql" / "static"


def fetch(url: str, accept: str = "*/*") -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers.get("content-type", ""), response.read()


@pytest.fixture
def server(database_url: str, redis_url: str):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=cli_env(database_url, REDIS_URL=redis_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            fetch(f"{base}/health")
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise
            time.sleep(0.1)
    yield base
    proc.terminate()
    proc.wait(15)


def test_given_the_page_then_every_asset_is_served_by_podium_with_its_licence(server: str):
    status, kind, body = fetch(f"{server}/graphql", accept="text/html")
    page = body.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)

    assert status == 200
    assert kind.startswith("text/html")
    assert assets, page
    assert not [a for a in assets if "://" in a or a.startswith("//")]  # no CDN, no host
    for asset in assets:
        status, _, content = fetch(f"{server}{asset}")
        assert status == 200
        assert content == (STATIC / Path(asset).name).read_bytes()
    for licence in ("LICENSE.graphiql", "LICENSE.react", "LICENSE.react-dom"):
        assert "MIT License" in (STATIC / licence).read_text()


@needs_chromium
def test_given_headless_chromium_when_graphiql_opens_then_the_editor_renders(server: str):
    assert_graphiql_editor(rendered_dom(f"{server}/graphql"))
