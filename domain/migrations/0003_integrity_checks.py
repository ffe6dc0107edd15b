"""Invariants the services keep, enforced by the database as well, so a bulk import, a
hand-written fix or a future bug cannot store what the services would refuse: date ranges
that end before they start, negative quotas, non-positive FX rates, a person managing
themselves, a closed period without a closing time, and an error result without its reason
(an error must never read as a silent 0)."""

from tortoise import migrations
from tortoise.migrations import operations as ops

CHECKS = [
    ("plan_versions", "plan_versions_dates_ordered",
     "effective_to IS NULL OR effective_to >= effective_from"),
    ("plan_assignments", "plan_assignments_dates_ordered",
     "effective_to IS NULL OR effective_to >= effective_from"),
    ("users", "users_employment_dates_ordered",
     "end_date IS NULL OR hire_date IS NULL OR end_date >= hire_date"),
    ("users", "users_not_own_manager", "manager_id IS NULL OR manager_id <> id"),
    ("quotas", "quotas_value_not_negative", "value >= 0"),
    ("fx_rates", "fx_rates_rate_positive", "rate > 0"),
    ("periods", "periods_dates_ordered", "ends_on >= starts_on"),
    ("periods", "periods_closed_has_time", "status <> 'closed' OR closed_at IS NOT NULL"),
    ("earnings_results", "earnings_results_error_has_reason",
     "status <> 'error' OR (error IS NOT NULL AND error <> '')"),
]


class Migration(migrations.Migration):
    dependencies = [("podium", "0002_audit_append_only")]

    operations = [
        ops.RunSQL(
            [f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" CHECK ({check})'
             for table, name, check in CHECKS],
            reverse_sql=[f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "{name}"'
                         for table, name, _ in reversed(CHECKS)],
        )
    ]
