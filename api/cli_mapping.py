"""`podium mapping show|set|reset`: see and change a tenant's CRM field mapping (which
Salesforce or HubSpot field holds each Podium field; domain/ingest/mapping.py). Changes are
validated, audited and committed in one transaction. Registered onto the typer app by
api/cli.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

TenantArg = Annotated[
    str, typer.Option("--tenant", envvar="PODIUM_TENANT", help="The tenant's slug.")
]
SourceArg = Annotated[str, typer.Option("--source", help="salesforce or hubspot.")]
FileOption = Annotated[
    Path | None,
    typer.Option(
        "--file",
        help='A JSON object of overrides, e.g. {"date": "Booked__c", "ignore": ["Description"]}.',
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="key=value: one text override (repeatable), after --file."),
]

mapping_app = typer.Typer(
    help="CRM field mappings: which CRM field holds each Podium field, per tenant and source.",
    no_args_is_help=True,
)

_LABEL = "cli-mapping"
# keys --set cannot give (its values are text): what --file holds for them instead
_NOT_TEXT = {
    "state_values": "a JSON object",
    "ignore": 'a JSON list, e.g. {"ignore": ["Description", "NextStep"]}',
}


def _check_source(source: str) -> None:
    from api import cli
    from domain.ingest.mapping import SOURCES

    if source not in SOURCES:
        cli._fail(f"--source: {source!r} is not one of {', '.join(SOURCES)}")


def _print(mapping: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(mapping, indent=2, ensure_ascii=False) + "\n")


@mapping_app.command("show")
def show(tenant: TenantArg, source: SourceArg) -> None:
    """Print the effective mapping (the tenant's overrides over the defaults) as JSON."""
    from api import cli
    from domain.ingest.mapping import field_mapping
    from domain.org.viewer import Viewer

    _check_source(source)

    async def work() -> dict[str, Any]:
        found = await cli._tenant(tenant)
        return await field_mapping(viewer=Viewer.system(found.id, _LABEL), source=source)

    _print(cli._with_database(cli._settings().database_url, work))


@mapping_app.command("set")
def set_(
    tenant: TenantArg, source: SourceArg, file: FileOption = None, sets: SetOption = None
) -> None:
    """Add overrides (--file, --set key=value) to the stored ones; print the mapping.

    Keys not given keep their stored override; `podium mapping reset` drops them all. Exit
    status 2 (one line naming the field or file) on bad input."""
    from api import cli
    from domain.ingest.mapping import field_mapping_overrides, set_field_mapping
    from domain.org.viewer import Viewer

    _check_source(source)
    changes: dict[str, Any] = {}
    if file is not None:
        changes.update(_read_overrides(file))
    for item in sets or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            cli._fail(f"--set: {item!r} is not key=value")
        if key in _NOT_TEXT:
            cli._fail(f"mapping.{key}: not a text key: give it in --file as {_NOT_TEXT[key]}")
        changes[key] = value
    if not changes:
        cli._fail("nothing to set: give --file mapping.json and/or --set key=value")

    async def work() -> dict[str, Any]:
        found = await cli._tenant(tenant)
        viewer = Viewer.system(found.id, _LABEL)
        async with cli.in_transaction():
            stored = await field_mapping_overrides(viewer=viewer, source=source) or {}
            return await set_field_mapping(
                viewer=viewer, source=source, mapping={**stored, **changes}
            )

    _print(cli._with_database(cli._settings().database_url, work))


@mapping_app.command("reset")
def reset(tenant: TenantArg, source: SourceArg) -> None:
    """Drop the tenant's overrides: back to the defaults (printed)."""
    from api import cli
    from domain.ingest.mapping import reset_field_mapping
    from domain.org.viewer import Viewer

    _check_source(source)

    async def work() -> dict[str, Any]:
        found = await cli._tenant(tenant)
        async with cli.in_transaction():
            return await reset_field_mapping(viewer=Viewer.system(found.id, _LABEL), source=source)

    _print(cli._with_database(cli._settings().database_url, work))


def _read_overrides(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; anything else is one line naming the file, exit 2."""
    from api import cli

    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        cli._fail(f"{path}: no such file")
        raise  # unreachable: _fail exits
    except UnicodeDecodeError:
        cli._fail(f"{path}: is not UTF-8 text")
        raise
    except OSError as exc:
        cli._fail(f"{path}: cannot read: {exc.strerror}")
        raise
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        cli._fail(f"{path}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
        raise
    except RecursionError:
        cli._fail(f"{path}: nested too deeply to be a field mapping")
        raise
    if not isinstance(document, dict):
        cli._fail(f"{path}: must be a JSON object of mapping keys and CRM field names")
    return dict(document)


def register(app: typer.Typer) -> None:
    app.add_typer(mapping_app, name="mapping")
