"""Who managed whom, and since when (``user_managers``): a row per person and manager change,
written by the database itself (a trigger on ``users``), so that every path that changes a
manager (``setManager``, ``podium import reps``' bulk UPDATE, a CRM rep event, a manager's
deletion setting ``manager_id`` to NULL) leaves its trace, and a team contest over October
ranks the teams people were on in October (`org.repository.manager_history`).

A person's first manager holds from the start (``since`` NULL): the team they were created in
(or given in the same transaction, as an import does) is their team before any recorded
change (the people of a tenant migrated here included); changes in one transaction are one."""

from tortoise import migrations
from tortoise.migrations import operations as ops

CREATE = [
    """
    CREATE TABLE IF NOT EXISTS user_managers (
        id BIGSERIAL PRIMARY KEY,
        tenant_id UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        manager_id UUID,
        since TIMESTAMPTZ,
        -- the transaction that wrote it: a later change in the same one amends it
        xact BIGINT NOT NULL DEFAULT txid_current()
    )
    """,
    "CREATE INDEX IF NOT EXISTS user_managers_of ON user_managers (tenant_id, user_id, since)",
    """
    CREATE OR REPLACE FUNCTION podium_user_managers() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO user_managers (tenant_id, user_id, manager_id, since)
            VALUES (NEW.tenant_id, NEW.id, NEW.manager_id, NULL);
        ELSIF OLD.manager_id IS DISTINCT FROM NEW.manager_id THEN
            -- a change in the transaction that wrote the person's latest row amends it: the
            -- manager an import sets right after creating the person (`podium import reps`
            -- creates everyone, then sets managers) holds from the start
            UPDATE user_managers SET manager_id = NEW.manager_id
            WHERE id = (SELECT max(id) FROM user_managers WHERE user_id = NEW.id)
              AND xact = txid_current();
            IF NOT FOUND THEN
                INSERT INTO user_managers (tenant_id, user_id, manager_id, since)
                VALUES (NEW.tenant_id, NEW.id, NEW.manager_id, clock_timestamp());
            END IF;
        END IF;
        RETURN NULL;
    END;
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER users_manager_history
    AFTER INSERT OR UPDATE OF manager_id ON users
    FOR EACH ROW EXECUTE FUNCTION podium_user_managers()
    """,
    # the people already there: their manager of today holds from the start
    """
    INSERT INTO user_managers (tenant_id, user_id, manager_id, since)
    SELECT tenant_id, id, manager_id, NULL FROM users
    """,
]


class Migration(migrations.Migration):
    dependencies = [("podium", "0057_statements_carried")]

    initial = False

    operations = [
        ops.RunSQL(
            CREATE,
            reverse_sql=[
                "DROP TRIGGER IF EXISTS users_manager_history ON users",
                "DROP FUNCTION IF EXISTS podium_user_managers()",
                "DROP TABLE IF EXISTS user_managers",
            ],
        )
    ]
