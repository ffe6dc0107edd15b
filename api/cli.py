"""The `podium` command."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import warnings
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from domain.kit.errors import DomainError, InvalidInput, NotFound, quoted

if TYPE_CHECKING:
    from api.settings import Settings
    from domain.tenants.models import Tenant

T = TypeVar("T")

# platformdirs (under the embedded servers) warns on every start where XDG_RUNTIME_DIR is unset
# (root shells, containers) and then uses a fine fallback: nothing for a user to act on
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")


class _Podium(typer.core.TyperGroup):
    """The root command: click's usage errors (an unknown or missing option, a value of the
    wrong type) raised while parsing any command's line or running it, said as the CLI's
    other bad input is (`_fail`): one line naming the option, exit status 2, rather than
    click's usage line, hint, blank line and error."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _usage_in_one_line():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with _usage_in_one_line():
            return super().invoke(ctx)


@contextmanager
def _usage_in_one_line() -> Iterator[None]:
    try:
        yield
    except typer.TyperException as exc:  # click's exceptions are typer's
        # (not a group named without a command: its help, as click shows it)
        usage = type(exc).__name__ != "NoArgsIsHelpError"
        if usage and getattr(exc, "exit_code", None) == 2 and hasattr(exc, "format_message"):
            context = getattr(exc, "ctx", None)
            where = f" (see '{context.command_path} --help')" if context is not None else ""
            _fail(f"{exc.format_message().rstrip('.')}{where}")
        raise


app = typer.Typer(
    name="podium",
    cls=_Podium,
    help="Podium: sales incentives, calculated exactly and explained.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # click's plain help: paragraphs rewrapped to the terminal, flags without a `<bool>`
    rich_markup_mode=None,
    context_settings={"max_content_width": 120},  # a wide terminal shows whole summaries
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


def _refuse_taken_address(host: str, port: int) -> None:
    """One line and exit 2 when the API could not listen on ``host:port`` (another `podium
    dev` in another folder, any server on the port, a host that is not this machine's), said
    before anything starts: uvicorn would say it only once the servers were up and the demo
    seeded, in its own log line, and exit 3."""
    import errno
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (OSError, UnicodeError) as exc:
        _fail(f"--host: {quoted(host)} is not an address of this machine: {exc}")
        return
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                _fail(
                    f"--port: {host}:{port} is in use (another podium dev or server?): "
                    "choose another port with --port or PODIUM_PORT"
                )
            _fail(f"--host: cannot listen on {host}:{port}: {exc.strerror or exc}")


def _write_output(path: Path, text: str) -> None:
    """What a command writes to its ``-o FILE``: a path that cannot be written (no such
    folder, a folder, no permission) is one line naming -o and exit status 2."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        reason = "is a directory" if isinstance(exc, IsADirectoryError) else exc.strerror
        _fail(f"-o: cannot write {quoted(str(path))}: {reason or exc}")


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
LocaleOption = Annotated[
    str,
    typer.Option(
        "--locale",
        help="The tables' and explanations' language: en, de, fr, ms or hi (en-IN, ...).",
    ),
]


@app.command()
def simulate(
    plan: PlanOption,
    data: DataOption,
    period: PeriodOption,
    output: FormatOption = OutputFormat.table,
    explain: ExplainOption = False,
    locale: LocaleOption = "en",
) -> None:
    """Run a plan offline against CSV files and print what it pays."""
    from babel import Locale, UnknownLocaleError

    from api.simulator import render_json, render_table
    from api.simulator import simulate as run

    try:
        Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        _fail(f"--locale: {quoted(locale)} is not a locale (en, de, fr, ms, hi, de-DE, ...)")
    try:
        result = run(plan, data, period)
    except DomainError as exc:
        _fail(str(exc))
        return
    if output is OutputFormat.json:
        sys.stdout.write(render_json(result, explain=explain, locale=locale) + "\n")
    else:
        render_table(result, Console(), explain=explain, locale=locale)


# --- the service ---------------------------------------------------------------------------

TenantOption = Annotated[
    str, typer.Option("--tenant", envvar="PODIUM_TENANT", help="The tenant's slug.")
]
HostOption = Annotated[str, typer.Option("--host", envvar="PODIUM_HOST", help="Address to bind.")]
PortOption = Annotated[
    int, typer.Option("--port", envvar="PODIUM_PORT", min=1, max=65535, help="Port to bind.")
]


_dev_env: list[Path] = []  # the .podium/env file the URLs came from, once read


def default_public_url(host: str, port: int) -> None:
    """Without PODIUM_PUBLIC_URL, the address this process serves on (`podium dev`, and
    `serve` in development): the links and credentials it hands out point back at it.
    Production requires the variable."""
    import os

    from api.settings import local_url

    if not os.environ.get("PODIUM_PUBLIC_URL"):
        os.environ["PODIUM_PUBLIC_URL"] = local_url(host, port)


def _settings() -> Settings:
    """The settings; with neither DATABASE_URL nor REDIS_URL set, those of a `podium dev`
    running in this folder (its .podium/env), and a line on stderr saying so. Never in
    production: a service started in a checkout where someone ran `make run` must not serve
    from the demo's embedded database."""
    import os

    from api.demo.devfiles import data_dir, load_dev_env
    from api.settings import Settings, SettingsError

    development = os.environ.get("PODIUM_ENV", "development") == "development"
    if not _dev_env and development and (used := load_dev_env(os.environ, data_dir())):
        _dev_env.append(used)
        sys.stderr.write(
            f"podium: using podium dev's database {_redact(os.environ['DATABASE_URL'])} "
            f"(from {used})\n"
        )
    try:
        return Settings.from_env()
    except SettingsError as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


def database_trouble(exc: BaseException) -> str:
    """Why the database could not be used, in the server's words: tortoise's "Can't establish
    connection to database podium" hides whether the server is down, the password wrong or
    the database missing (then with the command that creates it)."""
    import asyncpg
    from tortoise.exceptions import DBConnectionError

    cause = exc.__cause__ if isinstance(exc, DBConnectionError) and exc.__cause__ else exc
    if isinstance(cause, asyncpg.InvalidCatalogNameError):
        return f"{cause}: create it (createdb, or CREATE DATABASE in psql), then run podium again"
    if isinstance(cause, asyncpg.exceptions.InternalClientError):
        return f"the connection was lost mid-statement ({cause})"
    return str(cause) or type(cause).__name__


def _unreachable(database_url: str, exc: BaseException | str) -> None:
    """The database is not there: one line, exit status 1 (not the user's input)."""
    hint = f" (from {_dev_env[0]}: is podium dev still running?)" if _dev_env else ""
    reason = exc if isinstance(exc, str) else database_trouble(exc)
    sys.stderr.write(
        f"podium: cannot use the database at {_redact(database_url)}{hint}: {reason}\n"
    )
    raise typer.Exit(1)


def _data_errors() -> tuple[type[BaseException], ...]:
    """What the database raises for what it refuses to store (a value out of its range, a
    constraint, a limit such as an index entry's size): the database is there."""
    import asyncpg

    return (
        asyncpg.DataError,
        asyncpg.IntegrityConstraintViolationError,
        asyncpg.ProgramLimitExceededError,
    )


def _refused(exc: BaseException) -> None:
    """The database refused what the command wrote, though it passed Podium's checks: one
    line (its message, not its DETAIL and HINT lines), exit status 1."""
    reason = exc.args[0] if exc.args else exc
    sys.stderr.write(f"podium: the database refused the data: {reason}\n")
    raise typer.Exit(1)


def _redact(url: str) -> str:
    """The URL without its password."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


def _database_errors() -> tuple[type[BaseException], ...]:
    """What a missing or refusing database raises (imported late: `podium simulate` starts
    faster without asyncpg and tortoise)."""
    import asyncpg
    from tortoise.exceptions import DBConnectionError

    # InternalClientError: a connection the server dropped mid-statement, found in a state
    # asyncpg cannot leave (seen when the database went away in the middle of a close)
    return (
        OSError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.exceptions.InternalClientError,
        DBConnectionError,
    )


def _with_database(database_url: str, work: Callable[[], Awaitable[T]]) -> T:
    """Open the ORM, run ``work``, close it; domain errors become one line and exit 2."""
    from domain.db import close_db, init_db

    async def run() -> T:
        await init_db(database_url)
        try:
            result = await work()
        except BaseException:
            # what ``work`` raised is the reason: closing after a connection the server
            # dropped mid-statement can fail too (tortoise, left inside the transaction that
            # failed, closes its wrapper: AttributeError), which would hide it behind a
            # traceback
            with contextlib.suppress(Exception):
                await close_db()
            raise
        await close_db()
        return result

    try:
        return asyncio.run(run())
    except DomainError as exc:
        _fail(str(exc))
        raise  # unreachable
    except _data_errors() as exc:
        _refused(exc)
    except _database_errors() as exc:
        _unreachable(database_url, exc)
    except Exception as exc:
        import asyncpg

        if isinstance(exc.__cause__, _data_errors()):  # the same, through tortoise
            _refused(exc.__cause__)
        # reached, but without Podium's tables or columns (never migrated, not migrated since
        # an upgrade, or another database): tortoise wraps asyncpg's UndefinedTableError or
        # UndefinedColumnError; any other failure surfaces as the bug it is
        if not isinstance(
            exc.__cause__, asyncpg.UndefinedTableError | asyncpg.UndefinedColumnError
        ):
            raise
        _unreachable(database_url, f"{exc.__cause__}; run `podium migrate` first")
        raise  # unreachable


def in_transaction() -> Any:
    from tortoise.transactions import in_transaction as begin

    return begin()


async def _tenant(slug: str) -> Tenant:
    from domain.tenants.repository import tenant_by_slug

    tenant = await tenant_by_slug(slug)
    if tenant is None:
        raise NotFound(f"no tenant {quoted(slug)} (podium tenant create ...)", field="--tenant")
    return tenant


@app.command()
def migrate() -> None:
    """Apply the database migrations not applied yet (DATABASE_URL)."""
    from domain.db import migrate as apply

    settings = _settings()
    try:
        asyncio.run(apply(settings.database_url))
    except _database_errors() as exc:
        _unreachable(settings.database_url, exc)
    sys.stdout.write(f"migrated {_redact(settings.database_url)}\n")


WorkersOption = Annotated[
    int,
    typer.Option(
        "--workers", envvar="PODIUM_API_WORKERS", min=1, max=64,
        help="API processes sharing the port (one per core serves the most requests).",
    ),
]  # fmt: skip


@app.command()
def serve(
    host: HostOption = "127.0.0.1", port: PortOption = 8000, workers: WorkersOption = 1
) -> None:
    """Serve the API (GraphQL at /graphql, /health); settings from the environment."""
    import os

    import uvicorn

    if os.environ.get("PODIUM_ENV", "development") == "development":
        default_public_url(host, port)
    _settings()  # a bad setting is one line here, not a traceback inside uvicorn
    _refuse_taken_address(host, port)
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,  # each process its own pools and live hub (Redis fans out to all)
        access_log=False,  # Podium's middleware logs each request once, with its request id
        proxy_headers=True,  # trusts FORWARDED_ALLOW_IPS (uvicorn's variable; 127.0.0.1)
    )


tenant_app = typer.Typer(help="Tenants: one company each.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")


@tenant_app.command("create")
def tenant_create(
    slug: Annotated[str, typer.Option("--slug", help="Short name in URLs and tokens.")],
    name: Annotated[str, typer.Option("--name", help="The company's name.")],
    currency: Annotated[str, typer.Option("--currency", help="ISO 4217, e.g. EUR.")],
    locale: Annotated[str, typer.Option("--locale", help="e.g. en, de-DE.")] = "en",
    time_zone: Annotated[
        str, typer.Option("--time-zone", help="IANA zone; periods follow it.")
    ] = "UTC",
) -> None:
    """Create a tenant with fresh JWT and webhook secrets; print its id and webhook secret."""
    from domain.tenants.service import create_tenant

    async def work() -> Tenant:
        async with in_transaction():
            return await create_tenant(
                slug=slug, name=name, currency=currency, locale=locale, time_zone=time_zone
            )

    tenant = _with_database(_settings().database_url, work)
    sys.stdout.write(
        f"{tenant.id}\n"
        f"webhook: POST /webhooks/crm/{tenant.slug}, signed with this secret (shown once; "
        f"podium tenant rotate-secret makes a new one):\n{tenant.webhook_secret}\n"
    )


MAX_TTL = timedelta(days=3650)  # an expiry past the year 9999 cannot be computed


def parse_ttl(text: str) -> timedelta:
    """``90`` (seconds), ``30m``, ``12h``, ``7d``."""
    match = re.fullmatch(r"\s*([0-9]{1,9})\s*([smhd]?)\s*", text)  # ASCII digits, bounded
    if not match or int(match[1]) == 0:
        raise InvalidInput(f"{text!r} is not a duration (90, 30m, 12h, 7d)", field="--ttl")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
    ttl = timedelta(seconds=int(match[1]) * unit)
    if ttl > MAX_TTL:
        raise InvalidInput(f"{text!r} is longer than {MAX_TTL.days} days", field="--ttl")
    return ttl


@app.command()
def token(
    tenant: TenantOption,
    user: Annotated[str, typer.Option("--user", help="The person's CRM (external) id.")],
    ttl: Annotated[str, typer.Option("--ttl", help="Lifetime: 90, 30m, 12h, 7d.")] = "12h",
) -> None:
    """Print a bearer token for a person, signed with the tenant's secret."""
    from api.auth import mint_token
    from domain.org.repository import UserRepository
    from domain.org.viewer import Viewer

    settings = _settings()
    try:
        lifetime = parse_ttl(ttl)
    except DomainError as exc:
        _fail(str(exc))
        return

    async def work() -> str:
        found = await _tenant(tenant)
        person = await UserRepository(Viewer.system(found.id, "cli")).by_external_id(user)
        if person is None:
            raise NotFound(f"no person {user!r} in tenant {tenant!r}", field="--user")
        return mint_token(found, person, audience=settings.jwt_audience, ttl=lifetime)

    sys.stdout.write(_with_database(settings.database_url, work) + "\n")


import_app = typer.Typer(
    help="Bulk-load CRM data from CSV files (the simulator's columns). All or nothing.",
    no_args_is_help=True,
)
app.add_typer(import_app, name="import")
FileArgument = Annotated[Path, typer.Argument(help="The CSV file.", show_default=False)]


RecomputeOption = Annotated[
    bool,
    typer.Option(
        "--recompute", help="Then recompute the earnings of every person and period it changed."
    ),
]


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _import(kind: str, tenant: str, path: Path, recompute: bool = False) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from domain.crm import service
    from domain.datasets.csvfiles import csv_lines
    from domain.org.viewer import Viewer

    importer = {
        "reps": service.import_reps,
        "transactions": service.import_transactions,
        "quotas": service.import_quotas,
        "fx": service.import_fx_rates,
    }[kind]
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        _fail(f"{path}: no such file")
        return
    except UnicodeDecodeError:
        _fail(f"{path}: is not UTF-8 text")
        return
    except OSError as exc:
        _fail(f"{path}: cannot read: {exc.strerror}")
        return
    lines = csv_lines(text)
    total = service.count_rows(lines)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
    )
    task = bar.add_task(f"loading {path.name}", total=total)

    def advance(rows: int) -> None:
        if not bar.live.is_started:  # only once the whole file is valid
            bar.start()
        bar.advance(task, rows)

    async def work() -> service.ImportResult:
        found = await _tenant(tenant)
        viewer = Viewer.system(found.id, "cli-import")
        async with in_transaction():
            return await importer(viewer=viewer, lines=lines, file=path.name, progress=advance)

    try:
        result = _with_database(_settings().database_url, work)
    finally:
        if bar.live.is_started:
            bar.stop()
    summary = (
        f"{path.name}: {_plural(result.rows, 'row')}, {result.inserted} new, "
        f"{result.updated} updated"
    )
    if kind == "transactions":
        summary += f", {result.skipped} skipped (older than the stored version)"
    if kind == "fx":
        summary += f", {result.skipped} unchanged"
    if kind == "reps":
        summary += f", {_plural(result.managers_changed, 'manager change')}"
    sys.stdout.write(summary + "\n")
    if result.late_events:
        sys.stdout.write(
            f"{_plural(result.late_events, 'late change')} to closed periods (their results "
            "stay final) flagged for the next open period\n"
        )
    if result.touched:
        _stale_earnings(tenant, list(result.touched), recompute)


def _stale_earnings(tenant: str, touched: list[tuple[Any, str]], recompute: bool) -> None:
    """Stored earnings do not follow an import by themselves: say so, or recompute them
    (the service the workers use, 100 (person, period)s per transaction)."""
    from domain.earnings.service import recompute_many
    from domain.org.viewer import Viewer

    people = len({user for user, _ in touched})
    periods = sorted({period for _, period in touched})
    if not recompute:
        sys.stderr.write(
            f"hint: the stored earnings of {_plural(people, 'person', 'people')} in "
            f"{', '.join(periods)} do not include this import yet: run it with --recompute, "
            f"or podium recompute --tenant {tenant} --period {periods[0]}\n"
        )
        return

    async def work() -> tuple[int, list[str]]:
        found = await _tenant(tenant)
        viewer = Viewer.system(found.id, "cli-import")
        done, refused = 0, []
        for start in range(0, len(touched), 100):
            async with in_transaction():
                for outcome in await recompute_many(
                    viewer=viewer, pairs=touched[start : start + 100]
                ):
                    if outcome.refused is None:
                        done += 1
                    else:
                        refused.append(f"{outcome.period}: {outcome.refused}")
        return done, refused

    done, refused = _with_database(_settings().database_url, work)
    sys.stdout.write(
        f"recomputed {_plural(done, 'earnings period')} of "
        f"{_plural(people, 'person', 'people')} ({', '.join(periods)})"
        + (f", {len(refused)} refused" if refused else "")
        + "\n"
    )
    for line in sorted(set(refused))[:10]:
        sys.stdout.write(f"  {line}\n")


@import_app.command("reps")
def import_reps(
    path: FileArgument, tenant: TenantOption, recompute: RecomputeOption = False
) -> None:
    """reps.csv: id,name,manager_id,hire_date,end_date (+ email, role and attribute columns)."""
    _import("reps", tenant, path, recompute)


@import_app.command("transactions")
def import_transactions(
    path: FileArgument, tenant: TenantOption, recompute: RecomputeOption = False
) -> None:
    """transactions.csv: id,rep_id,type,amount,currency,date,state,splits (+ version, fields)."""
    _import("transactions", tenant, path, recompute)


@import_app.command("quotas")
def import_quotas(
    path: FileArgument, tenant: TenantOption, recompute: RecomputeOption = False
) -> None:
    """quotas.csv: rep_id,measure,period,value."""
    _import("quotas", tenant, path, recompute)


@import_app.command("fx")
def import_fx(path: FileArgument, tenant: TenantOption, recompute: RecomputeOption = False) -> None:
    """fx.csv: date,currency,quote_currency,rate (rate units of quote_currency, a plan's
    currency, buy one unit of currency from date until the pair's next rate)."""
    _import("fx", tenant, path, recompute)


@app.command()
def dev(host: HostOption = "127.0.0.1", port: PortOption = 8000) -> None:
    """Run everything locally: database, Redis, demo tenant, worker, API, ready-made tokens.

    Without DATABASE_URL / REDIS_URL, embedded PostgreSQL and Redis keep their data in
    .podium/ in the working directory, and their URLs in .podium/env for the other podium
    commands run there. One podium dev per folder (a second one refuses, exit status 2).
    Ctrl-C stops everything.
    """
    from api.demo.devserver import run_dev

    run_dev(host=host, port=port, data_dir=Path.cwd() / ".podium")


from api.cli_admin import register as _register_admin  # noqa: E402 - needs `app` above
from api.cli_close import register as _register_close  # noqa: E402 - needs `app` above
from api.cli_ingest import register as _register_ingest  # noqa: E402 - needs `app` above
from api.cli_leaderboards import register as _register_leaderboards  # noqa: E402
from api.cli_mapping import register as _register_mapping  # noqa: E402 - needs `app` above
from api.cli_payouts import register as _register_payouts  # noqa: E402
from api.cli_statements import register as _register_statements  # noqa: E402
from api.cli_targets import register as _register_targets  # noqa: E402 - needs `app` above

_register_close(app)
_register_ingest(app)
_register_admin(app, tenant_app)
_register_mapping(app)
_register_targets(app)
_register_leaderboards(app)
_register_statements(app)
_register_payouts(app)


def _plain_metavars(command: Any) -> None:
    """Name each value in --help by its option (``--tenant TENANT``, ``FILE``) instead of
    typer's Python types (``<str>``, ``{path}``); flags show none."""
    for param in command.params:
        if param.param_type_name == "option":  # typer ships its own click: no isinstance
            if param.metavar is None and not (param.is_flag or param.count):
                param.metavar = max(param.opts, key=len).lstrip("-").upper().replace("-", "_")
        elif param.metavar is None and param.name:
            name = param.metavar = "FILE" if param.name == "path" else param.name.upper()
            # typer writes a required argument as {name} in the usage line
            param._usage_display_name = lambda name=name: name  # type: ignore[attr-defined]
            param.display_type_rich = lambda ctx: None  # type: ignore[attr-defined]
    for sub in getattr(command, "commands", {}).values():
        _plain_metavars(sub)


def _plain_text_only(command: Any) -> None:
    """Every text option and argument of every command refuses control characters (a
    newline, a tab, \\x01, ...): one line naming the option, exit status 2. Such text
    ends up in the database, the audit log and one-line listings."""
    for param in command.params:
        name = max(param.opts, key=len) if param.param_type_name == "option" else param.name
        param.callback = _without_controls(name, param.callback)
    for sub in getattr(command, "commands", {}).values():
        _plain_text_only(sub)


def _without_controls(name: str, callback: Any) -> Any:
    from domain.kit.text import control_character

    def check(ctx: Any, param: Any, value: Any) -> Any:
        texts = value if isinstance(value, list | tuple) else [value]
        for text in texts:
            if isinstance(text, str) and (found := control_character(text)):
                _fail(f"{name}: contains a control character ({found}): give plain text")
        return value if callback is None else callback(ctx, param, value)

    return check


def cli() -> Any:
    command = typer.main.get_command(app)
    _plain_metavars(command)
    _plain_text_only(command)
    return command


def main() -> None:
    try:
        cli()(prog_name="podium")
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        # `podium people list | head`: the reader has what it wanted; no traceback, and no
        # second error when Python flushes stdout on the way out
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)


if __name__ == "__main__":
    main()
