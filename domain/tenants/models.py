"""Tenants: one company each, with its currency, locale, time zone and secrets."""

from __future__ import annotations

from typing import Any

from tortoise import fields

from domain.orm import Model


class Tenant(Model):
    id = fields.UUIDField(primary_key=True)
    slug = fields.CharField(max_length=63, unique=True)
    name = fields.CharField(max_length=200)
    currency = fields.CharField(max_length=3)
    locale = fields.CharField(max_length=35, default="en")
    time_zone = fields.CharField(max_length=64, default="UTC")
    # HS256 secret for the tenant's own JWTs; CRM webhook secrets (the previous one is still
    # accepted during a rotation's grace period).
    jwt_secret = fields.CharField(max_length=200)
    webhook_secret = fields.CharField(max_length=200)
    webhook_secret_previous = fields.CharField(max_length=200, null=True)
    webhook_secret_rotated_at = fields.DatetimeField(null=True)
    settings: dict[str, Any] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "tenants"
