"""An index that carries the columns a recompute reads of a batch's own transactions
(`domain.earnings.service._OWN_TRANSACTIONS`), so that the read is an index-only scan.

A close chunk's people own a fifth of a month's rows, spread over every page of the table:
each chunk's read was a pass over the whole heap (27,700 pages at a million transactions),
five passes in a close. Through this index a chunk reads its people's part of the index alone
(Heap Fetches: 0 on pages VACUUM, or autovacuum after a month's inserts, has marked visible;
the heap otherwise, as before). PostgreSQL's CPU for a chunk of 5,000 people fell from
1.01-1.06 to 0.80-0.91 s (bench/close.py's month).

Partial, as the read is (neither split nor deleted rows), and beside the narrow (tenant, rep,
date) index of 0012 rather than instead of it: counting the period's rows per person (a
close's planning, `domain.earnings.close`) reads a whole index, 49 MB at a million rows for
the narrow one against 129 MB for this one (0.09-0.12 s against 0.26 s, while every close
process waits). The price: an insert writes one more index entry, and an update of the
carried columns is no longer a HOT update (CRM events mostly insert).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

COVERING = """
CREATE INDEX IF NOT EXISTS "transactions_own_by_rep" ON "transactions" (tenant_id, rep_id, date)
    INCLUDE (external_id, amount, currency, type, state, extra_fields)
    WHERE splits IS NULL AND NOT deleted
"""


class Migration(migrations.Migration):
    dependencies = [("podium", "0051_lines_deleted_by_index")]

    initial = False

    operations = [
        ops.RunSQL([COVERING], reverse_sql=['DROP INDEX IF EXISTS "transactions_own_by_rep"'])
    ]
