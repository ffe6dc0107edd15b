"""Every transaction's version where the CRM webhook claims it (`crm_record_versions`).

`podium import transactions` set a transaction's `version` without claiming it there (until
it claimed it, as the webhook's apply does): a webhook event older than an imported row then
found no newer version claimed and overwrote the row. A transaction whose stored version is
newer than the one claimed (or has none claimed) gets it claimed, with its deleted flag.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

BACKFILL = """
INSERT INTO crm_record_versions AS c (tenant_id, kind, external_id, version, deleted, updated_at)
SELECT tenant_id, 'transaction', external_id, version, deleted, now()
FROM transactions WHERE version > 0
ON CONFLICT (tenant_id, kind, external_id) DO UPDATE SET
    version = EXCLUDED.version, deleted = EXCLUDED.deleted, updated_at = now()
WHERE c.version < EXCLUDED.version
"""


class Migration(migrations.Migration):
    dependencies = [("podium", "0055_payout_items_by_order")]

    initial = False

    operations = [ops.RunSQL([BACKFILL], reverse_sql=[])]
