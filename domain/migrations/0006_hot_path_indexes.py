"""Indexes for the real-time path, found with pg_stat_statements under bench/realtime.py:

- a tenant's pending inbox events in id order (the draining apply job's claim, and a
  webhook's look for reps whose creation is still pending): the status index alone walked
  every pending row of every tenant, the tenant index every event the tenant ever sent;
- a person's notifications not pushed yet (claimed after each recompute): the inbox index
  walked all of a rep's notifications, which only grow.

Partial indexes, written in SQL (the models cannot say WHERE): the migration state is
unchanged, so `makemigrations` still finds nothing to do.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEXES = [
    ("inbox_events_pending_by_tenant", "inbox_events", "(tenant_id, id) WHERE status = 'pending'"),
    (
        "notifications_unpushed_by_user",
        "notifications",
        "(tenant_id, user_id) WHERE pushed_at IS NULL",
    ),
]


class Migration(migrations.Migration):
    dependencies = [("podium", "0005_notifications")]

    operations = [
        ops.RunSQL(
            [f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" {spec}'
             for name, table, spec in INDEXES],
            reverse_sql=[f'DROP INDEX IF EXISTS "{name}"' for name, _, _ in reversed(INDEXES)],
        )
    ]
