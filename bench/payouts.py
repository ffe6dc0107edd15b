"""Payout benchmark: a 20,000-item batch.

    python -m bench.payouts                  # files and Stripe execution, 20,000 items
    python -m bench.payouts --items 2000     # a quick check

1. SEPA: a pain.001.001.09 file of 20,000 credit transfers written (`credit_transfer_file`,
   which validates it against the XSD with xmlschema before it answers), then the same file
   validated alone by Podium's check (`validate_sepa`) and by `xmllint --noout --schema` in a
   subprocess: the ratio of the two validations.
2. NACHA: a PPD file of 20,000 entries written (`ach_file`) and checked by achkit.
3. Stripe: a batch of 20,000 approved statements (generated into PostgreSQL, not timed)
   created, approved and executed through `payments.batches.service.execute_batch` against
   the Stripe stand-in (payments/methods/sandbox/stripe_connect.py) served by a process of its
   own on 127.0.0.1 (`python -m payments.methods.sandbox.stripe_connect`), a batch a month for
   ``--runs`` months; items/s (median), beside the ceiling measured in the same run: the Stripe
   adapter alone paying as many items at once against the same stand-in, with no database; CPU
   per item of this process, of its PostgreSQL backends and of the stand-in; how many transfers
   the stand-in made per idempotency key and per item (0 duplicates).

Each figure is the median of ``--runs`` runs (3). Targets: Stripe >= 200 items/s on a
2-core machine with 0 duplicates.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.api import _recreate_database
from bench.close import BackendCpu

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
TARGET_ITEMS_PER_SECOND = 200.0
CREATED = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
STANDIN_KEY = "sk_test_51PodiumBenchStandIn000000"


def _instructions(n: int, method: str) -> list[Any]:
    from schwifty import IBAN

    from payments.methods.models import PayoutInstruction, idempotency_key
    from payments.payouts.models import BankAccountType, PayoutMethod
    from payments.payouts.validation import PayoutAccount, PostalAddress

    tenant = uuid.UUID(int=1)
    out = []
    for i in range(n):
        if method == "sepa":
            account = PayoutAccount(
                method=PayoutMethod.SEPA_FILE,
                iban=str(IBAN.generate("DE", bank_code="37040044", account_code=f"{i:010d}")),
                bic="COBADEFFXXX",
                address=PostalAddress("Sonnenallee", str(i % 200 + 1), "20095", "Hamburg", "DE"),
            )
            currency = "EUR"
        else:
            account = PayoutAccount(
                method=PayoutMethod.NACHA_FILE, routing_number="021000021",
                account_number=f"{100000 + i}", account_type=BankAccountType.CHECKING,
            )  # fmt: skip
            currency = "USD"
        reference = f"B1-{i + 1:06d}"
        out.append(
            PayoutInstruction(
                reference=reference,
                payee_id=uuid.UUID(int=i + 2),
                payee_name=f"Jürgen Weiß {i}",
                account=account,
                amount=Decimal(1000 + i % 5000) / 100,
                currency=currency,
                description=f"Provision Oktober 2026 Nr. {i}",
                idempotency_key=idempotency_key(tenant_id=tenant, reference=reference),
            )  # fmt: skip
        )
    return out


def _children_cpu() -> float:
    """user + system seconds of this process's finished children (xmllint)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sepa(n: int, runs: int) -> None:
    from payments.methods.sepa import SepaDebtor, credit_transfer_file, validate_sepa
    from payments.payouts.validation import PostalAddress

    debtor = SepaDebtor.of(
        name="Helios Energy GmbH", iban="DE02 1203 0000 0000 2020 51", bic="BYLADEM1001",
        address=PostalAddress("Sonnenallee", "1", "20095", "Hamburg", "DE"),
    )  # fmt: skip
    instructions = _instructions(n, "sepa")
    xsd = ROOT / "payments" / "methods" / "xsd" / "pain.001.001.09.xsd"
    writes, ours, theirs = [], [], []
    folder = Path(tempfile.mkdtemp(prefix="podium-bench-payouts-"))
    try:
        for _ in range(runs):
            started = time.process_time()
            written = credit_transfer_file(
                instructions=instructions, debtor=debtor, message_id="BENCH-0001",
                created_at=CREATED, execution_date=date(2026, 11, 3),
            )  # fmt: skip
            writes.append(time.process_time() - started)
            path = folder / written.filename
            path.write_bytes(written.content)
            started = time.process_time()
            validate_sepa(written.content, "pain.001.001.09")
            ours.append(time.process_time() - started)
            before = _children_cpu()
            checked = subprocess.run(
                ["xmllint", "--noout", "--nonet", "--schema", str(xsd), str(path)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            theirs.append(_children_cpu() - before)
            if checked.returncode != 0:
                raise SystemExit(f"xmllint refused the file: {checked.stderr[:500]}")
        size = len(written.content)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    write, own, lint = (statistics.median(x) for x in (writes, ours, theirs))
    print(
        f"SEPA pain.001.001.09, {n:,} transfers ({size / 2**20:.1f} MiB): written and validated "
        f"in {write:.2f} s CPU ({write / n * 1e6:.0f} µs a transfer); validation alone "
        f"{own:.2f} s CPU, xmllint --schema {lint:.2f} s CPU (its start and XSD included): "
        f"{own / lint:.1f}x xmllint"
    )


def nacha(n: int, runs: int) -> None:
    import achkit

    from payments.methods.nacha import NachaOrigin, ach_file

    origin = NachaOrigin.of(
        odfi_routing="091000019", odfi_name="Wells Fargo", immediate_origin="1234567890",
        company_name="Helios Energy Inc", company_id="1234567890", entry_description="COMMISSION",
    )  # fmt: skip
    instructions = _instructions(n, "nacha")
    times = []
    for _ in range(runs):
        started = time.process_time()
        written = ach_file(instructions=instructions, origin=origin, created_at=CREATED,
                           effective_date=date(2026, 11, 3))  # fmt: skip
        times.append(time.process_time() - started)
    verdict = achkit.validate(written.content.decode())
    if not verdict.get("ok"):
        raise SystemExit(f"achkit refused the file: {verdict['errors'][:3]}")
    took = statistics.median(times)
    print(
        f"NACHA PPD, {n:,} entries: written in {took:.2f} s CPU ({took / n * 1e6:.0f} µs an "
        "entry); achkit: valid"
    )


async def _seed(database_url: str, n: int, periods: list[str]) -> tuple[Any, Any, Any, list[str]]:
    """A tenant with ``n`` payees paid through Stripe, each with an approved statement of
    each of ``periods``; a payout ops person and an admin. Not timed."""
    from tortoise import connections

    from api.settings import DEVELOPMENT_PAYOUT_DETAILS_SECRET as SECRET
    from domain.db import init_db, migrate
    from domain.org.models import Role, User
    from domain.tenants.service import create_tenant
    from payments.payouts.models import PayoutDetails, PayoutMethod
    from payments.payouts.sealing import seal
    from payments.payouts.validation import PayoutAccount
    from payments.statements.models import Statement

    await migrate(database_url)
    await init_db(database_url)
    tenant = await create_tenant(slug="payout-bench", name="Payout bench", currency="EUR")
    ops = await User.create(id=uuid.uuid4(), tenant_id=tenant.id, external_id="ops",
                            display_name="Ops", role=Role.PAYOUT_OPS)  # fmt: skip
    admin = await User.create(id=uuid.uuid4(), tenant_id=tenant.id, external_id="admin",
                              display_name="Admin", role=Role.ADMIN)  # fmt: skip
    now = datetime.now(UTC)
    people = [
        User(
            id=uuid.uuid4(),
            tenant_id=tenant.id,
            external_id=f"rep{i:05d}",
            display_name=f"Rep {i}",
            role=Role.REP,
        )  # fmt: skip
        for i in range(n)
    ]
    await User.bulk_create(people, batch_size=2000)
    accounts = [f"acct_1Bench{i:010d}" for i in range(n)]
    details = []
    for user, account in zip(people, accounts, strict=True):
        clear = PayoutAccount(method=PayoutMethod.STRIPE, stripe_account_id=account)
        details.append(
            PayoutDetails(
                id=uuid.uuid4(),
                tenant_id=tenant.id,
                user_id=user.id,
                method=PayoutMethod.STRIPE,
                masked_account=f"{account[:8]}••••",
                sealed=seal(clear, secret=SECRET, tenant_id=tenant.id, user_id=user.id),
                created_at=now,
                updated_at=now,
            )  # fmt: skip
        )
    await PayoutDetails.bulk_create(details, batch_size=2000)
    await Statement.bulk_create(
        [
            Statement(
                id=uuid.uuid4(),
                tenant_id=tenant.id,
                user_id=u.id,
                period=period,
                currency="EUR",
                status="approved",
                total=Decimal(1000 + i % 5000) / 100,
                approved_at=now,
            )  # fmt: skip
            for period in periods
            for i, u in enumerate(people)
        ],
        batch_size=2000,
    )
    # as the statements' build leaves them (it analyzes what it loads)
    await connections.get("default").execute_script("ANALYZE statements, statement_lines")
    return tenant, ops, admin, accounts


def _standin(accounts: list[str]) -> tuple[subprocess.Popen[str], str]:
    """The Stripe stand-in in a process of its own (`python -m
    payments.methods.sandbox.stripe_connect`), and its address."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "payments.methods.sandbox.stripe_connect", "--api-key",
         STANDIN_KEY, "--balance", "eur=1000000000000", "--accounts", "-"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write("".join(f"{a}\n" for a in accounts))
    proc.stdin.close()
    return proc, proc.stdout.readline().strip()


async def _stats(url: str) -> dict[str, Any]:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(f"{url}/_standin/stats") as got:
        return dict(await got.json())


async def _baseline(url: str, accounts: list[str]) -> float:
    """Items/s of the Stripe adapter alone against the same stand-in, as many at once as a
    batch pays (no database, no batch): the ceiling of the provider's round trips here."""
    from payments.batches.service import CONCURRENCY
    from payments.methods.models import PayoutInstruction, Submitted, idempotency_key
    from payments.methods.stripe_connect import StripeConfig, StripeConnect
    from payments.payouts.models import PayoutMethod
    from payments.payouts.validation import PayoutAccount

    tenant = uuid.uuid4()
    queue = [
        PayoutInstruction(
            reference=f"BASE-{i}",
            payee_id=uuid.uuid4(),
            payee_name=f"Rep {i}",
            account=PayoutAccount(method=PayoutMethod.STRIPE, stripe_account_id=account),
            amount=Decimal("12.34"),
            currency="EUR",
            description="Commission baseline",
            idempotency_key=idempotency_key(tenant_id=tenant, reference=f"BASE-{i}"),
        )  # fmt: skip
        for i, account in enumerate(accounts)
    ]
    client = StripeConnect(StripeConfig(api_key=STANDIN_KEY, api_base=url))
    outcomes: list[Any] = []

    async def lane() -> None:
        while queue:
            outcomes.append(await client.pay(queue.pop()))

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(CONCURRENCY)))
    took = time.perf_counter() - started
    await client.close()
    assert all(isinstance(o, Submitted) for o in outcomes), outcomes[:3]
    return len(outcomes) / took


async def stripe(server: str, n: int, runs: int) -> bool:
    from tortoise.transactions import in_transaction

    from api.settings import DEVELOPMENT_PAYOUT_DETAILS_SECRET as SECRET
    from domain.db import close_db
    from domain.org.viewer import Viewer
    from payments.batches import service
    from payments.methods.service import set_stripe_config
    from payments.payouts.models import PayoutMethod

    periods = [f"2026-{10 + k:02d}" if k < 3 else f"2027-{k - 2:02d}" for k in range(runs)]
    database_url = await _recreate_database(server, "podium_bench_payouts")
    started = time.perf_counter()
    tenant, ops, admin, accounts = await _seed(database_url, n, periods)
    seeded = time.perf_counter() - started
    proc, url = _standin(accounts)
    rates, cpus, pg, standin_cpus, paid = [], [], [], [], []
    try:
        ceiling = await _baseline(url, accounts[: max(1, n // 4)])
        async with in_transaction():
            await set_stripe_config(
                viewer=Viewer.system(tenant.id, "bench"), secret=SECRET, api_key=STANDIN_KEY,
                webhook_secrets=["whsec_benchSecret00000000001"], api_base=url,
            )  # fmt: skip
        ops_viewer = Viewer(tenant_id=tenant.id, user_id=ops.id, role=ops.role)
        admin_viewer = Viewer(tenant_id=tenant.id, user_id=admin.id, role=admin.role)
        for period in periods:
            async with in_transaction():
                batch = await service.create_batch(
                    viewer=ops_viewer, period=period, method=PayoutMethod.STRIPE
                )
            async with in_transaction():
                await service.approve_batch(viewer=admin_viewer, batch_id=batch.id)
                await service.start_execution(viewer=ops_viewer, batch_id=batch.id)
            standin_cpu = (await _stats(url))["cpu_seconds"]
            with BackendCpu(database_url) as backends:
                cpu0, t0 = time.process_time(), time.perf_counter()
                summary = await service.execute_batch(
                    tenant_id=tenant.id, batch_id=batch.id, secret=SECRET
                )
                took, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            standin_cpus.append((await _stats(url))["cpu_seconds"] - standin_cpu)
            rates.append(summary.paid / took)
            cpus.append(cpu)
            pg.append(backends.seconds or 0.0)
            paid.append(summary.paid)
        stats = await _stats(url)
    finally:
        proc.kill()
        proc.wait()
        await close_db()
    rate = statistics.median(rates)
    duplicates = stats["duplicates_per_key"] + stats["duplicates_per_reference"]
    met = rate >= TARGET_ITEMS_PER_SECOND and duplicates == 0 and all(p == n for p in paid)
    print(
        f"Stripe: {n:,} payees with {runs} months of approved statements generated in "
        f"{seeded:.1f} s (not timed); a batch a month executed: {rate:,.0f} items/s, median of "
        f"{runs} ({', '.join(f'{r:,.0f}' for r in rates)}; target >= "
        f"{TARGET_ITEMS_PER_SECOND:.0f}) {'MET' if met else 'MISS'}; "
        f"{rate / ceiling:.0%} of the adapter alone against the same stand-in "
        f"({ceiling:,.0f} items/s, no database); {sum(paid):,} paid; the stand-in made "
        f"{stats['transfers']:,} transfers: {stats['duplicates_per_key']} duplicates per key, "
        f"{stats['duplicates_per_reference']} per item"
    )
    print(
        f"  CPU per item (median): this process {statistics.median(cpus) / n * 1e3:.2f} ms, "
        f"PostgreSQL {statistics.median(pg) / n * 1e3:.2f} ms, the stand-in "
        f"{statistics.median(standin_cpus) / n * 1e3:.2f} ms ({service.CONCURRENCY} items at once)"
    )
    return met


def main(args: argparse.Namespace) -> None:
    print(f"Podium payout benchmark: {args.items:,} items, median of {args.runs} runs per file")
    sepa(args.items, args.runs)
    nacha(args.items, args.runs)
    met = asyncio.run(stripe(args.server, args.items, args.runs))
    if not met:
        raise SystemExit(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--server",
        default=os.environ.get("BENCH_POSTGRES", DEFAULT_SERVER),
        help="PostgreSQL server (a database podium_bench_payouts is made on it)",
    )
    main(parser.parse_args())
