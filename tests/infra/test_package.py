"""The package as docker/Dockerfile installs it (`pip install .`, not editable): everything
the service reads at run time must be in the wheel, since the image has no checkout. Built
offline from a copy of the sources, with the setuptools of the dev install."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "domain", "workers", "gamification", "payments")


def _sources() -> set[str]:
    """Every file of the packages in this checkout, but caches."""
    return {
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_given_the_package_built_as_the_image_installs_it_then_the_wheel_holds_every_file(
    tmp_path: Path,
):
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--quiet", "--wheel-dir", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("podium-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (entry_points,) = (n for n in names if n.endswith(".dist-info/entry_points.txt"))
        scripts = configparser.ConfigParser()
        scripts.read_string(archive.read(entry_points).decode())

    expected = _sources()
    assert expected >= {
        "domain/migrations/__init__.py",
        "domain/kit/fonts/DejaVuSans.ttf",
        "payments/methods/xsd/pain.001.001.03.xsd",
        "api/graphiql/index.html",
    }
    assert sorted(expected - names) == []
    assert not {n for n in names if n.startswith("tests/") or n.startswith("bench/")}
    assert dict(scripts["console_scripts"]) == {"podium": "api.cli:main"}
