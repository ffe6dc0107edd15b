"""Partner profiles, tax rules, invoice counters and invoices (issue 15; `tortoise
makemigrations`, then the checks on rates and kinds)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('podium', '0022_draws')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Invoice',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('podium.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='invoices', on_delete=OnDelete.CASCADE)),
                ('statement', fields.ForeignKeyField('podium.Statement', source_field='statement_id', db_constraint=True, to_field='id', related_name='invoices', on_delete=OnDelete.RESTRICT)),
                ('user_id', fields.UUIDField()),
                ('year', fields.IntField()),
                ('sequence', fields.IntField()),
                ('number', fields.CharField(max_length=30)),
                ('currency', fields.CharField(max_length=3)),
                ('net', fields.DecimalField(max_digits=20, decimal_places=6)),
                ('items', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('payable', fields.DecimalField(max_digits=20, decimal_places=6)),
                ('legal', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('issued_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'invoices', 'app': 'podium', 'unique_together': (('tenant', 'year', 'sequence'), ('tenant', 'statement')), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InvoiceCounter',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('podium.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='invoice_counters', on_delete=OnDelete.CASCADE)),
                ('year', fields.IntField()),
                ('last_number', fields.IntField(default=0)),
            ],
            options={'table': 'invoice_counters', 'app': 'podium', 'unique_together': (('tenant', 'year'),), 'pk_attr': 'id', 'table_description': "The last invoice number of a tenant's year: incremented in the transaction that"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PartnerProfile',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('podium.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='partner_profiles', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('podium.User', source_field='user_id', db_constraint=True, to_field='id', related_name='partner_profiles', on_delete=OnDelete.RESTRICT)),
                ('legal_name', fields.CharField(max_length=200)),
                ('address', fields.TextField(unique=False)),
                ('country', fields.CharField(max_length=2)),
                ('tax_id', fields.CharField(null=True, max_length=50)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'partner_profiles', 'app': 'podium', 'unique_together': (('tenant', 'user'),), 'pk_attr': 'id', 'table_description': 'A payee that is a business (an agency, an installer): who invoices are made out to.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TaxRule',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('podium.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='tax_rules', on_delete=OnDelete.CASCADE)),
                ('country', fields.CharField(max_length=2)),
                ('kind', fields.CharField(max_length=20)),
                ('rate', fields.DecimalField(max_digits=9, decimal_places=6)),
                ('base_share', fields.DecimalField(default=1, max_digits=7, decimal_places=6)),
            ],
            options={'table': 'tax_rules', 'app': 'podium', 'unique_together': (('tenant', 'country', 'kind'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.RunSQL(
            [
                'ALTER TABLE "tax_rules" ADD CONSTRAINT "tax_rules_terms" CHECK (rate >= 0 AND '
                "rate <= 100 AND base_share >= 0 AND base_share <= 1 AND kind IN ('vat', "
                "'reverse_charge', 'withholding', 'social_security', 'backup_withholding'))",
                'ALTER TABLE "invoice_counters" ADD CONSTRAINT "invoice_counters_positive" '
                "CHECK (last_number >= 0)",
            ],
            reverse_sql=[
                'ALTER TABLE "invoice_counters" DROP CONSTRAINT IF EXISTS "invoice_counters_positive"',
                'ALTER TABLE "tax_rules" DROP CONSTRAINT IF EXISTS "tax_rules_terms"',
            ],
        ),
    ]
