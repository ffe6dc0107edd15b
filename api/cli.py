"""The `podium` command."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from domain.kit.errors import DomainError

app = typer.Typer(
    name="podium",
    help="Podium: sales incentives, calculated exactly and explained.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Podium: sales incentives, calculated exactly and explained."""


class OutputFormat(StrEnum):
    json = "json"
    table = "table"


def _fail(message: str) -> None:
    """Bad input: one line on stderr, exit status 2, never a traceback."""
    sys.stderr.write(f"podium: {message}\n")
    raise typer.Exit(2)


PlanOption = Annotated[Path, typer.Option("--plan", help="Plan document (YAML or JSON).")]
DataOption = Annotated[
    Path,
    typer.Option(
        "--data",
        help="Directory with reps.csv, transactions.csv, quotas.csv "
        "and optionally assignments.csv, fx.csv.",
    ),
]
PeriodOption = Annotated[str, typer.Option("--period", help="2026-10, 2026-Q4 or 2026.")]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="json or table.")]
ExplainOption = Annotated[bool, typer.Option("--explain", help="Add plain-words explanations.")]


@app.command()
def simulate(
    plan: PlanOption,
    data: DataOption,
    period: PeriodOption,
    output: FormatOption = OutputFormat.table,
    explain: ExplainOption = False,
) -> None:
    """Run a plan offline against CSV files and print what it pays."""
    from api.simulator import render_json, render_table
    from api.simulator import simulate as run

    try:
        result = run(plan, data, period)
    except DomainError as exc:
        _fail(str(exc))
        return
    if output is OutputFormat.json:
        sys.stdout.write(render_json(result, explain=explain) + "\n")
    else:
        render_table(result, Console(), explain=explain)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
