"""A statement line in words, made when it is read, in the reader's language (en, de, fr, ms,
hi; anything else reads English). What is stored is language-neutral: the line's kind and
the params below."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from domain.notifications.texts import humanize, language_of, money_text, percent_text, period_text

TEMPLATES: dict[str, dict[str, str]] = {
    "earnings": {
        "en": "{component} ({plan})",
        "de": "{component} ({plan})",
        "fr": "{component} ({plan})",
        "ms": "{component} ({plan})",
        "hi": "{component} ({plan})",
    },
    "cap": {
        "en": "Plan cap ({plan})",
        "de": "Plandeckelung ({plan})",
        "fr": "Plafond du plan ({plan})",
        "ms": "Had pelan ({plan})",
        "hi": "योजना सीमा ({plan})",
    },
    "late": {
        "en": "{component}, {period}: late change{deals}",
        "de": "{component}, {period}: nachträgliche Änderung{deals}",
        "fr": "{component}, {period} : modification tardive{deals}",
        "ms": "{component}, {period}: perubahan lewat{deals}",
        "hi": "{component}, {period}: देर से बदलाव{deals}",
    },
    "clawback": {
        "en": "Clawback: {component}, {period}{deals}{line}",
        "de": "Rückforderung: {component}, {period}{deals}{line}",
        "fr": "Reprise : {component}, {period}{deals}{line}",
        "ms": "Tuntutan balik: {component}, {period}{deals}{line}",
        "hi": "वसूली: {component}, {period}{deals}{line}",
    },
    "adjustment": {
        "en": "Adjustment: {reason}",
        "de": "Korrektur: {reason}",
        "fr": "Ajustement : {reason}",
        "ms": "Pelarasan: {reason}",
        "hi": "समायोजन: {reason}",
    },
    "draw": {
        "en": "Draw ({kind}): guaranteed {draw}",
        "de": "Vorschuss ({kind}): garantiert {draw}",
        "fr": "Avance ({kind}) : garantie {draw}",
        "ms": "Pendahuluan ({kind}): dijamin {draw}",
        "hi": "अग्रिम ({kind}): गारंटी {draw}",
    },
    "draw_recovery": {
        "en": "Draw recovery (up to {share} of earnings)",
        "de": "Rückführung des Vorschusses (bis {share} der Provision)",
        "fr": "Récupération de l’avance (jusqu’à {share} des gains)",
        "ms": "Pemulihan pendahuluan (sehingga {share} pendapatan)",
        "hi": "अग्रिम की वसूली (कमाई का अधिकतम {share})",
    },
    "carry_forward": {
        "en": "Balance carried forward from {period}",
        "de": "Saldovortrag aus {period}",
        "fr": "Solde reporté de {period}",
        "ms": "Baki dibawa ke hadapan dari {period}",
        "hi": "{period} से आगे लाई गई शेष राशि",
    },
    "prize": {
        "en": "Prize: {reason}",
        "de": "Preis: {reason}",
        "fr": "Prix : {reason}",
        "ms": "Hadiah: {reason}",
        "hi": "पुरस्कार: {reason}",
    },
}
DEALS = {"en": "deal", "de": "Geschäft", "fr": "affaire", "ms": "urus niaga", "hi": "सौदा"}
RECOVERABLE = {
    "yes": {"en": "recoverable", "de": "rückzahlbar", "fr": "récupérable", "ms": "boleh dipulihkan",
            "hi": "वसूली योग्य"},
    "no": {"en": "non-recoverable", "de": "nicht rückzahlbar", "fr": "non récupérable",
           "ms": "tidak boleh dipulihkan", "hi": "गैर-वसूली योग्य"},
}  # fmt: skip
LINE = {"en": "line", "de": "Zeile", "fr": "ligne", "ms": "baris", "hi": "पंक्ति"}
MAX_DEALS_NAMED = 5


def describe(
    kind: str, params: Mapping[str, Any], locale: str | None, currency: str | None = None
) -> str:
    """A line's description: ``params["template"]`` (or its kind) in the reader's language."""
    language = language_of(locale)
    template = TEMPLATES[params.get("template", kind)][language]
    deals = [str(d) for d in params.get("transactions", ())]
    named = ", ".join(deals[:MAX_DEALS_NAMED]) + (", …" if len(deals) > MAX_DEALS_NAMED else "")
    values = {
        "component": params.get("component_name") or humanize(str(params.get("component", ""))),
        "plan": params.get("plan", ""),
        "reason": params.get("reason", ""),
        "period": period_text(params["period"], locale) if params.get("period") else "",
        "deals": f" ({DEALS[language]} {named})" if deals else "",
        "line": f" [{LINE[language]} {params['line']}]" if params.get("line") else "",
        "kind": RECOVERABLE[params.get("recoverable", "no")][language],
        "draw": (
            money_text(Decimal(params["draw"]), currency, locale)
            if currency and params.get("draw")
            else params.get("draw", "")
        ),
        "share": percent_text(Decimal(params.get("share", "0")), locale),
    }
    return template.format(**values)
