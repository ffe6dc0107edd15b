"""The demo's badges, levels and streaks: after the seed, reps hold badges whose certificate
renders and whose credential is signed, have XP and levels, and some have a streak."""

from __future__ import annotations

import io

from pypdf import PdfReader
from tortoise.transactions import in_transaction

from api.demo.seed import seed_demo
from gamification.badges.models import BadgeAward
from gamification.badges.service import certificate_of, credential_of
from gamification.levels.service import level_standings
from gamification.levels.streaks import streaks_of


async def test_given_the_demo_then_badges_with_certificates_levels_and_a_streak(db: str):
    async with in_transaction():
        summary = await seed_demo()
    tenant_id = summary.tenant.id
    awards = await BadgeAward.filter(tenant_id=tenant_id).select_related("badge", "user")
    assert {a.badge.name for a in awards} >= {"First deal", "Quota crusher"}
    award = awards[0]
    pdf = await certificate_of(award_id=award.id)
    assert pdf is not None
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert award.badge.name in text
    assert "Helios Energy" in text
    token = await credential_of(award=award, base_url="http://127.0.0.1:8000", secret=b"k" * 32)
    assert token.count(".") == 2
    people = {a.user_id for a in awards}
    levels = list((await level_standings(tenant_id=tenant_id, user_ids=people)).values())
    assert max(lv.number for lv in levels) >= 2
    streaks = [s for u in people for s in await streaks_of(tenant_id=tenant_id, user_id=u)]
    assert {s.name for s in streaks} == {"On quota", "Daily closer"}
    assert any(s.longest >= 2 for s in streaks)
