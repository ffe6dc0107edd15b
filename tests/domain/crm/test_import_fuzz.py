"""Generated CSV files through `podium import`'s whole path against real PostgreSQL: a
DataError naming file, row and column (nothing written), or rows stored; never a database
error from a value the tables cannot hold."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tortoise.transactions import in_transaction

from domain.crm.service import import_quotas, import_reps, import_transactions
from domain.datasets.csvfiles import QUOTAS, REPS, TRANSACTIONS, csv_lines
from domain.kit.errors import DomainError
from tests.domain.builders import make_tenant, system_viewer
from tests.domain.datasets.test_csv_hostile import CELLS, _cell, _check_typed, csv_files

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


VALID_ROWS = {
    "reps": (
        "id,name,manager_id,hire_date,end_date,email,region",
        "cy,Cy,ana,2026-01-01,,c@x.io,n",
    ),
    "transactions": (
        "id,rep_id,type,amount,currency,date,state,splits,version,kwp",
        "t1,ana,deal,100.50,EUR,2026-10-03,won,ana:0.5;ben:0.5,3,9.6",
    ),
    "quotas": ("rep_id,measure,period,value", "ana,bookings,2026-10,1000"),
}


@st.composite
def near_valid(draw, kind: str) -> str:
    """A valid file of a few rows, some cells replaced by hostile ones: most rows reach the
    database, so what the tables cannot hold shows up."""
    header, row = VALID_ROWS[kind]
    cells = row.split(",")
    rows = []
    for n in range(draw(st.integers(1, 4))):
        mutated = list(cells)
        mutated[0] = f"{cells[0]}{n}" if kind != "quotas" else cells[0]
        if kind == "quotas":
            mutated[2] = f"2026-{n + 1:02d}"
        for _ in range(draw(st.integers(0, 2))):
            mutated[draw(st.integers(0, len(cells) - 1))] = draw(CELLS)
        rows.append(",".join(_cell(c) for c in mutated))
    return "\n".join([header, *rows]) + "\n"


class RolledBack(Exception):
    """Ends a successful import's transaction so every example starts from the same data."""


@pytest.fixture
async def viewer(db: str):
    tenant = await make_tenant()
    viewer = system_viewer(tenant)
    async with in_transaction():
        await import_reps(
            viewer=viewer,
            lines=csv_lines("id,name,manager_id,hire_date,end_date\nana,Ana,,,\nben,Ben,ana,,\n"),
        )
    return viewer


async def _import(importer, viewer, text: str) -> None:
    try:
        async with in_transaction():
            await importer(viewer=viewer, lines=csv_lines(text), file="f.csv")
            raise RolledBack
    except RolledBack:
        return
    except DomainError as exc:
        _check_typed(exc)


@FUZZ
@given(text=st.one_of(near_valid("reps"), csv_files((*REPS, "email"))))
async def test_given_generated_reps_when_imported_then_stored_or_a_typed_error(viewer, text: str):
    await _import(import_reps, viewer, text)


@FUZZ
@given(text=st.one_of(near_valid("transactions"), csv_files((*TRANSACTIONS, "version"))))
async def test_given_generated_transactions_when_imported_then_stored_or_a_typed_error(
    viewer, text: str
):
    await _import(import_transactions, viewer, text)


@FUZZ
@given(text=st.one_of(near_valid("quotas"), csv_files(QUOTAS)))
async def test_given_generated_quotas_when_imported_then_stored_or_a_typed_error(viewer, text: str):
    await _import(import_quotas, viewer, text)
