"""The batch path (`recompute_many`) gives every person what recomputing them alone gives,
however the people are grouped: split deals whose owner is in another batch (or credited
nothing), deals in another currency, deleted ones and ones of another period; and a period's
people are chunked by their transactions (`period_chunks`)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction

from domain.crm.models import Transaction
from domain.earnings import close as closing
from domain.earnings.service import recompute_many, recompute_rep_period
from domain.kit.periods import parse_period
from tests.domain.builders import (
    TIERED,
    assign,
    make_fx_rate,
    make_tenant,
    make_transaction,
    make_user,
    plan_yaml,
    publish_plan,
    set_quota,
    system_viewer,
)


async def _stored() -> list[tuple[Any, ...]]:
    """Every stored result and line, without ids and times."""
    rows = await connections.get("default").execute_query_dict(
        """
        SELECT u.external_id, r.plan_version_id, r.status, r.error, r.total, r.payable, r.pending,
               r.measures::text, r.components::text, r.explanation::text, r.fingerprint,
               l.position, l.component, l.transaction_external_id, l.credited_rep,
               l.occurred_on, l.value, l.amount, l.status AS line_status, l.explanation
        FROM earnings_results r JOIN users u ON u.id = r.user_id
        LEFT JOIN earnings_lines l ON l.result_id = r.id
        ORDER BY 1, 2, l.position
        """
    )
    return [tuple(r.values()) for r in rows]


async def _world() -> tuple[Any, list[Any]]:
    tenant = await make_tenant(slug="acme")
    await make_fx_rate(tenant=tenant, currency="USD", rate="0.9", on="2026-09-30")
    tiered = await publish_plan(tenant=tenant, document=TIERED)
    rate = await publish_plan(tenant=tenant, document=plan_yaml(key="spiff"))  # a line a deal
    people = []
    for i in range(5):
        rep = await make_user(tenant=tenant, external_id=f"rep{i}")
        await assign(user=rep, plan=tiered)
        await assign(user=rep, plan=rate)
        await set_quota(user=rep, value=str(8000 + 1000 * i))
        people.append(rep)
    ana, ben, cid, dan, eve = people
    for i, rep in enumerate(people):
        await make_transaction(rep=rep, external_id=f"own{i}", amount=str(1000 * (i + 1)))
        await make_transaction(
            rep=rep, external_id=f"usd{i}", amount=str(700 + i), currency="USD", on="2026-10-20"
        )
    # owned by eve, credited to ana and cid only; owned by ben, shared with dan
    await make_transaction(
        rep=eve, external_id="split1", amount="6000", splits=[(ana, "0.25"), (cid, "0.75")]
    )
    await make_transaction(
        rep=ben, external_id="split2", amount="3000", splits=[(ben, "0.5"), (dan, "0.5")]
    )
    await make_transaction(rep=ana, external_id="september", amount="9999", on="2026-09-30")
    gone = await make_transaction(rep=cid, external_id="deleted", amount="5000")
    await Transaction.filter(id=gone.id).update(deleted=True)
    return tenant, people


async def test_given_split_deals_across_batches_when_recomputed_then_each_as_alone(db):
    tenant, people = await _world()
    viewer = system_viewer(tenant)
    for rep in people:
        async with in_transaction():
            await recompute_rep_period(viewer=viewer, user_id=rep.id, period="2026-10")
    alone = await _stored()
    await connections.get("default").execute_query("DELETE FROM earnings_results")

    ana, ben, cid, dan, eve = people
    for batch in ([eve, ben], [ana], [dan, cid]):
        async with in_transaction():
            await recompute_many(viewer=viewer, pairs=[(p.id, "2026-10") for p in batch])

    assert await _stored() == alone
    credited = {row[0]: row[16] for row in alone if row[13] == "split1"}
    # its owner, rep4, is credited nothing of it
    assert credited == {"rep0": Decimal("1500"), "rep2": Decimal("4500")}


async def test_given_a_period_when_chunked_then_by_transactions_in_id_order(db):
    tenant, people = await _world()
    viewer = system_viewer(tenant)

    chunks = await closing.period_chunks(viewer, parse_period("2026-10"), transactions=5)

    assert [u for chunk in chunks for u in chunk] == sorted(p.id for p in people)
    assert all(chunks)
    # owned this period: 2 each, eve and ben 3 (a split each), cid's deleted one counted too
    owned = {p.id: 2 for p in people} | {people[4].id: 3, people[1].id: 3, people[2].id: 3}
    for chunk in chunks:
        assert len(chunk) == 1 or sum(owned[u] for u in chunk) <= 5
    # the default size holds all 13 (one chunk's worth): split all the same, in halves of at
    # most 7 (two chunks, or three where a person's 3 does not fit), so that two processes
    # share even a small close
    assert len(await closing.period_chunks(viewer, parse_period("2026-10"))) in (2, 3)


async def test_given_more_than_a_chunk_when_chunked_then_equal_chunks_the_last_in_two(db):
    tenant, people = await _world()
    viewer = system_viewer(tenant)
    owned = {p.id: 2 for p in people} | {people[4].id: 3, people[1].id: 3, people[2].id: 3}
    order = sorted(owned)  # 13 transactions in all, in id order

    chunks = await closing.period_chunks(viewer, parse_period("2026-10"), transactions=8)

    assert [u for chunk in chunks for u in chunk] == order
    # 13 at most 8 a chunk: two chunks' worth, made equal (at most 7 each); the first is
    # filled up to 7, what is left after it is split in two (at most half of it, rounded up,
    # a chunk), never left whole
    sums = [sum(owned[u] for u in chunk) for chunk in chunks]
    first = 0
    while sum(owned[u] for u in order[: first + 1]) <= 7:
        first += 1
    assert chunks[0] == order[:first]
    rest = 13 - sums[0]
    assert len(chunks) >= 3
    assert all(s <= -(-rest // 2) for s in sums[1:])


def test_given_a_close_of_20000_when_chunked_then_four_equal_chunks_the_last_in_two() -> None:
    # the close benchmark's shape: 20,000 people owning 40-52 transactions each, at most
    # 250,000 transactions and 5,000 people a chunk. The people limit binds first; the last
    # chunk's worth is in two halves, with no piece of a person or two after them
    owners = [(i, 40 + (i * 7) % 13) for i in range(20_000)]

    chunks = closing.chunked(owners, 250_000, 5_000)

    assert [o for chunk in chunks for o in chunk] == [o for o, _ in owners]
    assert len(chunks) == 5
    assert all(4_990 <= len(chunk) <= 5_000 for chunk in chunks[:3])
    assert abs(len(chunks[3]) - len(chunks[4])) <= 2


def test_given_people_and_transaction_limits_when_chunked_then_the_fewest_both_allow() -> None:
    owners = list(enumerate([2, 3, 3, 2, 3, 2, 2, 3]))  # 20 transactions, 8 people

    by_people = closing.chunked(owners, 1_000, 3)  # 3 chunks' worth (3 each)
    by_transactions = closing.chunked(owners, 8, 100)  # 3 chunks' worth (7 each)
    with_a_big_one = closing.chunked([(0, 1), (1, 50), (2, 1), (3, 1)], 10, 100)

    # each time the last chunk's worth in two
    assert [len(c) for c in by_people] == [3, 3, 1, 1]
    assert [sum(dict(owners)[o] for o in c) for c in by_transactions] == [5, 5, 5, 5]
    assert with_a_big_one == [[0], [1], [2], [3]]  # more than a chunk's worth: alone


async def test_given_a_close_starting_when_chunked_then_its_planner_setting_does_not_stay(db):
    tenant, _ = await _world()
    viewer = system_viewer(tenant)

    async with in_transaction() as tx:
        await closing.period_chunks(viewer, parse_period("2026-10"))
        # the count's cost of a random page and plan mode are set back within the transaction
        [row] = await tx.execute_query_dict("SHOW random_page_cost")
        [mode] = await tx.execute_query_dict("SHOW plan_cache_mode")
    assert row["random_page_cost"] == "4"
    assert mode["plan_cache_mode"] == "auto"


async def _orphans_and_lines() -> tuple[int, int]:
    [row] = await connections.get("default").execute_query_dict(
        """
        SELECT count(*) FILTER (WHERE r.id IS NULL) AS orphans, count(*) AS lines
        FROM earnings_lines l LEFT JOIN earnings_results r ON r.id = l.result_id
        """
    )
    return int(row["orphans"]), int(row["lines"])


async def test_given_lines_when_their_results_are_deleted_any_way_then_the_lines_go_too(db):
    """Lines have no foreign key constraint to their result (migration 0046): the trigger on
    earnings_results removes them with it, whether the recompute drops a stale result, a
    plan version is deleted (a cascade), or results are deleted by hand."""
    tenant, people = await _world()
    viewer = system_viewer(tenant)
    async with in_transaction():
        await recompute_many(viewer=viewer, pairs=[(p.id, "2026-10") for p in people])
    orphans, lines = await _orphans_and_lines()
    assert (orphans, lines) == (0, lines)
    assert lines > 10
    db_ = connections.get("default")

    # a stale result: the person is no longer on the spiff plan
    ana = people[0]
    await db_.execute_query(
        "DELETE FROM plan_assignments WHERE user_id = $1 AND plan_id IN "
        "(SELECT id FROM plans WHERE key = 'spiff')",
        [ana.id],
    )
    async with in_transaction():
        await recompute_many(viewer=viewer, pairs=[(ana.id, "2026-10")])
    orphans, fewer = await _orphans_and_lines()
    assert orphans == 0
    assert fewer < lines

    # one result deleted by hand
    await db_.execute_query(
        "DELETE FROM earnings_results WHERE id = (SELECT min(id::text)::uuid FROM earnings_results)"
    )
    orphans, fewer_still = await _orphans_and_lines()
    assert orphans == 0
    assert fewer_still < fewer

    # a plan's versions deleted: their results cascade from them, and their lines with them
    await db_.execute_query("DELETE FROM plan_versions")
    assert await _orphans_and_lines() == (0, 0)


async def test_given_line_statistics_of_an_empty_table_when_results_deleted_then_by_index(db):
    """The trigger finds a deleted result's lines through the index whatever the statistics
    say (migration 0051): planned from those of an empty earnings_lines, `IN (SELECT ...)`
    walked every line and scanned the deleted results for each (a 20-minute DELETE of a
    20,000-person month). The plan is read from auto_explain's account of the trigger."""
    db_ = connections.get("default")
    await db_.execute_query("ANALYZE earnings_lines")  # empty: what the planner then believes
    tenant, people = await _world()
    async with in_transaction():
        await recompute_many(
            viewer=system_viewer(tenant), pairs=[(p.id, "2026-10") for p in people]
        )
    assert (await _orphans_and_lines())[1] > 10
    plans: list[str] = []

    def heard(_: Any, message: Any) -> None:
        plans.append(str(message))

    conn: Any
    async with db_.acquire_connection() as conn:
        conn.add_log_listener(heard)
        async with conn.transaction():
            await conn.execute(
                "LOAD 'auto_explain'; SET LOCAL auto_explain.log_min_duration = 0; "
                "SET LOCAL auto_explain.log_nested_statements = on; "
                "SET LOCAL auto_explain.log_level = notice; SET LOCAL client_min_messages = notice"
            )
            await conn.execute("DELETE FROM earnings_results")
            await conn.execute("RESET client_min_messages")
        conn.remove_log_listener(heard)
    [trigger] = [p for p in plans if "DELETE FROM earnings_lines" in p]
    assert "Index Cond: (result_id = ANY" in trigger, trigger
    assert await _orphans_and_lines() == (0, 0)


async def test_given_visible_pages_when_a_batch_reads_its_rows_then_from_the_index_alone(db):
    """A batch's own transactions are read from an index alone (transactions_own_by_rep), which
    carries every column the read needs (migration 0052): a close chunk's read was a pass over
    the whole table. Sequential and bitmap scans are off here, so that a column the read
    needs and the index lacks shows as a plain index scan, whatever a small table's costs."""
    from domain.earnings.service import _OWN_TRANSACTIONS

    tenant, people = await _world()
    db_ = connections.get("default")
    await db_.execute_script("VACUUM ANALYZE transactions")
    period = parse_period("2026-10")
    conn: Any
    async with db_.acquire_connection() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")
        plan = await conn.fetchval(
            f"EXPLAIN (ANALYZE, COSTS off, FORMAT json) {_OWN_TRANSACTIONS}",
            tenant.id,
            period.start,
            period.end,
            [p.id for p in people],
        )
    [top] = json.loads(plan)
    nodes, reads = [top["Plan"]], []
    while nodes:
        node = nodes.pop()
        nodes.extend(node.get("Plans", ()))
        if node.get("Relation Name") == "transactions":
            reads.append(node)
    [read] = reads
    assert (read["Node Type"], read["Index Name"]) == ("Index Only Scan", "transactions_own_by_rep")
    assert read["Heap Fetches"] == 0
    assert read["Actual Rows"] > 0
