"""The approved statements in force of a version after the first: few, whatever the number of
statements. A build looks among them for balances owed because an earlier version was paid
more than the version in force owes (payments.statements.service.balances_owed)."""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('podium', '0059_badge_awards_anew')]

    initial = False

    operations = [
        ops.RunSQL(
            [
                'CREATE INDEX IF NOT EXISTS "statements_revised" ON "statements" (tenant_id) '
                "WHERE current AND status = 'approved' AND version > 1",
            ],
            reverse_sql=['DROP INDEX IF EXISTS "statements_revised"'],
        ),
    ]
