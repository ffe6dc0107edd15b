"""Target plans: the day a published version's quotas apply from (`effective_from`).

Versions published before this column existed get what publishing did then: a first version
applies from its period's first day, a revision from the day it was published (UTC), never
before its period's first day."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

PERIOD_START = """
CASE
    WHEN period ~ '^[0-9]{4}$' THEN make_date(period::int, 1, 1)
    WHEN period ~ '^[0-9]{4}-Q[1-4]$'
        THEN make_date(left(period, 4)::int, (right(period, 1)::int - 1) * 3 + 1, 1)
    ELSE make_date(left(period, 4)::int, right(period, 2)::int, 1)
END
"""


class Migration(migrations.Migration):
    dependencies = [("podium", "0010_targets")]

    initial = False

    operations = [
        ops.AddField(
            model_name="TargetPlan",
            name="effective_from",
            field=fields.DateField(null=True),
        ),
        ops.RunSQL(
            [
                f"""
                UPDATE target_plans SET effective_from = CASE
                    WHEN version = 1 THEN {PERIOD_START}
                    ELSE GREATEST(({PERIOD_START}), (published_at AT TIME ZONE 'UTC')::date)
                END
                WHERE status IN ('published', 'superseded')
                """
            ],
            reverse_sql=[],
        ),
    ]
