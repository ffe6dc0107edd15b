from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import strawberry
from strawberry.types import Info

from api.badges import certificate_url
from api.graphql.relay import Connection, decode_offset, offset_connection, page_size
from gamification.badges.models import BadgeAward
from gamification.badges.service import badges_of, credential_of


@strawberry.type(description="A badge awarded to the viewer (revoked ones stay, marked).")
class Badge:
    id: strawberry.ID
    name: str
    description: str
    icon: str
    awarded_at: datetime
    period: str
    revoked: bool
    award: strawberry.Private[BadgeAward]

    @strawberry.field(description="A signed link to the PDF certificate, valid for an hour.")
    def certificate_url(self, info: Info[Any, None]) -> str:
        context = info.context
        return certificate_url(context.settings, self.award.id)

    @strawberry.field(
        description="The Open Badges 3.0 credential, a VC-JWT signed with the tenant's issuer "
        "key (verify with the key at the issuer URL; revocation: its status list)."
    )
    async def credential(self, info: Info[Any, None]) -> str:
        context = info.context
        return await credential_of(
            award=self.award,
            base_url=context.settings.public_url,
            secret=context.settings.issuer_key_secret,
        )


def _badge(award: BadgeAward) -> Badge:
    return Badge(
        id=strawberry.ID(str(award.id)),
        name=award.badge.name,
        description=award.badge.description,
        icon=award.badge.icon,
        awarded_at=award.awarded_at,
        period=award.period,
        revoked=award.revoked_at is not None,
        award=award,
    )


async def my_badges(
    info: Info[Any, None], first: int | None = 20, after: str | None = None
) -> Connection[Badge]:
    """The viewer's badges, newest first."""
    viewer = info.context.viewer
    size, offset = page_size(first), decode_offset(after)
    rows, has_next = await badges_of(
        tenant_id=viewer.tenant_id, user_id=UUID(str(viewer.user_id)), first=size, offset=offset
    )
    return offset_connection([_badge(a) for a in rows], offset=offset, has_next=has_next)
