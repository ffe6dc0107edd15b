"""A badge revoked (its deal reversed) can be awarded again when its rule holds again (the
deal won again, a CRM correction): once per badge, person and period, and once per source,
among the awards that stand; revoked ones stay (their status list bit is never cleared, as
W3C's revocation purpose requires), and the new award has its own id and bit."""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("podium", "0058_manager_history")]

    initial = False

    operations = [
        ops.AlterModelOptions(
            name="BadgeAward",
            options={
                "table": "badge_awards",
                "app": "podium",
                "unique_together": (("tenant", "status_index"),),
                "pk_attr": "id",
            },
        ),
        ops.RunSQL(
            [
                "ALTER TABLE badge_awards DROP CONSTRAINT IF EXISTS uid_badge_award_tenant__906c6d",
                "ALTER TABLE badge_awards DROP CONSTRAINT IF EXISTS uid_badge_award_tenant__bdd12e",
                "CREATE UNIQUE INDEX IF NOT EXISTS badge_awards_standing "
                "ON badge_awards (tenant_id, user_id, badge_id, period) WHERE revoked_at IS NULL",
                "CREATE UNIQUE INDEX IF NOT EXISTS badge_awards_standing_source "
                "ON badge_awards (tenant_id, user_id, source) WHERE revoked_at IS NULL",
            ],
            reverse_sql=[
                "DROP INDEX IF EXISTS badge_awards_standing_source",
                "DROP INDEX IF EXISTS badge_awards_standing",
                "ALTER TABLE badge_awards ADD CONSTRAINT uid_badge_award_tenant__906c6d "
                "UNIQUE (tenant_id, user_id, badge_id, period)",
                "ALTER TABLE badge_awards ADD CONSTRAINT uid_badge_award_tenant__bdd12e "
                "UNIQUE (tenant_id, user_id, source)",
            ],
        ),
    ]
