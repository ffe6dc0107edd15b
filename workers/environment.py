"""The worker's settings from the environment, checked before anything starts: by arq's
command line as it imports workers.settings, and by `podium dev` before it starts its worker
(a worker refusing its settings there would be restarted for ever). Light on imports, so that
checking costs nothing of what the worker loads."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from domain.kit.pdf import FontError, fallback_font_files

DEFAULT_POLL_DELAY = 0.05  # seconds (workers.settings.POLL_DELAY says why)


class WorkerSettingsError(ValueError):
    """A setting the worker cannot use; the message names the variable."""


def poll_delay(env: Mapping[str, str]) -> float:
    """PODIUM_WORKER_POLL_DELAY, seconds (POLL_DELAY says why 0.05 without it): a positive
    number. arq would take 0 or less as a poll without a pause and inf or nan as none."""
    raw = (env.get("PODIUM_WORKER_POLL_DELAY") or "").strip()
    if not raw:
        return DEFAULT_POLL_DELAY
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise WorkerSettingsError(
            f"PODIUM_WORKER_POLL_DELAY must be a positive number of seconds, not {raw!r}"
        )
    return value


def check_settings(environ: Mapping[str, str] | None = None) -> None:
    """WorkerSettingsError unless the worker's settings can be used: ``poll_delay``'s, and
    PODIUM_PDF_FONTS, each file checked by domain.kit.pdf's ``fallback_font_files`` and said
    in the words of api.settings (which workers may not import). The worker makes no PDF
    today, but it runs on the API's environment (docker/docker-compose.yml) and must not
    start on a broken one."""
    env = os.environ if environ is None else environ
    poll_delay(env)
    try:
        fallback_font_files(env.get("PODIUM_PDF_FONTS") or "")
    except FontError as exc:
        raise WorkerSettingsError(f"PODIUM_PDF_FONTS: {exc}") from None
