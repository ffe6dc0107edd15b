"""The arq worker, started as production and `podium dev` start it (`arq ...` and
`python -m arq ...` in a fresh interpreter), refuses settings it cannot use as `podium serve`
does: one line on stderr naming the setting, exit status 2, no traceback."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from api.settings import Settings, SettingsError
from tests.fonts import box_font

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = "workers.settings.WorkerSettings"
# the Docker image's command, and podium dev's (api/demo/devserver.py)
LAUNCHERS = {
    "arq": [str(Path(sys.executable).with_name("arq")), SETTINGS],
    "python -m arq": [sys.executable, "-m", "arq", SETTINGS],
}


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    env.update(PYTHONPATH=str(ROOT), **settings)
    return env


async def _start(launcher: str, env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *LAUNCHERS[launcher], cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


def _unusable_fonts(tmp_path: Path) -> dict[str, str]:
    text = tmp_path / "NotoSansCJK-Regular.ttf"
    text.write_text("not a font")
    return {
        "missing": str(tmp_path / "missing.ttc"),
        "not a font": f"{box_font(tmp_path / 'box.ttf')}{os.pathsep}{text}",
        "a folder": str(tmp_path),
    }


@pytest.mark.parametrize(
    ("launcher", "case"),
    [("arq", "missing"), ("python -m arq", "not a font"), ("python -m arq", "a folder")],
)
async def test_given_unusable_pdf_fonts_when_the_worker_starts_then_one_line_and_exit_2(
    tmp_path: Path, launcher: str, case: str
):
    fonts = _unusable_fonts(tmp_path)[case]
    with pytest.raises(SettingsError) as serve:  # what `podium serve` says of it
        Settings.from_env({"PODIUM_PDF_FONTS": fonts})
    # Redis is not there: the settings are said before arq connects (or retries for 5 s)
    env = _env(PODIUM_PDF_FONTS=fonts, REDIS_URL="redis://127.0.0.1:1/0")

    proc = await _start(launcher, env, tmp_path)
    out, err = await asyncio.wait_for(proc.communicate(), 60)

    assert (proc.returncode, out.decode()) == (2, "")
    assert err.decode() == f"podium worker: {serve.value}\n"
    assert str(serve.value).startswith("PODIUM_PDF_FONTS: ")


@pytest.mark.parametrize("delay", ["fast", "-1", "0", "inf", "nan"])
async def test_given_an_unusable_poll_delay_when_the_worker_starts_then_one_line_and_exit_2(
    tmp_path: Path, delay: str
):
    env = _env(PODIUM_WORKER_POLL_DELAY=delay, REDIS_URL="redis://127.0.0.1:1/0")

    proc = await _start("python -m arq", env, tmp_path)
    out, err = await asyncio.wait_for(proc.communicate(), 60)

    assert (proc.returncode, out.decode()) == (2, "")
    assert err.decode() == (
        f"podium worker: PODIUM_WORKER_POLL_DELAY must be a positive number of seconds, "
        f"not {delay!r}\n"
    )


async def test_given_usable_settings_when_the_worker_starts_then_it_runs(
    tmp_path: Path, redis_url: str
):
    env = _env(
        PODIUM_PDF_FONTS=str(box_font(tmp_path / "box.ttf")),
        PODIUM_WORKER_POLL_DELAY="0.2",
        DATABASE_URL="postgres://postgres@127.0.0.1:1/podium",  # not needed to start
        REDIS_URL=redis_url,
    )
    proc = await _start("python -m arq", env, tmp_path)
    try:
        assert proc.stderr is not None
        line = await asyncio.wait_for(proc.stderr.readline(), 30)
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), 30)

    assert b"Starting worker for" in line, line  # arq's first line: past the check
