"""`podium tenant show|rotate-secret`, `podium people list` and `podium send-event`: what a
newcomer needs to reach the webhook without psql. Registered onto the typer app by
api/cli.py."""

from __future__ import annotations

import json
import os
import re
import sys
import time
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

TenantOption = Annotated[
    str, typer.Option("--tenant", envvar="PODIUM_TENANT", help="The tenant's slug.")
]
_AMOUNT = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,6})?")


def _money(amount: Decimal, currency: str) -> str:
    """1,234.50 EUR: the currency's minor unit, never 36 for 36.00."""
    from domain.kit.money import format_amount

    return f"{format_amount(amount, currency)} {currency}"


PARKED_SHOWN = 20  # parked recomputes listed by `tenant show`, the latest first


def one_line(text: str) -> str:
    """``text`` on one line (an error may span several), at most 200 characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= 200 else flat[:199] + "…"


def masked(secret: str) -> str:
    return f"{secret[:4]}…{'*' * 8} ({len(secret)} characters)"


def tenant_show(tenant: TenantOption) -> None:
    """Show a tenant's settings and webhook URL (the webhook secret masked), and the
    recomputes that failed and wait for a change or `podium recompute` (parked)."""
    from api import cli
    from domain.ingest.repository import IngestRepository
    from domain.org.viewer import Viewer

    async def work() -> tuple[Any, tuple[int, list[Any]]]:
        found = await cli._tenant(tenant)
        parked = await IngestRepository(Viewer.system(found.id, "cli")).parked_requests(
            PARKED_SHOWN
        )
        return found, parked

    found, (parked, listed) = cli._with_database(cli._settings().database_url, work)
    rotated = found.webhook_secret_rotated_at
    rows = [
        ("slug", found.slug),
        ("id", str(found.id)),
        ("name", found.name),
        ("currency", found.currency),
        ("locale", found.locale),
        ("time zone", found.time_zone),
        ("webhook path", f"/webhooks/crm/{found.slug}"),
        ("webhook secret", masked(found.webhook_secret)),
        ("secret rotated", f"{rotated:%Y-%m-%d %H:%M:%S} UTC" if rotated else "never"),
    ]
    for name, value in rows:
        sys.stdout.write(f"{name + ':':<16}{value}\n")
    sys.stdout.write(f"parked recomputes: {parked}\n")
    for p in listed:  # the latest first
        sys.stdout.write(
            f"  {p.person} {p.period}: {p.attempts} failed attempt(s), parked "
            f"{p.parked_at:%Y-%m-%d %H:%M:%S} UTC: {one_line(p.error)}\n"
        )
    if parked > len(listed):
        sys.stdout.write(f"  ... and {parked - len(listed)} more\n")
    if parked:
        sys.stdout.write(
            "  (a change to the person's data retries one; `podium recompute --rep` ends one)\n"
        )


def tenant_rotate_secret(tenant: TenantOption) -> None:
    """Make a new webhook secret and print it once; the old one works 24 more hours."""
    from api import cli
    from domain.org.viewer import Viewer
    from domain.tenants.service import rotate_webhook_secret

    async def work() -> str:
        found = await cli._tenant(tenant)
        async with cli.in_transaction():
            return await rotate_webhook_secret(viewer=Viewer.system(found.id, "cli"))

    secret = cli._with_database(cli._settings().database_url, work)
    sys.stdout.write(
        f"new webhook secret of {tenant} (shown once; the previous one is accepted for 24 "
        f"hours):\n{secret}\n"
    )


def people_list(tenant: TenantOption) -> None:
    """List a tenant's people: CRM id (what events and tokens name), name, role, manager."""
    from api import cli
    from domain.org.repository import UserRepository
    from domain.org.viewer import Viewer

    async def work() -> list[Any]:
        found = await cli._tenant(tenant)
        return await UserRepository(Viewer.system(found.id, "cli")).all()

    people = cli._with_database(cli._settings().database_url, work)
    by_id = {p.id: p.external_id for p in people}
    rows = [("CRM id", "name", "role", "manager", "email")]
    for p in sorted(people, key=lambda p: p.external_id):
        manager = by_id.get(p.manager_id, "") if p.manager_id else ""
        rows.append((p.external_id, p.display_name, str(p.role), manager, p.email or ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:4])]
        sys.stdout.write("  ".join([*cells, row[4]]).rstrip() + "\n")
    count = len(people)
    sys.stdout.write(f"{count} {'person' if count == 1 else 'people'}\n")


def send_event(
    tenant: TenantOption,
    rep: Annotated[str, typer.Option("--rep", help="The rep's CRM id (podium people list).")],
    amount: Annotated[str, typer.Option("--amount", help="e.g. 5000 or 1234.50.")],
    kind: Annotated[str, typer.Option("--type", help="The transaction's type.")] = "deal",
    state: Annotated[str, typer.Option("--state", help="The transaction's state.")] = "won",
    transaction: Annotated[
        str | None,
        typer.Option("--transaction", help="The transaction's CRM id (default: a new one)."),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option("--url", help="Podium's address (default: http://127.0.0.1:PODIUM_PORT)."),
    ] = None,
) -> None:
    """Sign and post one CRM event to the tenant's webhook, as a CRM would.

    A generic transaction.upserted event (tests/spec/CRM_EVENTS.md) dated today, signed with
    the tenant's webhook secret; prints Podium's answer."""
    import httpx

    from api import cli
    from api.webhooks.signatures import podium_signature
    from domain.kit.errors import quoted
    from domain.org.repository import UserRepository
    from domain.org.viewer import Viewer

    if not _AMOUNT.fullmatch(amount):
        cli._fail(f"--amount: {amount!r} is not an amount (5000 or 1234.50)")
    if url is not None and not _web_address(url):
        cli._fail(f"--url: {quoted(url)} is not an http:// or https:// address")

    async def work() -> Any:
        found = await cli._tenant(tenant)
        person = await UserRepository(Viewer.system(found.id, "cli")).by_external_id(rep)
        if person is None:
            cli._fail(f"--rep: no person {rep!r} in tenant {tenant!r} (podium people list)")
        return found

    found = cli._with_database(cli._settings().database_url, work)
    base = (url or f"http://127.0.0.1:{os.environ.get('PODIUM_PORT') or 8000}").rstrip("/")
    today = datetime.now(ZoneInfo(found.time_zone))
    record_id = transaction or f"cli-{uuid.uuid4().hex[:10]}"
    event = {
        "id": f"evt-cli-{uuid.uuid4().hex}",
        "type": "transaction.upserted",
        "occurred_at": today.isoformat(timespec="seconds"),
        "data": {
            "id": record_id,
            "rep_id": rep,
            "type": kind,
            "amount": str(Decimal(amount)),
            "currency": found.currency,
            "date": today.date().isoformat(),
            "state": state,
            "version": time.time_ns(),  # a later send of the same transaction wins
        },
    }
    body = json.dumps({"events": [event]}).encode()
    target = f"{base}/webhooks/crm/{found.slug}"
    headers = {
        "Content-Type": "application/json",
        "Podium-Signature": podium_signature(found.webhook_secret, body, int(time.time())),
    }
    try:
        response = httpx.post(target, content=body, headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        sys.stderr.write(f"podium: cannot reach {target}: {exc} (is podium dev running?)\n")
        raise typer.Exit(1) from None
    money = _money(Decimal(amount), found.currency)
    what = f"transaction {record_id}: {money} for {rep}, {kind}, {state}"
    if response.status_code != 202:
        sys.stderr.write(f"podium: {target} answered {response.status_code}: {response.text}\n")
        raise typer.Exit(1)
    answer = response.json()
    if answer.get("rejected"):
        reason = answer["rejected"][0].get("error", "rejected")
        sys.stderr.write(f"podium: {what}: rejected: {reason}\n")
        raise typer.Exit(2)
    sys.stdout.write(f"sent {what} -> {target}: 202 {json.dumps(answer)}\n")


def _web_address(url: str) -> bool:
    """An http:// or https:// address with a host (what httpx can post to)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        return (
            parts.scheme in ("http", "https")
            and bool(parts.hostname)
            and (parts.port is None or parts.port > 0)
        )
    except ValueError:  # a bad port or a bracketed host that is not one
        return False


def register(app: typer.Typer, tenant_app: typer.Typer) -> None:
    tenant_app.command("show")(tenant_show)
    tenant_app.command("rotate-secret")(tenant_rotate_secret)
    people_app = typer.Typer(help="People of a tenant.", no_args_is_help=True)
    people_app.command("list")(people_list)
    app.add_typer(people_app, name="people")
    app.command("send-event")(send_event)
