"""The audit log is append-only: the database itself refuses UPDATE and DELETE on it, and
transactions are found by credited rep through a GIN index."""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("podium", "0001_initial")]

    operations = [
        ops.RunSQL(
            [
                """
                CREATE OR REPLACE FUNCTION podium_audit_append_only() RETURNS trigger AS $$
                BEGIN
                    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
                END;
                $$ LANGUAGE plpgsql
                """,
                """
                CREATE TRIGGER audit_log_append_only
                BEFORE UPDATE OR DELETE ON audit_log
                FOR EACH ROW EXECUTE FUNCTION podium_audit_append_only()
                """,
                """
                CREATE TRIGGER audit_log_no_truncate
                BEFORE TRUNCATE ON audit_log
                FOR EACH STATEMENT EXECUTE FUNCTION podium_audit_append_only()
                """,
                "CREATE INDEX transactions_credited_gin ON transactions "
                "USING gin (credited_user_ids)",
            ],
            reverse_sql=[
                "DROP INDEX IF EXISTS transactions_credited_gin",
                "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
                "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
                "DROP FUNCTION IF EXISTS podium_audit_append_only()",
            ],
        )
    ]
