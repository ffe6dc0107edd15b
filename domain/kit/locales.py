"""A person's locale tag as a Babel locale: what explanations, money and notifications are
written in.

Tags come from CRMs and devices in more shapes than Babel parses: a Salesforce LocaleSidKey
carries a variant (``de_DE_EURO``), an Android 14 tag its regional preferences as Unicode
extensions (``de-DE-u-fw-mon``), a tag may end with a private use part (``-x-...``). Each is
read as the language (and script and region) it names; a tag naming no language Babel knows
reads English.
"""

from __future__ import annotations

from functools import cache

from babel import Locale, UnknownLocaleError

DEFAULT_LANGUAGE = "en"


@cache
def parse_locale(tag: str | None) -> Locale:
    """'de-DE', 'de_DE', 'de_DE_EURO' or 'de-DE-u-fw-mon' to a Babel locale (de_DE); the
    longest leading part Babel knows, before any extension; English if none."""
    parts: list[str] = []
    for part in (tag or "").replace("_", "-").split("-")[:8]:
        if len(part) <= 1:  # a singleton starts an extension or a private use part
            break
        parts.append(part)
    while parts:
        try:
            return Locale.parse("_".join(parts))
        except (UnknownLocaleError, ValueError, TypeError):
            parts.pop()  # a variant or a region Babel does not know: the language alone
    return Locale.parse(DEFAULT_LANGUAGE)
