"""Earnings lines without a foreign key of their own to tenants (the column stays; generated
by `tortoise makemigrations`).

A line belongs to its result, which belongs to the tenant: the result's foreign key and its
cascade already hold the line to the tenant and remove it with them. Checking the tenant of
each line again cost a close a lookup per line: about a fifth of the COPY of a 20,000-person
month's 195,000 lines (2.4 -> 2.0 s in psql). The field change alone leaves the constraint in
place (tortoise alters no constraint): the SQL drops it, whatever its name."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

DROP = """
DO $$
DECLARE found record;
BEGIN
    FOR found IN
        SELECT conname FROM pg_constraint
        WHERE conrelid = 'earnings_lines'::regclass AND contype = 'f'
          AND confrelid = 'tenants'::regclass
    LOOP
        EXECUTE format('ALTER TABLE earnings_lines DROP CONSTRAINT %I', found.conname);
    END LOOP;
END $$
"""
RESTORE = """
ALTER TABLE earnings_lines ADD CONSTRAINT earnings_lines_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE
"""


class Migration(migrations.Migration):
    dependencies = [("podium", "0013_results_by_period_and_person")]

    initial = False

    operations = [
        ops.AlterField(
            model_name="EarningsLine",
            name="tenant",
            field=fields.ForeignKeyField(
                "podium.Tenant",
                source_field="tenant_id",
                db_constraint=False,
                to_field="id",
                related_name="earnings_lines",
                on_delete=OnDelete.CASCADE,
            ),
        ),
        ops.RunSQL([DROP], reverse_sql=[RESTORE]),
    ]
