"""`recompute_rep_period` on the simulator's worked examples rebuilt in PostgreSQL: the stored
figures are the engine's, to the cent, for every rep and every error."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from domain.earnings.models import EarningsLine, EarningsResult, ResultStatus
from domain.earnings.service import recompute_rep_period
from tests.domain.builders import load_dataset, make_tenant, system_viewer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _opt(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


@pytest.mark.parametrize(
    "example",
    ["01-ae-marginal-tiers", "02-installers-per-unit-payable", "03-manager-rollup-formula"],
)
async def test_given_example_in_database_when_each_rep_recomputed_then_results_match_simulator(
    db: str, example: str
):
    directory = EXAMPLES / example
    period = (directory / "PERIOD").read_text().strip()
    expected = json.loads((directory / "expected.json").read_text())
    tenant = await make_tenant(slug="ex", currency=expected["currency"])
    dataset = await load_dataset(tenant=tenant, directory=directory, period=period)

    for user in dataset.people.values():
        await recompute_rep_period(viewer=system_viewer(tenant), user_id=user.id, period=period)

    for rep in expected["reps"]:
        [stored] = await EarningsResult.filter(user_id=dataset[rep["rep_id"]].id, period=period)
        assert stored.status is ResultStatus.OK, stored.error
        assert stored.currency == expected["currency"]
        assert (stored.total, stored.payable, stored.pending, stored.cap_adjustment) == (
            Decimal(rep["total"]),
            Decimal(rep["payable"]),
            Decimal(rep["pending"]),
            Decimal(rep["cap_adjustment"]),
        )
        assert [
            (m["id"], Decimal(m["total"]), _opt(m["quota"]), _opt(m["attainment"]))
            for m in stored.measures
        ] == [
            (m["id"], Decimal(m["total"]), _opt(m["quota"]), _opt(m["attainment"]))
            for m in rep["measures"]
        ]
        assert [
            (c["id"], Decimal(c["amount"]), Decimal(c["payable"]), Decimal(c["pending"]))
            for c in stored.components
        ] == [
            (c["id"], Decimal(c["amount"]), Decimal(c["payable"]), Decimal(c["pending"]))
            for c in rep["components"]
        ]
        lines = await EarningsLine.filter(
            result_id=stored.id, transaction_external_id__isnull=False
        ).order_by("position")
        assert [
            (line.component, line.transaction_external_id, line.value, line.amount)
            for line in lines
        ] == [
            (x["component"], x["transaction_id"], Decimal(x["value"]), Decimal(x["amount"]))
            for x in rep["lines"]
        ]
    for error in expected["errors"]:
        [stored] = await EarningsResult.filter(user_id=dataset[error["rep_id"]].id, period=period)
        assert stored.status is ResultStatus.ERROR
        assert stored.error == error["message"]
        assert stored.total == 0
        assert await EarningsLine.filter(result_id=stored.id).count() == 0
