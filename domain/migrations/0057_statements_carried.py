"""A statement below zero, approved, is settled by carrying its balance into the payee's
statement of a later period: its status ``carried`` and the period it went into
(``carried_into_period``); that statement holds it as a ``carry_forward`` line. A partial
index finds the balances still owed."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('podium', '0056_transaction_versions_backfill')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Statement',
            name='carried_into_period',
            field=fields.CharField(null=True, max_length=10),
        ),
        ops.RunSQL(
            [
                'ALTER TABLE "statements" DROP CONSTRAINT IF EXISTS "statements_status"',
                'ALTER TABLE "statements" ADD CONSTRAINT "statements_status" '
                "CHECK (status IN ('draft', 'approved', 'paid', 'carried'))",
                # the balances a build may carry: few, whatever the number of statements
                'CREATE INDEX IF NOT EXISTS "statements_owed" ON "statements" (tenant_id) '
                "WHERE current AND status = 'approved' AND total < 0",
            ],
            reverse_sql=[
                'DROP INDEX IF EXISTS "statements_owed"',
                'ALTER TABLE "statements" DROP CONSTRAINT IF EXISTS "statements_status"',
                'ALTER TABLE "statements" ADD CONSTRAINT "statements_status" '
                "CHECK (status IN ('draft', 'approved', 'paid'))",
            ],
        ),
    ]
