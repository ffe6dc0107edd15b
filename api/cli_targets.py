"""`podium targets import|export|publish|list`: target plans as CSV for the people who keep planning
in a spreadsheet (columns: domain/targets/files.py). Registered onto the typer app by
api/cli.py. Bad input is one line on stderr and exit status 2; an import is all or nothing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

TenantArg = Annotated[
    str, typer.Option("--tenant", envvar="PODIUM_TENANT", help="The tenant's slug.")
]
FileArg = Annotated[Path, typer.Argument(help="The CSV file.", show_default=False)]
PlanOption = Annotated[str | None, typer.Option("--plan", help="One target plan's key.")]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
]

targets_app = typer.Typer(
    help="Targets: import or export target plans as CSV, publish them as quotas.",
    no_args_is_help=True,
)


@targets_app.command("import")
def import_targets(path: FileArg, tenant: TenantArg) -> None:
    """Create target plans from CSV (plan,period,measure,currency,rep_id,value): a plan
    already published gets a new version, a draft is replaced. All or nothing."""
    from api import cli
    from domain.datasets.csvfiles import csv_lines
    from domain.org.viewer import Viewer
    from domain.targets.files import TargetImport
    from domain.targets.files import import_targets as load

    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        cli._fail(f"{path}: no such file")
        return
    except UnicodeDecodeError:
        cli._fail(f"{path}: is not UTF-8 text")
        return
    except OSError as exc:
        cli._fail(f"{path}: cannot read: {exc.strerror}")
        return
    lines = csv_lines(text)

    async def work() -> TargetImport:
        found = await cli._tenant(tenant)
        async with cli.in_transaction():
            return await load(
                viewer=Viewer.system(found.id, "cli-targets"), lines=lines, file=path.name
            )

    result = cli._with_database(cli._settings().database_url, work)
    plans = ", ".join(f"{key} v{version}" for key, version in result.plans)
    sys.stdout.write(f"{path.name}: {cli._plural(result.rows, 'row')}, plans {plans}\n")


@targets_app.command("export")
def export_targets(tenant: TenantArg, plan: PlanOption = None, output: OutputOption = None) -> None:
    """The latest version of every target plan (or --plan KEY) as CSV, with each target's
    status, comment and acceptance date."""
    from api import cli
    from domain.org.viewer import Viewer
    from domain.targets.files import export_targets as dump

    async def work() -> str:
        found = await cli._tenant(tenant)
        return await dump(viewer=Viewer.system(found.id, "cli-targets"), plan=plan)

    text = cli._with_database(cli._settings().database_url, work)
    if output is None:
        sys.stdout.write(text)
    else:
        cli._write_output(output, text)


@targets_app.command("publish")
def publish_targets(
    tenant: TenantArg,
    plan: Annotated[str, typer.Option("--plan")],
    effective_from: Annotated[
        str | None,
        typer.Option(
            "--effective-from",
            help="The first day the quotas apply, inside the target's period (default: a "
            "first version, the period's first day; a revision, today).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Publish the draft version of a target plan: its targets become the quotas. The
    periods already under way whose quotas changed are queued for the workers to recompute."""
    from api import cli
    from domain.kit.errors import DomainError
    from domain.kit.periods import parse_date
    from domain.org.viewer import Viewer
    from domain.targets.service import publish, publish_key

    async def work() -> str:
        found = await cli._tenant(tenant)
        viewer = Viewer.system(found.id, "cli-targets")
        effective = (
            None if effective_from is None else parse_date(effective_from, field="--effective-from")
        )
        async with cli.in_transaction():
            try:
                published = await publish(
                    viewer=viewer,
                    plan_id=await publish_key(viewer=viewer, key=plan),
                    effective=effective,
                )
            except DomainError as exc:
                if exc.field == "effectiveFrom":  # the option's name on this command line
                    exc.field = "--effective-from"
                raise
        assert published.effective_from is not None
        return (
            f"{published.key} v{published.version} published for {published.period}, "
            f"effective {published.effective_from.isoformat()}"
        )

    sys.stdout.write(cli._with_database(cli._settings().database_url, work) + "\n")


@targets_app.command("list")
def list_targets(
    tenant: TenantArg,
    period: Annotated[
        str | None, typer.Option("--period", help="Only this period's plans (2027-Q1).")
    ] = None,
) -> None:
    """Every target plan version (of --period, or all): key, version, period, quota key (the
    measure, or measure[field=value]), amount, status, when it was published and the first
    day its quotas apply."""
    from api import cli
    from domain.kit.money import format_plain, unpadded
    from domain.org.viewer import Viewer
    from domain.targets.service import target_plans

    async def work() -> str:
        found = await cli._tenant(tenant)
        plans = await target_plans(viewer=Viewer.system(found.id, "cli-targets"), period=period)
        return "".join(
            f"{p.key}\tv{p.version}\t{p.period}\t{p.quota_key}\t"
            f"{format_plain(unpadded(p.amount))} {p.currency or 'COUNT'}\t{p.status.value}\t"
            f"{p.published_at.date().isoformat() if p.published_at else '-'}\t"
            f"{p.effective_from.isoformat() if p.effective_from else '-'}\n"
            for p in plans
        )

    text = cli._with_database(cli._settings().database_url, work)
    sys.stdout.write(text or "no target plans\n")


def register(app: typer.Typer) -> None:
    app.add_typer(targets_app, name="targets")
