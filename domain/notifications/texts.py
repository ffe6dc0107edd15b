"""Notification texts in the reader's language (en, de, fr, ms, hi; anything else reads
English).

Templates take already formatted values: amounts are formatted with Babel in the rep's locale
(as the GraphQL Money type does), percentages and periods too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from functools import lru_cache

from babel.dates import format_skeleton
from babel.numbers import format_currency, format_decimal, format_percent

from domain.kit.locales import parse_locale
from domain.kit.money import round_money
from domain.kit.periods import parse_period
from domain.notifications.models import NotificationKind

DEFAULT_LANGUAGE = "en"

# (title, body) per kind and language; {placeholders} are filled with formatted values
TEMPLATES: dict[NotificationKind, dict[str, tuple[str, str]]] = {
    NotificationKind.BADGE: {
        "en": ("New badge: {badge}", "You earned the {badge} badge in {period}."),
        "de": (
            "Neues Abzeichen: {badge}",
            "Sie haben das Abzeichen {badge} im Zeitraum {period} erhalten.",
        ),
        "fr": ("Nouveau badge : {badge}", "Vous avez obtenu le badge {badge} pour {period}."),
        "ms": ("Lencana baharu: {badge}", "Anda memperoleh lencana {badge} bagi {period}."),
        "hi": ("नया बैज: {badge}", "आपने {period} में {badge} बैज अर्जित किया।"),
    },
    NotificationKind.LEVEL: {
        "en": ("Level up: {level}", "You reached level {number}, {level}, with {xp} XP."),
        "de": ("Neues Level: {level}", "Sie haben Level {number} erreicht, {level}, mit {xp} XP."),
        "fr": (
            "Niveau supérieur : {level}",
            "Vous avez atteint le niveau {number}, {level}, avec {xp} XP.",
        ),
        "ms": ("Naik tahap: {level}", "Anda mencapai tahap {number}, {level}, dengan {xp} XP."),
        "hi": ("नया स्तर: {level}", "आप {xp} अंकों के साथ स्तर {number}, {level}, पर पहुँच गए।"),
    },
    NotificationKind.LEADERBOARD: {
        "en": ("You are in the top 3: {board}", "Rank {rank} on {board} in {period}."),
        "de": (
            "Sie sind unter den ersten 3: {board}",
            "Platz {rank} auf {board} im Zeitraum {period}.",
        ),
        "fr": (
            "Vous êtes dans le top 3 : {board}",
            "Rang {rank} du classement {board} pour {period}.",
        ),
        "ms": ("Anda dalam 3 teratas: {board}", "Kedudukan {rank} dalam {board} bagi {period}."),
        "hi": ("आप शीर्ष 3 में हैं: {board}", "{period} में {board} पर स्थान {rank}।"),
    },
    NotificationKind.CONTEST_STARTED: {
        "en": ("{contest} has started", "The contest {contest} is live: go for it."),
        "de": ("{contest} hat begonnen", "Der Wettbewerb {contest} läuft: los geht's."),
        "fr": ("{contest} a commencé", "Le concours {contest} est lancé : à vous de jouer."),
        "ms": ("{contest} telah bermula", "Pertandingan {contest} sedang berlangsung."),
        "hi": ("{contest} शुरू हो गया है", "प्रतियोगिता {contest} चालू है।"),
    },
    NotificationKind.CONTEST_ENDED: {
        "en": ("{contest} has ended", "The contest {contest} is over; winners follow soon."),
        "de": ("{contest} ist beendet", "Der Wettbewerb {contest} ist vorbei; bald die Sieger."),
        "fr": ("{contest} est terminé", "Le concours {contest} est fini ; les gagnants suivent."),
        "ms": ("{contest} telah tamat", "Pertandingan {contest} telah tamat; pemenang menyusul."),
        "hi": ("{contest} समाप्त हुआ", "प्रतियोगिता {contest} समाप्त; विजेता जल्द।"),
    },
    NotificationKind.CONTEST_WON: {
        "en": ("You won in {contest}", "Rank {rank} in {contest}: {prize}."),
        "de": ("Gewonnen: {contest}", "Platz {rank} in {contest}: {prize}."),
        "fr": ("Vous avez gagné : {contest}", "Rang {rank} dans {contest} : {prize}."),
        "ms": ("Anda menang dalam {contest}", "Kedudukan {rank} dalam {contest}: {prize}."),
        "hi": ("आप {contest} में जीते", "{contest} में स्थान {rank}: {prize}।"),
    },
    NotificationKind.DISPUTE_RAISED: {
        "en": ("A statement is disputed", "{name} disputes their {period} statement: {note}"),
        "de": (
            "Eine Abrechnung wird beanstandet",
            "{name} beanstandet die Abrechnung für {period}: {note}",
        ),
        "fr": ("Un relevé est contesté", "{name} conteste son relevé de {period} : {note}"),
        "ms": (
            "Penyata dipertikaikan",
            "{name} mempertikaikan penyata {period} mereka: {note}",
        ),
        "hi": ("एक विवरण पर आपत्ति", "{name} ने {period} के अपने विवरण पर आपत्ति जताई है: {note}"),
    },
    NotificationKind.DISPUTE_RESOLVED: {
        "en": ("Your dispute is {outcome}", "Your {period} statement dispute: {note}"),
        "de": ("Ihre Beanstandung wurde {outcome}", "Ihre Beanstandung für {period}: {note}"),
        "fr": ("Votre contestation est {outcome}", "Votre contestation de {period} : {note}"),
        "ms": ("Pertikaian anda {outcome}", "Pertikaian penyata {period} anda: {note}"),
        "hi": ("आपकी आपत्ति {outcome}", "{period} के विवरण पर आपकी आपत्ति: {note}"),
    },
    NotificationKind.PAYOUT_DETAILS: {
        "en": (
            "Your payout details changed",
            "Your payouts now go to {method}: {account}. If you did not ask for this, tell "
            "payout ops at once.",
        ),
        "de": (
            "Ihre Auszahlungsdaten wurden geändert",
            "Ihre Auszahlungen gehen jetzt an {method}: {account}. Wenn Sie das nicht "
            "veranlasst haben, melden Sie sich sofort beim Auszahlungsteam.",
        ),
        "fr": (
            "Vos coordonnées de paiement ont changé",
            "Vos paiements vont désormais vers {method} : {account}. Si vous ne l’avez pas "
            "demandé, prévenez tout de suite l’équipe des paiements.",
        ),
        "ms": (
            "Butiran pembayaran anda telah berubah",
            "Pembayaran anda kini ke {method}: {account}. Jika anda tidak memintanya, "
            "maklumkan pasukan pembayaran dengan segera.",
        ),
        "hi": (
            "आपके भुगतान विवरण बदल गए हैं",
            "आपके भुगतान अब {method} पर जाएँगे: {account}। यदि आपने यह नहीं कहा था, तो "
            "तुरंत भुगतान टीम को बताएँ।",
        ),
    },
    NotificationKind.ATTAINMENT: {
        "en": (
            "You reached {threshold} of your quota",
            "{measure}: {attainment} of quota in {period}.",
        ),
        "de": (
            "Sie haben {threshold} Ihrer Quote erreicht",
            "{measure}: {attainment} der Quote im Zeitraum {period}.",
        ),
        "fr": (
            "Vous avez atteint {threshold} de votre objectif",
            "{measure} : {attainment} de l’objectif pour {period}.",
        ),
        "ms": (
            "Anda telah mencapai {threshold} daripada kuota anda",
            "{measure}: {attainment} daripada kuota bagi {period}.",
        ),
        "hi": (
            "आपने अपने कोटा का {threshold} हासिल कर लिया",
            "{measure}: {period} में कोटा का {attainment}।",
        ),
    },
    NotificationKind.TIER: {
        "en": (
            "New tier reached: {component}",
            "You are now in tier {tier} of {component} ({rate}) in {period}.",
        ),
        "de": (
            "Neue Stufe erreicht: {component}",
            "Sie sind jetzt in Stufe {tier} von {component} ({rate}) im Zeitraum {period}.",
        ),
        "fr": (
            "Nouveau palier atteint : {component}",
            "Vous êtes maintenant au palier {tier} de {component} ({rate}) pour {period}.",
        ),
        "ms": (
            "Peringkat baharu dicapai: {component}",
            "Anda kini berada di peringkat {tier} bagi {component} ({rate}) bagi {period}.",
        ),
        "hi": (
            "नया स्तर हासिल: {component}",
            "{period} में अब आप {component} के स्तर {tier} ({rate}) पर हैं।",
        ),
    },
    NotificationKind.PAYABLE: {
        "en": (
            "Earnings released",
            "{released} more is payable for {period}: {payable} in total.",
        ),
        "de": (
            "Provision freigegeben",
            "Weitere {released} sind für {period} auszahlbar: insgesamt {payable}.",
        ),
        "fr": (
            "Commissions débloquées",
            "{released} de plus sont payables pour {period} : {payable} au total.",
        ),
        "ms": (
            "Pendapatan dikeluarkan",
            "{released} lagi boleh dibayar bagi {period}: {payable} kesemuanya.",
        ),
        "hi": (
            "कमाई जारी हुई",
            "{period} के लिए {released} और देय है: कुल {payable}।",
        ),
    },
}


# TARGET notifications: (title, body) per event (params["event"]) and language
TARGET_TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "allocate": {
        "en": (
            "A target to allocate",
            "Your {measure} target for {period} is ready to allocate: {amount}.",
        ),
        "de": (
            "Ein Ziel zum Verteilen",
            "Ihr Ziel {measure} für {period} ist bereit zur Verteilung: {amount}.",
        ),
        "fr": (
            "Un objectif à répartir",
            "Votre objectif {measure} pour {period} est prêt à être réparti : {amount}.",
        ),
        "ms": (
            "Sasaran untuk diagihkan",
            "Sasaran {measure} anda bagi {period} sedia untuk diagihkan: {amount}.",
        ),
        "hi": (
            "बाँटने के लिए एक लक्ष्य",
            "{period} के लिए आपका {measure} लक्ष्य बाँटने के लिए तैयार है: {amount}।",
        ),
    },
    "propose": {
        "en": (
            "An allocation to validate",
            "{name} proposed an allocation of the {measure} target for {period}.",
        ),
        "de": (
            "Eine Verteilung zum Bestätigen",
            "{name} hat eine Verteilung des Ziels {measure} für {period} vorgeschlagen.",
        ),
        "fr": (
            "Une répartition à valider",
            "{name} a proposé une répartition de l’objectif {measure} pour {period}.",
        ),
        "ms": (
            "Agihan untuk disahkan",
            "{name} telah mencadangkan agihan sasaran {measure} bagi {period}.",
        ),
        "hi": (
            "सत्यापन के लिए एक आवंटन",
            "{name} ने {period} के लिए {measure} लक्ष्य का आवंटन प्रस्तावित किया है।",
        ),
    },
    "reject": {
        "en": (
            "An allocation sent back",
            "Your allocation of the {measure} target for {period} was sent back: {note}",
        ),
        "de": (
            "Eine Verteilung zurückgewiesen",
            "Ihre Verteilung des Ziels {measure} für {period} wurde zurückgewiesen: {note}",
        ),
        "fr": (
            "Une répartition renvoyée",
            "Votre répartition de l’objectif {measure} pour {period} a été renvoyée : {note}",
        ),
        "ms": (
            "Agihan dikembalikan",
            "Agihan sasaran {measure} anda bagi {period} telah dikembalikan: {note}",
        ),
        "hi": (
            "एक आवंटन लौटाया गया",
            "{period} के लिए {measure} लक्ष्य का आपका आवंटन लौटा दिया गया है: {note}",
        ),
    },
    "ready": {
        "en": (
            "A target plan to publish",
            "Every allocation of the {measure} target for {period} is validated: "
            "it is ready to publish.",
        ),
        "de": (
            "Ein Zielplan zum Veröffentlichen",
            "Alle Verteilungen des Ziels {measure} für {period} sind bestätigt: "
            "Es ist bereit zur Veröffentlichung.",
        ),
        "fr": (
            "Un plan d’objectifs à publier",
            "Toutes les répartitions de l’objectif {measure} pour {period} sont validées : "
            "il est prêt à être publié.",
        ),
        "ms": (
            "Pelan sasaran untuk diterbitkan",
            "Semua agihan sasaran {measure} bagi {period} telah disahkan: "
            "ia sedia untuk diterbitkan.",
        ),
        "hi": (
            "प्रकाशित करने के लिए एक लक्ष्य योजना",
            "{period} के लिए {measure} लक्ष्य के सभी आवंटन सत्यापित हो गए हैं: यह प्रकाशन के लिए तैयार है।",
        ),
    },
    "publish": {
        "en": (
            "Your target is published",
            "Your {measure} target for {period} ({amount}) is waiting for your acceptance.",
        ),
        "de": (
            "Ihr Ziel ist veröffentlicht",
            "Ihr Ziel {measure} für {period} ({amount}) wartet auf Ihre Zustimmung.",
        ),
        "fr": (
            "Votre objectif est publié",
            "Votre objectif {measure} pour {period} ({amount}) attend votre acceptation.",
        ),
        "ms": (
            "Sasaran anda telah diterbitkan",
            "Sasaran {measure} anda bagi {period} ({amount}) menunggu penerimaan anda.",
        ),
        "hi": (
            "आपका लक्ष्य प्रकाशित हो गया है",
            "{period} के लिए आपका {measure} लक्ष्य ({amount}) आपकी स्वीकृति की प्रतीक्षा में है।",
        ),
    },
    "dispute": {
        "en": (
            "A target is disputed",
            "{name} disputes the {measure} target for {period}: {note}",
        ),
        "de": (
            "Ein Ziel wird angefochten",
            "{name} widerspricht dem Ziel {measure} für {period}: {note}",
        ),
        "fr": (
            "Un objectif est contesté",
            "{name} conteste l’objectif {measure} pour {period} : {note}",
        ),
        "ms": (
            "Sasaran dipertikaikan",
            "{name} mempertikaikan sasaran {measure} bagi {period}: {note}",
        ),
        "hi": (
            "एक लक्ष्य पर आपत्ति",
            "{name} ने {period} के लिए {measure} लक्ष्य पर आपत्ति जताई है: {note}",
        ),
    },
}


# a person's locale tag as a Babel locale (one parser for explanations, money, notifications)
babel_locale = parse_locale


def language_of(tag: str | None) -> str:
    language = str(babel_locale(tag).language)
    return language if language in TEMPLATES[NotificationKind.ATTAINMENT] else DEFAULT_LANGUAGE


def humanize(identifier: str) -> str:
    """'quota_club' -> 'Quota club' (plans name measures and components by id only)."""
    words = identifier.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def money_text(amount: Decimal, currency: str, locale: str | None) -> str:
    rounded = round_money(amount, currency)
    return str(format_currency(rounded, currency, locale=babel_locale(locale)))


def amount_text(amount: Decimal, currency: str | None, locale: str | None) -> str:
    """A target amount: money in its currency, or a plain number (units) without one."""
    if currency:
        return money_text(amount, currency, locale)
    return str(format_decimal(amount, locale=babel_locale(locale)))


def percent_text(ratio: Decimal, locale: str | None) -> str:
    """1 = 100%, in whole percents rounded down: 79.6% must not read as a reached 80%."""
    whole = (ratio * 100).to_integral_value(rounding=ROUND_FLOOR) / 100
    return str(format_percent(whole, locale=babel_locale(locale)))


# A worker names the same few periods in a few languages in every notification it renders:
# Babel's date formatting was a tenth of rendering one (py-spy, real-time bench).
@lru_cache(maxsize=4096)
def period_text(period: str, locale: str | None) -> str:
    """'2026-10' -> 'October 2026' / 'Oktober 2026' / 'octobre 2026'; quarters 'Q4 2026'."""
    parsed = parse_period(period)
    where = babel_locale(locale)
    if parsed.kind == "month":
        return str(
            format_skeleton("yMMMM", date(parsed.start.year, parsed.start.month, 1), locale=where)
        )
    if parsed.kind == "quarter":
        return str(format_skeleton("yQQQ", parsed.start, locale=where))
    return str(parsed.start.year)


# a resolved dispute's outcome, in each language
OUTCOMES = {
    "accepted": {"en": "accepted", "de": "angenommen", "fr": "acceptée", "ms": "diterima",
                 "hi": "स्वीकार की गई"},
    "rejected": {"en": "rejected", "de": "abgelehnt", "fr": "rejetée", "ms": "ditolak",
                 "hi": "अस्वीकार की गई"},
}  # fmt: skip

# how payout methods read in a PAYOUT_DETAILS notification (payments.payouts PayoutMethod values)
PAYOUT_METHOD_NAMES: dict[str, dict[str, str]] = {
    "en": {"stripe": "your Stripe account", "sepa_file": "your bank account (SEPA)",
           "nacha_file": "your bank account (ACH)", "gift_card": "gift cards",
           "payroll_file": "payroll"},
    "de": {"stripe": "Ihr Stripe-Konto", "sepa_file": "Ihr Bankkonto (SEPA)",
           "nacha_file": "Ihr Bankkonto (ACH)", "gift_card": "Gutscheinkarten",
           "payroll_file": "die Gehaltsabrechnung"},
    "fr": {"stripe": "votre compte Stripe", "sepa_file": "votre compte bancaire (SEPA)",
           "nacha_file": "votre compte bancaire (ACH)", "gift_card": "des cartes cadeaux",
           "payroll_file": "la paie"},
    "ms": {"stripe": "akaun Stripe anda", "sepa_file": "akaun bank anda (SEPA)",
           "nacha_file": "akaun bank anda (ACH)", "gift_card": "kad hadiah",
           "payroll_file": "gaji"},
    "hi": {"stripe": "आपका Stripe खाता", "sepa_file": "आपका बैंक खाता (SEPA)",
           "nacha_file": "आपका बैंक खाता (ACH)", "gift_card": "गिफ़्ट कार्ड",
           "payroll_file": "वेतन"},
}  # fmt: skip


_CONTEST_KINDS = (
    NotificationKind.CONTEST_STARTED,
    NotificationKind.CONTEST_ENDED,
    NotificationKind.CONTEST_WON,
)


def render(
    kind: NotificationKind, params: Mapping[str, str], locale: str | None
) -> tuple[str, str]:
    """(title, body) of a notification from its stored params (decimals as strings)."""
    if kind is NotificationKind.TARGET:
        return _render_target(params, locale)
    title, body = TEMPLATES[kind][language_of(locale)]
    values = {"period": period_text(params["period"], locale)}
    if kind is NotificationKind.ATTAINMENT:
        values |= {
            "threshold": percent_text(Decimal(params["threshold"]) / 100, locale),
            "attainment": percent_text(Decimal(params["attainment"]), locale),
            "measure": humanize(params["measure"]),
        }
    elif kind is NotificationKind.LEADERBOARD:
        values |= {"board": params["board"], "rank": params["rank"]}
    elif kind is NotificationKind.BADGE:
        values |= {"badge": params["badge"]}
    elif kind is NotificationKind.LEVEL:
        values |= {
            "level": params["level"],
            "number": params["number"],
            "xp": format_decimal(int(params["xp"]), locale=babel_locale(locale)),
        }
    elif kind in _CONTEST_KINDS:
        values |= {
            "contest": params["contest"],
            "rank": params.get("rank", ""),
            "prize": params.get("prize", ""),
        }
    elif kind is NotificationKind.DISPUTE_RAISED:
        values |= {"name": params["name"], "note": params["note"]}
    elif kind is NotificationKind.DISPUTE_RESOLVED:
        outcome = OUTCOMES[params["outcome"]][language_of(locale)]
        values |= {"outcome": outcome, "note": params["note"]}
    elif kind is NotificationKind.PAYOUT_DETAILS:
        names = PAYOUT_METHOD_NAMES[language_of(locale)]
        values |= {"method": names.get(params["method"], params["method"]),
                   "account": params["account"]}  # fmt: skip
    elif kind is NotificationKind.TIER:
        values |= {
            "tier": params["tier"],
            "component": humanize(params["component"]),
            "rate": percent_text(Decimal(params["rate"]), locale),
        }
    else:
        currency = params["currency"]
        values |= {
            "released": money_text(Decimal(params["released"]), currency, locale),
            "payable": money_text(Decimal(params["payable"]), currency, locale),
        }
    return title.format(**values), body.format(**values)


def _render_target(params: Mapping[str, str], locale: str | None) -> tuple[str, str]:
    """A target step: params carry event, period, measure and, by event, amount (+ currency),
    name (who proposed or disputed) and note (the dispute's comment)."""
    title, body = TARGET_TEMPLATES[params["event"]][language_of(locale)]
    values = {
        "period": period_text(params["period"], locale),
        "measure": humanize(params["measure"]),
        "name": params.get("name", ""),
        "note": params.get("note", ""),
        "amount": (
            amount_text(Decimal(params["amount"]), params.get("currency") or None, locale)
            if "amount" in params
            else ""
        ),
    }
    return title.format(**values), body.format(**values)
