"""Headless Chromium (Debian's `chromium`) for the tests that check a page as a person sees it.

`.ci/run` installs it; on a machine without it the tests that need it skip and say so.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)


def rendered_dom(url: str, *, budget_ms: int = 15000) -> str:
    """The DOM of ``url`` once its scripts ran (virtual time: no fixed sleep), as HTML. No
    network but the page's own server: the browser's background services are off."""
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory(prefix="podium-chromium-") as profile:
        ran = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                f"--virtual-time-budget={budget_ms}",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert ran.returncode == 0, ran.stderr[-2000:]
    return ran.stdout


def assert_graphiql_editor(dom: str) -> None:
    """GraphiQL rendered: its query editor (CodeMirror) is in the DOM, the placeholder gone."""
    assert "Loading GraphiQL..." not in dom, dom[:2000]
    assert 'class="graphiql-container"' in dom, dom[:2000]
    assert "graphiql-query-editor" in dom, dom[:2000]
    assert "CodeMirror" in dom, dom[:2000]
