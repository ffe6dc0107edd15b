"""Earnings lines without a foreign key constraint to their result; a trigger deletes a
deleted result's lines instead (generated field change by `tortoise makemigrations`, SQL by
hand).

The constraint checked each line against earnings_results as it was written: about a third
of the COPY of a 20,000-person month's 195,000 lines (1.6-2.1 s with it, 0.8 without, in
psql). It could never fail: lines are written only by `_store_many`, in the transaction that
inserts or rewrites their result, after locking the result's person (`FOR NO KEY UPDATE`),
which every path that deletes a result waits for (a person's or tenant's deletion cascades
through the person's row). Its other half, the cascade, is a statement-level trigger: every
DELETE of results (the recompute's own, or a cascade from users, tenants or plan versions)
deletes their lines in one statement."""

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
          AND confrelid = 'earnings_results'::regclass
    LOOP
        EXECUTE format('ALTER TABLE earnings_lines DROP CONSTRAINT %I', found.conname);
    END LOOP;
END $$
"""
TRIGGER = """
CREATE FUNCTION earnings_results_delete_lines() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM earnings_lines WHERE result_id IN (SELECT id FROM gone);
    RETURN NULL;
END $$;
CREATE TRIGGER earnings_results_delete_lines
    AFTER DELETE ON earnings_results REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION earnings_results_delete_lines();
"""
RESTORE = """
DROP TRIGGER IF EXISTS earnings_results_delete_lines ON earnings_results;
DROP FUNCTION IF EXISTS earnings_results_delete_lines();
DELETE FROM earnings_lines l
    WHERE NOT EXISTS (SELECT 1 FROM earnings_results r WHERE r.id = l.result_id);
ALTER TABLE earnings_lines ADD CONSTRAINT earnings_lines_result_id_fkey
    FOREIGN KEY (result_id) REFERENCES earnings_results(id) ON DELETE CASCADE;
"""


class Migration(migrations.Migration):
    dependencies = [("podium", "0042_notification_kinds_merged")]

    initial = False

    operations = [
        ops.AlterField(
            model_name="EarningsLine",
            name="result",
            field=fields.ForeignKeyField(
                "podium.EarningsResult",
                source_field="result_id",
                db_constraint=False,
                to_field="id",
                related_name="lines",
                on_delete=OnDelete.CASCADE,
            ),
        ),
        ops.RunSQL([DROP, TRIGGER], reverse_sql=[RESTORE]),
    ]
