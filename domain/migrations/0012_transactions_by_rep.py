"""Indexes for reading a batch of people's transactions (`domain.earnings.service`, the one
path of `podium close`, `podium recompute` and the real-time worker):

- a person's own transactions of a period, through (tenant, rep, date): a chunk of a close
  reads only its people's rows, where the GIN index over every row's credited ids rechecked
  each row against the whole chunk (0.19 s a chunk of 250 people at 1M transactions);
- the split transactions crediting any of them, through a GIN index of the split rows'
  credited ids only (a split row credits people other than its owner).

Written in SQL (the models cannot say WHERE, and the first index has no model field list of
its own): the migration state is unchanged, so `makemigrations` still finds nothing to do.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEXES = [
    ("transactions_by_rep", "transactions", "(tenant_id, rep_id, date)"),
    (
        "transactions_split_credits",
        "transactions",
        "USING gin (credited_user_ids) WHERE splits IS NOT NULL",
    ),
]


class Migration(migrations.Migration):
    dependencies = [("podium", "0011_target_effective_from")]

    operations = [
        ops.RunSQL(
            [f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" {spec}'
             for name, table, spec in INDEXES],
            reverse_sql=[f'DROP INDEX IF EXISTS "{name}"' for name, _, _ in reversed(INDEXES)],
        )
    ]
