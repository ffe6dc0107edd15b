"""`podium import reps|transactions|quotas FILE.csv`: COPY into PostgreSQL, a progress bar,
all or nothing, and one line naming file, row and column for a bad row."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from domain.audit.models import AuditEntry
from domain.crm.models import Transaction
from domain.org.models import User
from domain.plans.models import Quota
from tests.api.cli_runner import podium
from tests.domain.builders import make_tenant

REPS = (
    "id,name,manager_id,hire_date,end_date\nboss,Bea,,,\nana,Ana,boss,2026-01-01,\nben,Ben,ana,,\n"
)
TX_HEADER = "id,rep_id,type,amount,currency,date,state,splits,product\n"
TRANSACTIONS = (
    TX_HEADER + "t1,ana,solar,12000.50,EUR,2026-10-03,signed,,pv\n"
    "t2,ben,heat_pump,20000,EUR,2026-10-04,activated,ana:0.5;ben:0.5,hp\n"
    "t3,boss,solar,100,EUR,2026-10-05,activated,,pv\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def imported_reps(database_url: str, tmp_path: Path) -> None:
    ran = await podium(
        database_url, "import", "reps", write(tmp_path, "reps.csv", REPS), "--tenant", "acme"
    )
    assert ran.returncode == 0, ran.stderr


async def test_given_csv_files_when_imported_then_rows_in_postgres_with_a_progress_bar(
    db, tmp_path: Path
):
    tenant = await make_tenant(slug="acme")
    quotas = "rep_id,measure,period,value\nana,bookings,2026-10,100000\nben,bookings,2026-10,5.5\n"

    reps = await podium(db, "import", "reps", write(tmp_path, "reps.csv", REPS), "--tenant", "acme")
    txs = await podium(
        db, "import", "transactions", write(tmp_path, "tx.csv", TRANSACTIONS), "--tenant", "acme"
    )
    qs = await podium(db, "import", "quotas", write(tmp_path, "q.csv", quotas), "--tenant", "acme")

    assert reps.returncode == txs.returncode == qs.returncode == 0, (reps, txs, qs)
    assert reps.stdout == "reps.csv: 3 rows, 3 new, 0 updated, 2 manager changes\n"
    assert txs.stdout == (
        "tx.csv: 3 rows, 3 new, 0 updated, 0 skipped (older than the stored version)\n"
    )
    assert qs.stdout == "q.csv: 2 rows, 2 new, 0 updated\n"
    assert "loading tx.csv" in txs.stderr
    assert "3/3" in txs.stderr  # the progress bar, on stderr: stdout stays parseable
    assert await User.filter(tenant_id=tenant.id).count() == 3
    stored = {t.external_id: t for t in await Transaction.filter(tenant_id=tenant.id)}
    assert stored["t1"].amount == Decimal("12000.50")
    assert stored["t2"].extra_fields == {"product": "hp"}
    assert len(stored["t2"].credited_user_ids) == 2
    assert {q.value for q in await Quota.filter(tenant_id=tenant.id)} == {
        Decimal("100000"),
        Decimal("5.5"),
    }
    assert await AuditEntry.filter(tenant_id=tenant.id, entity_type="import").count() == 3


async def test_given_same_file_when_imported_again_then_rows_are_updated_not_duplicated(
    db, tmp_path: Path
):
    tenant = await make_tenant(slug="acme")
    await imported_reps(db, tmp_path)
    first = write(tmp_path, "tx.csv", TRANSACTIONS)
    await podium(db, "import", "transactions", first, "--tenant", "acme")
    changed = write(tmp_path, "tx2.csv", TRANSACTIONS.replace("12000.50", "13000"))

    again = await podium(db, "import", "transactions", changed, "--tenant", "acme")

    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("tx2.csv: 3 rows, 0 new, 3 updated")
    assert await Transaction.filter(tenant_id=tenant.id).count() == 3
    t1 = await Transaction.get(tenant_id=tenant.id, external_id="t1")
    assert t1.amount == Decimal("13000")


async def test_given_one_bad_row_when_imported_then_exit_2_with_file_row_column_and_nothing_written(
    db, tmp_path: Path
):
    tenant = await make_tenant(slug="acme")
    await imported_reps(db, tmp_path)
    bad = TRANSACTIONS + "t4,ana,solar,12.000,00,EUR,2026-10-06,signed,,pv\n"
    rows = TRANSACTIONS.splitlines()
    rows.insert(3, "t9,ana,solar,1O0,EUR,2026-10-06,signed,,pv")  # the letter O, not a zero
    typo = "\n".join(rows) + "\n"

    wrong_cells = await podium(
        db, "import", "transactions", write(tmp_path, "bad.csv", bad), "--tenant", "acme"
    )
    not_a_number = await podium(
        db, "import", "transactions", write(tmp_path, "typo.csv", typo), "--tenant", "acme"
    )

    wrong_cells.one_line_error("bad.csv row 5", "has 10 cells, the header has 9")
    not_a_number.one_line_error("typo.csv row 4 column amount: '1O0' is not a number")
    assert await Transaction.filter(tenant_id=tenant.id).count() == 0
    assert await AuditEntry.filter(tenant_id=tenant.id, action="import.transactions").count() == 0


async def test_given_unknown_rep_in_splits_when_imported_then_one_line_and_nothing_written(
    db, tmp_path: Path
):
    tenant = await make_tenant(slug="acme")
    await imported_reps(db, tmp_path)
    text = TRANSACTIONS + "t4,ana,solar,10,EUR,2026-10-06,signed,ana:0.5;zoe:0.5,pv\n"

    ran = await podium(
        db, "import", "transactions", write(tmp_path, "tx.csv", text), "--tenant", "acme"
    )

    ran.one_line_error("tx.csv row 5 column splits: unknown rep 'zoe'")
    assert await Transaction.filter(tenant_id=tenant.id).count() == 0


async def test_given_more_rows_than_one_copy_chunk_when_imported_then_all_loaded(
    db, tmp_path: Path
):
    tenant = await make_tenant(slug="acme")
    await imported_reps(db, tmp_path)
    body = "".join(
        f"x{i},ana,solar,{i}.25,EUR,2026-10-{1 + i % 28:02d},signed,,pv\n" for i in range(12001)
    )

    ran = await podium(
        db,
        "import",
        "transactions",
        write(tmp_path, "big.csv", TX_HEADER + body),
        "--tenant",
        "acme",
    )

    assert ran.returncode == 0, ran.stderr
    assert "12001/12001" in ran.stderr
    assert await Transaction.filter(tenant_id=tenant.id).count() == 12001
    last = await Transaction.get(tenant_id=tenant.id, external_id="x12000")
    assert last.amount == Decimal("12000.25")


async def test_given_bad_arguments_when_importing_then_one_line_and_exit_2(db, tmp_path: Path):
    await make_tenant(slug="acme")
    reps = write(tmp_path, "reps.csv", REPS)
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("id,name,manager_id,hire_date,end_date\nj,Jos\xe9,,,\n".encode("latin-1"))

    no_tenant = await podium(db, "import", "reps", reps, "--tenant", "nope")
    no_file = await podium(db, "import", "reps", tmp_path / "missing.csv", "--tenant", "acme")
    not_utf8 = await podium(db, "import", "reps", latin1, "--tenant", "acme")
    bad_header = await podium(
        db, "import", "quotas", write(tmp_path, "q.csv", "rep,measure\n"), "--tenant", "acme"
    )

    no_tenant.one_line_error("no tenant 'nope'")
    no_file.one_line_error("missing.csv: no such file")
    not_utf8.one_line_error("latin1.csv: is not UTF-8 text")
    bad_header.one_line_error("q.csv row 1", "missing column(s) rep_id, period, value")


async def test_given_hostile_cells_when_importing_then_one_line_exit_2_and_nothing_written(
    db, tmp_path: Path
):
    """A NUL byte, a version past BIGINT, a year 0 period: one line naming file, row and
    column, exit status 2 (not a traceback from PostgreSQL or int())."""
    await make_tenant(slug="acme")
    await imported_reps(db, tmp_path)
    header = "id,rep_id,type,amount,currency,date,state,splits,version\n"
    nul = write(tmp_path, "nul.csv", header + "t1,ana,solar,1\x00,EUR,2026-10-03,won,,1\n")
    version = write(tmp_path, "v.csv", header + f"t1,ana,solar,1,EUR,2026-10-03,won,,{2**63}\n")
    year0 = write(tmp_path, "q.csv", "rep_id,measure,period,value\nana,bookings,0000-01,5\n")

    ran_nul = await podium(db, "import", "transactions", nul, "--tenant", "acme")
    ran_version = await podium(db, "import", "transactions", version, "--tenant", "acme")
    ran_year0 = await podium(db, "import", "quotas", year0, "--tenant", "acme")

    ran_nul.one_line_error("nul.csv row 2 column amount", "NUL")
    ran_version.one_line_error("v.csv row 2 column version", str(2**63 - 1))
    ran_year0.one_line_error("q.csv row 2 column period", "year 0")
    assert await Transaction.all().count() == 0
    assert await Quota.all().count() == 0


async def test_given_a_line_separator_in_a_cell_when_imported_then_one_row_as_in_simulate(
    db, tmp_path: Path
):
    """`import` and `simulate` split a file into rows the same way: U+2028 and U+0085 in a
    cell are data (str.splitlines once cut the row in two in `import` only). In an attribute:
    a person's name refuses them (one line of plain text)."""
    await make_tenant(slug="acme")
    text = (
        "id,name,manager_id,hire_date,end_date,team\n"
        "ana,Ana,,,,North\u2028East\nben,Ben,,,,South\u0085West\n"
    )

    ran = await podium(db, "import", "reps", write(tmp_path, "reps.csv", text), "--tenant", "acme")

    assert ran.returncode == 0, ran.stderr
    teams = {u: a["team"] for u, a in await User.all().values_list("external_id", "attributes")}
    assert teams == {"ana": "North\u2028East", "ben": "South\u0085West"}


async def test_given_what_postgres_cannot_keep_when_importing_then_one_line_naming_the_cell(
    db, tmp_path: Path
):
    """A date of 9999-12-31 (stored as infinity: its recompute failed every 30 s) and a
    4,000-character extra column (its index entry too large: "cannot use the database ...
    index row size", exit 1) are refused before anything is written, naming row and column."""
    await make_tenant(slug="acme")
    await imported_reps(db, tmp_path)
    header = "id,rep_id,type,amount,currency,date,state,splits,note\n"
    end_of_time = write(tmp_path, "d.csv", header + "t1,ana,solar,1,EUR,9999-12-31,won,,x\n")
    essay = write(tmp_path, "n.csv", header + f"t1,ana,solar,1,EUR,2026-10-03,won,,{'x' * 4000}\n")
    hired = write(
        tmp_path, "r.csv", "id,name,manager_id,hire_date,end_date\nzoe,Zoe,,0001-01-01,\n"
    )
    quota = write(tmp_path, "q.csv", "rep_id,measure,period,value\nana,bookings,9999-12,5\n")

    ran_date = await podium(db, "import", "transactions", end_of_time, "--tenant", "acme")
    ran_note = await podium(db, "import", "transactions", essay, "--tenant", "acme")
    ran_hired = await podium(db, "import", "reps", hired, "--tenant", "acme")
    ran_quota = await podium(db, "import", "quotas", quota, "--tenant", "acme")

    ran_date.one_line_error("d.csv row 2 column date", "9999-12-31 is outside the dates")
    ran_note.one_line_error("n.csv row 2 column note", "is longer than 1000 characters")
    ran_hired.one_line_error("r.csv row 2 column hire_date", "0001-01-01 is outside the dates")
    ran_quota.one_line_error("q.csv row 2 column period", "year 9999 is outside the years")
    assert await Transaction.all().count() == 0
    assert await Quota.all().count() == 0
    assert not await User.filter(external_id="zoe").exists()
