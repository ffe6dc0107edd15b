"""`podium leaderboards create|list`: boards defined from a YAML or JSON file, and their
standings. Registered onto the typer app by api.cli; `podium rebuild-cache` rebuilds them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

TenantArg = Annotated[
    str, typer.Option("--tenant", envvar="PODIUM_TENANT", help="The tenant's slug.")
]
FileOption = Annotated[
    Path,
    typer.Option(
        "--file",
        help="name, metric, period_kind and optionally team (a manager's CRM id) or group.",
        show_default=False,
    ),
]  # fmt: skip

leaderboards_app = typer.Typer(
    help="Leaderboards: define boards from a file, list them with their leaders.",
    no_args_is_help=True,
)

FIELDS = {"name", "metric", "period_kind", "team", "group"}


def _definition(path: Path) -> dict[str, Any]:
    """The file's mapping, or one line naming what is wrong and exit 2."""
    import yaml

    from api import cli
    from domain.kit.documents import DocumentError, loads_json

    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        cli._fail(f"{path}: no such file")
    except (UnicodeDecodeError, IsADirectoryError):
        cli._fail(f"{path}: is not a YAML or JSON text file")
    except OSError as exc:
        cli._fail(f"{path}: cannot read: {exc.strerror}")
    try:
        found = loads_json(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (RecursionError, DocumentError):
        cli._fail(f"{path}: nested too deeply to be a board definition")
    except (ValueError, yaml.YAMLError) as exc:
        cli._fail(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: "
                  f"{str(exc).splitlines()[0]}")  # fmt: skip
    if not isinstance(found, dict):
        cli._fail(f"{path}: expected a mapping with {', '.join(sorted(FIELDS))}")
    unknown = sorted(set(map(str, found)) - FIELDS)
    if unknown:
        cli._fail(f"{path}: {unknown[0]}: unknown field (fields: {', '.join(sorted(FIELDS))})")
    for name in ("name", "metric", "period_kind"):
        if not isinstance(found.get(name), str):
            cli._fail(f"{path}: {name}: required, a string")
    return found


@leaderboards_app.command("create")
def create(tenant: TenantArg, path: FileOption) -> None:
    """Create a board (YAML or JSON: name, metric, period_kind, team or group) and fill it from the
    stored results. Metric: a measure id (bookings), attainment:bookings, count:bookings,
    earnings or xp."""
    from api import cli
    from domain.kit.errors import InvalidInput
    from domain.org.models import User
    from domain.org.viewer import Viewer
    from gamification.leaderboards.service import create_leaderboard, rebuild_board
    from gamification.leaderboards.store import BoardStore

    definition = _definition(path)
    settings = cli._settings()

    async def work() -> tuple[str, int]:
        from redis.asyncio import Redis

        found = await cli._tenant(tenant)
        team_id = None
        if definition.get("team") is not None:
            manager = await User.filter(
                tenant_id=found.id, external_id=str(definition["team"])
            ).first()
            if manager is None:
                raise InvalidInput(f"no person {definition['team']!r}", field="team")
            team_id = manager.id
        async with cli.in_transaction():
            board = await create_leaderboard(
                viewer=Viewer.system(found.id, "cli-leaderboards"),
                name=definition["name"], metric=definition["metric"],
                period_kind=definition["period_kind"], team_id=team_id,
                group=None if definition.get("group") is None else str(definition["group"]),
            )  # fmt: skip
        redis = Redis.from_url(settings.redis_url)
        try:
            ranked = await rebuild_board(store=BoardStore(redis), board=board)
        finally:
            await redis.aclose()
        return board.name, ranked

    name, ranked = _with_redis(lambda: cli._with_database(settings.database_url, work))
    sys.stdout.write(f"leaderboard {name!r}: {cli._plural(ranked, 'person', 'people')} ranked\n")


@leaderboards_app.command("list")
def list_boards(
    tenant: TenantArg,
    top: Annotated[
        int, typer.Option("--top", min=0, max=100, help="How many leaders to show per board.")
    ] = 3,
) -> None:
    """Every board with its current period, whom it ranks and its leaders (every score shown,
    whatever the tenant hides from reps)."""
    from api import cli
    from gamification.leaderboards.service import Leaders, leaders
    from gamification.leaderboards.store import BoardStore

    settings = cli._settings()

    async def work() -> list[Leaders]:
        from redis.asyncio import Redis

        found = await cli._tenant(tenant)
        redis = Redis.from_url(settings.redis_url)
        try:
            return await leaders(tenant_id=found.id, store=BoardStore(redis), first=top)
        finally:
            await redis.aclose()

    boards = _with_redis(lambda: cli._with_database(settings.database_url, work))
    lines = [] if boards else [f"no leaderboards in {tenant!r} (podium leaderboards create ...)"]
    for shown in boards:
        board = shown.board
        scope = (
            f"team {shown.team.external_id}" if shown.team is not None
            else f"group {board.group_name}" if board.group_name is not None
            else "tenant"
        )  # fmt: skip
        ranked = cli._plural(shown.ranked, "person", "people")
        lines.append(f"{board.name} ({board.metric}, {shown.period}, {scope}): {ranked} ranked")
        for entry, person in shown.top:
            who = f"{person.display_name} ({person.external_id})" if person else str(entry.user_id)
            lines.append(f"  {entry.rank:>3}  {who:<40} {entry.score}")
    sys.stdout.write("".join(line + "\n" for line in lines))


def _with_redis(run: Any) -> Any:
    from redis.exceptions import RedisError

    from api import cli

    try:
        return run()
    except RedisError as exc:
        sys.stderr.write(
            f"podium: cannot use Redis at {cli._redact(cli._settings().redis_url)}: {exc}\n"
        )
        raise typer.Exit(1) from None


def register(app: typer.Typer) -> None:
    app.add_typer(leaderboards_app, name="leaderboards")
