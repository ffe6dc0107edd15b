"""The trigger that deletes a deleted result's lines (0046) finds them through the
(result_id, position) index whatever the planner believes of the tables.

Its `result_id IN (SELECT id FROM gone)` was planned from the statistics of the moment: with
earnings_lines analysed while empty (a first close within autovacuum's minute, or the close
benchmark's reopened period) and 20,000 results deleted, PostgreSQL walked every line and
scanned the deleted results for each, and the DELETE ran for 20 minutes and more.
Now the deleted results' ids are one array, looked up in the index (`result_id = ANY`, a
sequential scan off for the function alone: filtering every line by a 20,000-id array would be
as slow): 0.3 s for those 195,000 lines, and a few index probes for a recompute's stale
result."""

from tortoise import migrations
from tortoise.migrations import operations as ops

BY_INDEX = """
CREATE OR REPLACE FUNCTION earnings_results_delete_lines() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off AS $$
BEGIN
    DELETE FROM earnings_lines WHERE result_id = ANY (ARRAY(SELECT id FROM gone));
    RETURN NULL;
END $$;
"""
BY_JOIN = """
CREATE OR REPLACE FUNCTION earnings_results_delete_lines() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM earnings_lines WHERE result_id IN (SELECT id FROM gone);
    RETURN NULL;
END $$;
ALTER FUNCTION earnings_results_delete_lines() RESET enable_seqscan;
"""


class Migration(migrations.Migration):
    dependencies = [("podium", "0050_plan_draw_terms")]

    initial = False

    operations = [ops.RunSQL([BY_INDEX], reverse_sql=[BY_JOIN])]
