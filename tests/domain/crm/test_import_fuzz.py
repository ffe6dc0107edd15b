"""Generated CSV files through `podium import`'s whole path against real PostgreSQL: a
DataError naming file, row and column (nothing written), or rows stored; never a database
error from a value the tables cannot hold."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from tortoise.transactions import in_transaction

from domain.crm.service import import_quotas, import_reps, import_transactions
from domain.datasets.csvfiles import QUOTAS, REPS, TRANSACTIONS, csv_lines
from domain.kit.errors import DomainError
from tests.domain.builders import make_tenant, system_viewer
from tests.domain.datasets.test_csv_hostile import _check_typed, csv_files

FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


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
@given(text=csv_files(REPS + ("email",)))
async def test_given_generated_reps_when_imported_then_stored_or_a_typed_error(viewer, text: str):
    await _import(import_reps, viewer, text)


@FUZZ
@given(text=csv_files((*TRANSACTIONS, "version")))
async def test_given_generated_transactions_when_imported_then_stored_or_a_typed_error(
    viewer, text: str
):
    await _import(import_transactions, viewer, text)


@FUZZ
@given(text=csv_files(QUOTAS))
async def test_given_generated_quotas_when_imported_then_stored_or_a_typed_error(viewer, text: str):
    await _import(import_quotas, viewer, text)
