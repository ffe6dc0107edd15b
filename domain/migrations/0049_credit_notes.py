"""Credit notes (issue 15): an invoice row of kind credit_note cancels an invoice (at most
one credit note an invoice), in the invoices' numbering series; a statement version has one
invoice and at most one credit note (`tortoise makemigrations`, then the checks)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.migrations.constraints import UniqueConstraint

class Migration(migrations.Migration):
    dependencies = [('podium', '0048_payout_batch_files')]

    initial = False

    operations = [
        ops.RemoveConstraint(
            model_name='Invoice',
            name=None,
            fields=['tenant', 'statement'],
        ),
        ops.AddField(
            model_name='Invoice',
            name='cancels',
            field=fields.OneToOneField('podium.Invoice', source_field='cancels_id', null=True, db_constraint=True, to_field='id', related_name='cancelled_by', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Invoice',
            name='kind',
            field=fields.CharField(default='invoice', max_length=12),
        ),
        ops.AddConstraint(
            model_name='Invoice',
            constraint=UniqueConstraint(fields=('tenant', 'statement', 'kind'), name=None),
        ),
        ops.RunSQL(
            [
                'ALTER TABLE "invoices" ADD CONSTRAINT "invoices_credit_note_cancels" CHECK '
                "((kind = 'invoice' AND cancels_id IS NULL) OR "
                "(kind = 'credit_note' AND cancels_id IS NOT NULL))",
            ],
            reverse_sql=[
                'ALTER TABLE "invoices" DROP CONSTRAINT IF EXISTS "invoices_credit_note_cancels"',
            ],
        ),
    ]
