"""What `podium dev` leaves in its data folder (``.podium/``) for the other commands:

- ``env``: the DATABASE_URL and REDIS_URL it uses (the embedded servers' sockets), read by
  every `podium` command started in the same folder when neither variable is set;
- ``tokens``: the demo's bearer tokens, one JSON header object per role, as GraphiQL's
  headers pane takes them;
- ``lock``: held (``flock``) while it runs, so a second `podium dev` on the same folder
  refuses to start instead of breaking the first.

Imported by the CLI on every command: the standard library only.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

DATA_DIR = ".podium"
ENV_FILE = "env"
TOKENS_FILE = "tokens"
LOCK_FILE = "lock"
VARIABLES = ("DATABASE_URL", "REDIS_URL")


class AlreadyRunning(RuntimeError):
    """Another `podium dev` holds the folder's lock."""


def data_dir(cwd: Path | None = None) -> Path:
    return (cwd or Path.cwd()) / DATA_DIR


def _write_private(path: Path, text: str) -> None:
    """Readable by its owner only: it holds secrets (tokens, socket URLs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def write_env(folder: Path, urls: dict[str, str]) -> Path:
    path = folder / ENV_FILE
    _write_private(path, "".join(f"{name}={urls[name]}\n" for name in VARIABLES))
    return path


def read_env(folder: Path) -> dict[str, str]:
    """The variables ``env`` holds ({} when there is none)."""
    try:
        text = (folder / ENV_FILE).read_text(encoding="utf-8")
    except OSError:
        return {}
    found = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() in VARIABLES and value.strip():
            found[name.strip()] = value.strip()
    return found


def load_dev_env(environ: dict[str, str] | os._Environ[str], folder: Path) -> Path | None:
    """When neither DATABASE_URL nor REDIS_URL is set, take both from ``folder/env`` (all or
    nothing: never one server of `podium dev` and another of the environment). Returns the
    file when it was used."""
    if any(environ.get(name) for name in VARIABLES):
        return None
    found = read_env(folder)
    if set(found) != set(VARIABLES):
        return None
    environ.update(found)
    return folder / ENV_FILE


def write_tokens(folder: Path, lines: list[str]) -> Path:
    path = folder / TOKENS_FILE
    _write_private(path, "".join(line + "\n" for line in lines))
    return path


def remove(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).unlink(missing_ok=True)


def lock(folder: Path) -> IO[str]:
    """Take the folder's lock (released when the returned file closes, or the process dies).
    Raises ``AlreadyRunning`` naming the holder's pid."""
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / LOCK_FILE, "a+", encoding="utf-8")  # noqa: SIM115 - held open
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise AlreadyRunning(holder) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
