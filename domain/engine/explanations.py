"""Explanations in words, rendered per reader language from language-neutral reasons.

The engine explains a figure with *reasons*: a template key and its parameters, every number
an exact decimal string (`Reason`). That is what results keep and what the service stores:
language-neutral and exact. Words are produced here only when somebody reads them, in the
reader's language (en, de, fr, ms, hi; any other reads English), with money rounded to the
currency's minor unit and formatted by Babel in the reader's locale (`de`: ``1.234,50 €``),
rates and attainment as percentages, dates in the locale's medium form.

A template's placeholders say how to format their parameter: ``{amount:money}`` (the plan
currency), ``{original:fxmoney}`` (the transaction's currency), ``{rate:pct}`` (exact: 2.5%),
``{attainment:att}`` (truncated to 0.1%: 79.96% must not read as a reached 80%), ``{x:num}``,
``{x:value}`` (money, or a plain number when the reason's ``count`` parameter is set: a
measure that counts transactions), ``{day:date}``, ``{c:expr}`` (an expression of the plan,
in words, measures and components by their display names: ``names`` maps ids to them), and
no format for text (a nested reason renders in place).

Stored, reasons are compact JSON (`encode`, `decode`): each ``[key, {param: value}]``, but an
FX conversion by position (``["fx_transaction", [day, currency, rate, original,
transaction]]``) with its converted amount derived when read, exactly as the engine derived
it; rows stored before, with the converted amount by name, read the same.
"""

from __future__ import annotations

import ast
import json
import string
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Context, Decimal
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent

from domain.engine.plan import display_name
from domain.kit.errors import DomainError
from domain.kit.locales import parse_locale
from domain.kit.money import round_money

# (template key, ((parameter, value), ...)): hashable, so equal reasons are encoded once
Params = tuple[tuple[str, Any], ...]
Reason = tuple[str, Params]

DEFAULT_LANGUAGE = "en"
LANGUAGES = ("en", "de", "fr", "ms", "hi")

# key -> language -> template (in LANGUAGES order)
_T: dict[str, tuple[str, str, str, str, str]] = {
    "rate": (
        "{rate:pct} of {total:money} {measure} = {raw:money}",
        "{rate:pct} von {total:money} {measure} = {raw:money}",
        "{rate:pct} de {total:money} de {measure} = {raw:money}",
        "{rate:pct} daripada {total:money} {measure} = {raw:money}",
        "{total:money} {measure} का {rate:pct} = {raw:money}",
    ),
    # "3 × €35.00 (Energy contracts)": the count beside the measure's name would need its
    # singular too ("1 Energy contracts")
    "rate_count": (
        "{total:num} × {rate:money} ({measure}) = {raw:money}",
        "{total:num} × {rate:money} ({measure}) = {raw:money}",
        "{total:num} × {rate:money} ({measure}) = {raw:money}",
        "{total:num} × {rate:money} ({measure}) = {raw:money}",
        "{total:num} × {rate:money} ({measure}) = {raw:money}",
    ),
    "window": (
        "counting transactions dated {start:date} to {end:date}",
        "gezählt werden Transaktionen vom {start:date} bis {end:date}",
        "transactions datées du {start:date} au {end:date}",
        "transaksi bertarikh {start:date} hingga {end:date}",
        "{start:date} से {end:date} तक के लेन-देन",
    ),
    "rounded_once": (
        "the lines' exact amounts are added up and the total is rounded once: {amount:money}",
        "die genauen Beträge der Zeilen werden addiert und die Summe einmal gerundet: "
        "{amount:money}",
        "les montants exacts des lignes sont additionnés et le total arrondi une seule fois : "
        "{amount:money}",
        "amaun tepat baris dijumlahkan dan jumlahnya dibundarkan sekali: {amount:money}",
        "पंक्तियों की सटीक राशियाँ जोड़ी जाती हैं और कुल एक बार पूर्णांकित होता है: {amount:money}",
    ),
    "attainment": (
        "{measure}: {total:value} of a {quota:value} quota, {attainment:att} attained",
        "{measure}: {total:value} von {quota:value} Quote, {attainment:att} erreicht",
        "{measure} : {total:value} sur un objectif de {quota:value}, {attainment:att} atteint",
        "{measure}: {total:value} daripada kuota {quota:value}, {attainment:att} dicapai",
        "{measure}: {quota:value} कोटा में से {total:value}, {attainment:att} प्राप्त",
    ),
    "tier": (
        "{rate:pct} of {width:value} in tier {tier} ({band})",
        "{rate:pct} von {width:value} in Stufe {tier} ({band})",
        "{rate:pct} de {width:value} au palier {tier} ({band})",
        "{rate:pct} daripada {width:value} di peringkat {tier} ({band})",
        "स्तर {tier} ({band}) में {width:value} का {rate:pct}",
    ),
    "tier_retroactive": (
        "{rate:pct} of {width:value}: tier {tier} ({band}) applies to the whole amount",
        "{rate:pct} von {width:value}: Stufe {tier} ({band}) gilt für den ganzen Betrag",
        "{rate:pct} de {width:value} : le palier {tier} ({band}) s’applique au montant entier",
        "{rate:pct} daripada {width:value}: peringkat {tier} ({band}) dikenakan pada seluruh amaun",
        "{width:value} का {rate:pct}: स्तर {tier} ({band}) पूरी राशि पर लागू",
    ),
    "band_quota": (
        "{lo:pct}–{hi:pct} of quota",
        "{lo:pct}–{hi:pct} der Quote",
        "{lo:pct}–{hi:pct} de l’objectif",
        "{lo:pct}–{hi:pct} daripada kuota",
        "कोटा का {lo:pct}–{hi:pct}",
    ),
    "band_quota_top": (
        "{lo:pct} of quota and above",
        "ab {lo:pct} der Quote",
        "{lo:pct} de l’objectif et plus",
        "{lo:pct} daripada kuota dan ke atas",
        "कोटा का {lo:pct} और अधिक",
    ),
    "band_amount": (
        "{lo:value} to {hi:value}",
        "{lo:value} bis {hi:value}",
        "de {lo:value} à {hi:value}",
        "{lo:value} hingga {hi:value}",
        "{lo:value} से {hi:value} तक",
    ),
    "band_amount_top": (
        "{lo:value} and above",
        "ab {lo:value}",
        "{lo:value} et plus",
        "{lo:value} dan ke atas",
        "{lo:value} और अधिक",
    ),
    "condition_met": (
        "{condition:expr} holds: {amount:money}",
        "{condition:expr} ist erfüllt: {amount:money}",
        "{condition:expr} est rempli : {amount:money}",
        "{condition:expr} dipenuhi: {amount:money}",
        "{condition:expr} पूरा हुआ: {amount:money}",
    ),
    "condition_unmet": (
        "{condition:expr} does not hold: nothing",
        "{condition:expr} ist nicht erfüllt: nichts",
        "{condition:expr} n’est pas rempli : rien",
        "{condition:expr} tidak dipenuhi: tiada",
        "{condition:expr} पूरा नहीं हुआ: कुछ नहीं",
    ),
    "step": (
        "{measure} at {attainment:att} of quota reaches the step at {at:pct}: {amount:money}",
        "{measure} mit {attainment:att} der Quote erreicht die Stufe bei {at:pct}: {amount:money}",
        "{measure} à {attainment:att} de l’objectif atteint le seuil de {at:pct} : {amount:money}",
        "{measure} pada {attainment:att} daripada kuota mencapai langkah {at:pct}: {amount:money}",
        "कोटा के {attainment:att} पर {measure} {at:pct} के चरण तक पहुँचा: {amount:money}",
    ),
    "below_step": (
        "{measure} at {attainment:att} of quota is below the first step at {at:pct}: nothing",
        "{measure} mit {attainment:att} der Quote liegt unter der ersten Stufe bei {at:pct}: "
        "nichts",
        "{measure} à {attainment:att} de l’objectif est sous le premier seuil de {at:pct} : rien",
        "{measure} pada {attainment:att} daripada kuota di bawah langkah pertama {at:pct}: tiada",
        "कोटा के {attainment:att} पर {measure} पहले चरण {at:pct} से नीचे है: कुछ नहीं",
    ),
    "formula": (
        "{expression:expr} = {amount:money}",
        "{expression:expr} = {amount:money}",
        "{expression:expr} = {amount:money}",
        "{expression:expr} = {amount:money}",
        "{expression:expr} = {amount:money}",
    ),
    "gate_closed": (
        "{condition:expr} is not true: pays nothing",
        "{condition:expr} trifft nicht zu: keine Zahlung",
        "{condition:expr} n’est pas vrai : rien n’est payé",
        "{condition:expr} tidak benar: tiada bayaran",
        "{condition:expr} सही नहीं है: कोई भुगतान नहीं",
    ),
    "capped": (
        "capped at {cap:money} (was {raw:money})",
        "gedeckelt auf {cap:money} (vorher {raw:money})",
        "plafonné à {cap:money} (au lieu de {raw:money})",
        "dihadkan pada {cap:money} (asalnya {raw:money})",
        "{cap:money} पर सीमित (पहले {raw:money})",
    ),
    "payable": (
        "payable now {payable:money}: {part:value} of the {whole:value} credited satisfies "
        "{condition:expr}",
        "jetzt auszahlbar {payable:money}: {part:value} der gutgeschriebenen {whole:value} "
        "erfüllen {condition:expr}",
        "payable maintenant {payable:money} : {part:value} des {whole:value} crédités "
        "remplissent {condition:expr}",
        "boleh dibayar sekarang {payable:money}: {part:value} daripada {whole:value} yang "
        "dikreditkan memenuhi {condition:expr}",
        "अभी देय {payable:money}: जमा किए गए {whole:value} में से {part:value} "
        "{condition:expr} पूरा करते हैं",
    ),
    # a rep's result
    "component": (
        "{component}: {amount:money}",
        "{component}: {amount:money}",
        "{component} : {amount:money}",
        "{component}: {amount:money}",
        "{component}: {amount:money}",
    ),
    "prorated": (
        "quotas prorated to {active} of {days} days",
        "Quoten anteilig für {active} von {days} Tagen",
        "objectifs proratisés sur {active} jours sur {days}",
        "kuota diprorata kepada {active} daripada {days} hari",
        "कोटा {days} में से {active} दिनों के अनुपात में",
    ),
    "plan_cap": (
        "plan cap {total:money} applies (uncapped {uncapped:money}): {adjustment:money}",
        "Plandeckel {total:money} greift (ungedeckelt {uncapped:money}): {adjustment:money}",
        "plafond du plan {total:money} appliqué (sans plafond {uncapped:money}) : "
        "{adjustment:money}",
        "had pelan {total:money} dikenakan (tanpa had {uncapped:money}): {adjustment:money}",
        "योजना सीमा {total:money} लागू (सीमा के बिना {uncapped:money}): {adjustment:money}",
    ),
    # one transaction's line
    "line": (
        "{component}: {rate:pct} of {value:money} {measure} from transaction {transaction} "
        "= {amount:money}",
        "{component}: {rate:pct} von {value:money} {measure} aus Transaktion {transaction} "
        "= {amount:money}",
        "{component} : {rate:pct} de {value:money} de {measure} de la transaction "
        "{transaction} = {amount:money}",
        "{component}: {rate:pct} daripada {value:money} {measure} daripada transaksi "
        "{transaction} = {amount:money}",
        "{component}: लेन-देन {transaction} के {value:money} {measure} का {rate:pct} = {amount:money}",
    ),
    "line_count": (
        "{component}: {value:num} × {rate:money} ({measure}) from transaction {transaction} "
        "= {amount:money}",
        "{component}: {value:num} × {rate:money} ({measure}) aus Transaktion {transaction} "
        "= {amount:money}",
        "{component} : {value:num} × {rate:money} ({measure}) de la transaction {transaction} "
        "= {amount:money}",
        "{component}: {value:num} × {rate:money} ({measure}) daripada transaksi {transaction} "
        "= {amount:money}",
        "{component}: लेन-देन {transaction} से {value:num} × {rate:money} ({measure}) "
        "= {amount:money}",
    ),
    # why a rep's result is in error (`calculate.RepFailure`); people by their display names
    "error_no_quota": (
        "no quota for {measure} in {period}",
        "keine Quote für {measure} in {period}",
        "aucun objectif pour {measure} en {period}",
        "tiada kuota untuk {measure} dalam {period}",
        "{period} में {measure} के लिए कोई कोटा नहीं",
    ),
    "error_quota_not_positive": (
        "the quota for {measure} in {period} is {quota:num}: it must be above zero",
        "die Quote für {measure} in {period} ist {quota:num}: sie muss über null liegen",
        "l’objectif pour {measure} en {period} est de {quota:num} : il doit être supérieur à zéro",
        "kuota untuk {measure} dalam {period} ialah {quota:num}: ia mesti melebihi sifar",
        "{period} में {measure} का कोटा {quota:num} है: यह शून्य से अधिक होना चाहिए",
    ),
    "error_no_fx_rate": (
        "no {fx_currency} exchange rate on or before {day:date} (transaction {transaction})",
        "kein Wechselkurs für {fx_currency} am oder vor dem {day:date} (Transaktion {transaction})",
        "aucun taux de change {fx_currency} au {day:date} ou avant (transaction {transaction})",
        "tiada kadar pertukaran {fx_currency} pada atau sebelum {day:date} "
        "(transaksi {transaction})",
        "{day:date} को या उससे पहले {fx_currency} की कोई विनिमय दर नहीं (लेन-देन {transaction})",
    ),
    "error_team_member": (
        "team member {rep}: {cause}",
        "Teammitglied {rep}: {cause}",
        "membre de l’équipe {rep} : {cause}",
        "ahli pasukan {rep}: {cause}",
        "टीम सदस्य {rep}: {cause}",
    ),
    # a component that cannot be calculated for a rep: what went wrong (`cause`, one of the
    # `error_<problem>` reasons below, `expressions.PROBLEMS`), in which expression when known
    "error_component": (
        "{component}: {cause}",
        "{component}: {cause}",
        "{component} : {cause}",
        "{component}: {cause}",
        "{component}: {cause}",
    ),
    # a transaction whose filter, value or payable_when fails: every rep credited with it
    "error_transaction": (
        "transaction {transaction}: {cause}",
        "Transaktion {transaction}: {cause}",
        "transaction {transaction} : {cause}",
        "transaksi {transaction}: {cause}",
        "लेन-देन {transaction}: {cause}",
    ),
    "error_division_by_zero_in": (
        "division by zero in {expression:expr}",
        "Division durch null in {expression:expr}",
        "division par zéro dans {expression:expr}",
        "pembahagian dengan sifar dalam {expression:expr}",
        "{expression:expr} में शून्य से भाग",
    ),
    "error_division_by_zero": (
        "division by zero",
        "Division durch null",
        "division par zéro",
        "pembahagian dengan sifar",
        "शून्य से भाग",
    ),
    "error_too_large_in": (
        "a number too large to calculate with in {expression:expr}",
        "eine zu große Zahl zum Rechnen in {expression:expr}",
        "un nombre trop grand pour être calculé dans {expression:expr}",
        "nombor terlalu besar untuk dikira dalam {expression:expr}",
        "{expression:expr} में गणना के लिए बहुत बड़ी संख्या",
    ),
    "error_too_large": (
        "a number too large to calculate with",
        "eine zu große Zahl zum Rechnen",
        "un nombre trop grand pour être calculé",
        "nombor terlalu besar untuk dikira",
        "गणना के लिए बहुत बड़ी संख्या",
    ),
    "error_not_a_number_in": (
        "a calculation with a number too large or not a number in {expression:expr}",
        "eine Rechnung mit einer zu großen oder ungültigen Zahl in {expression:expr}",
        "un calcul avec un nombre trop grand ou invalide dans {expression:expr}",
        "pengiraan dengan nombor terlalu besar atau bukan nombor dalam {expression:expr}",
        "{expression:expr} में बहुत बड़ी या अमान्य संख्या वाली गणना",
    ),
    "error_not_a_number": (
        "a calculation with a number too large or not a number",
        "eine Rechnung mit einer zu großen oder ungültigen Zahl",
        "un calcul avec un nombre trop grand ou invalide",
        "pengiraan dengan nombor terlalu besar atau bukan nombor",
        "बहुत बड़ी या अमान्य संख्या वाली गणना",
    ),
    "error_no_result_in": (
        "a calculation that has no result in {expression:expr}",
        "eine Rechnung ohne Ergebnis in {expression:expr}",
        "un calcul sans résultat dans {expression:expr}",
        "pengiraan yang tiada hasil dalam {expression:expr}",
        "{expression:expr} में बिना परिणाम की गणना",
    ),
    "error_no_result": (
        "a calculation that has no result",
        "eine Rechnung ohne Ergebnis",
        "un calcul sans résultat",
        "pengiraan yang tiada hasil",
        "बिना परिणाम की गणना",
    ),
    "error_missing_value_in": (
        "a missing value used in arithmetic in {expression:expr}",
        "ein fehlender Wert wird in {expression:expr} verrechnet",
        "une valeur manquante est utilisée dans le calcul de {expression:expr}",
        "nilai yang tiada digunakan dalam pengiraan {expression:expr}",
        "{expression:expr} की गणना में एक अनुपलब्ध मान",
    ),
    "error_missing_value": (
        "a missing value used in arithmetic",
        "ein fehlender Wert wird verrechnet",
        "une valeur manquante est utilisée dans un calcul",
        "nilai yang tiada digunakan dalam pengiraan",
        "गणना में एक अनुपलब्ध मान",
    ),
    "error_wrong_type_in": (
        "a value of the wrong kind (a text where a number is needed) in {expression:expr}",
        "ein Wert der falschen Art (ein Text statt einer Zahl) in {expression:expr}",
        "une valeur du mauvais type (un texte au lieu d’un nombre) dans {expression:expr}",
        "nilai jenis yang salah (teks dan bukan nombor) dalam {expression:expr}",
        "{expression:expr} में गलत प्रकार का मान (संख्या के स्थान पर पाठ)",
    ),
    "error_wrong_type": (
        "a value of the wrong kind (a text where a number is needed)",
        "ein Wert der falschen Art (ein Text statt einer Zahl)",
        "une valeur du mauvais type (un texte au lieu d’un nombre)",
        "nilai jenis yang salah (teks dan bukan nombor)",
        "गलत प्रकार का मान (संख्या के स्थान पर पाठ)",
    ),
    "error_not_numeric_in": (
        "{expression:expr} does not give a number",
        "{expression:expr} ergibt keine Zahl",
        "{expression:expr} ne donne pas un nombre",
        "{expression:expr} tidak menghasilkan nombor",
        "{expression:expr} से कोई संख्या नहीं मिलती",
    ),
    "error_not_numeric": (
        "a value that is not a number",
        "ein Wert, der keine Zahl ist",
        "une valeur qui n’est pas un nombre",
        "nilai yang bukan nombor",
        "ऐसा मान जो संख्या नहीं है",
    ),
    "credited_to": (
        "credited to {rep}",
        "gutgeschrieben für {rep}",
        "crédité à {rep}",
        "dikreditkan kepada {rep}",
        "{rep} को जमा",
    ),
    "fx": (
        "{original:fxmoney} converted at the {day:date} rate of {fx_rate:num}: {converted:money}",
        "{original:fxmoney} umgerechnet zum Kurs {fx_rate:num} vom {day:date}: {converted:money}",
        "{original:fxmoney} convertis au taux de {fx_rate:num} du {day:date} : {converted:money}",
        "{original:fxmoney} ditukar pada kadar {fx_rate:num} bertarikh {day:date}: "
        "{converted:money}",
        "{original:fxmoney} को {day:date} की दर {fx_rate:num} पर बदला गया: {converted:money}",
    ),
    "fx_transaction": (
        "transaction {transaction}: {original:fxmoney} converted at the {day:date} rate of "
        "{fx_rate:num}: {converted:money}",
        "Transaktion {transaction}: {original:fxmoney} umgerechnet zum Kurs {fx_rate:num} "
        "vom {day:date}: {converted:money}",
        "transaction {transaction} : {original:fxmoney} convertis au taux de {fx_rate:num} "
        "du {day:date} : {converted:money}",
        "transaksi {transaction}: {original:fxmoney} ditukar pada kadar {fx_rate:num} "
        "bertarikh {day:date}: {converted:money}",
        "लेन-देन {transaction}: {original:fxmoney} को {day:date} की दर {fx_rate:num} पर बदला "
        "गया: {converted:money}",
    ),
    "fx_more": (
        "and {count} more converted transactions",
        "und {count} weitere umgerechnete Transaktionen",
        "et {count} autres transactions converties",
        "dan {count} lagi transaksi yang ditukar",
        "और {count} अन्य बदले गए लेन-देन",
    ),
    "share": (
        "a {share:pct} share of the transaction",
        "ein Anteil von {share:pct} an der Transaktion",
        "une part de {share:pct} de la transaction",
        "bahagian {share:pct} daripada transaksi",
        "लेन-देन का {share:pct} हिस्सा",
    ),
    "line_gate_closed": (
        "the component's condition is not true: this line pays nothing",
        "die Bedingung der Komponente trifft nicht zu: diese Zeile zahlt nichts",
        "la condition de la composante n’est pas vraie : cette ligne ne paie rien",
        "syarat komponen tidak benar: baris ini tidak dibayar",
        "घटक की शर्त सही नहीं है: यह पंक्ति कुछ नहीं देती",
    ),
    "line_capped": (
        "scaled down by the component's cap",
        "durch den Deckel der Komponente gekürzt",
        "réduit par le plafond de la composante",
        "dikurangkan oleh had komponen",
        "घटक की सीमा से घटाया गया",
    ),
}

# Words of expressions, per language: and, or, not, if, else, and the reference functions
_WORDS: dict[str, dict[str, str]] = {
    "en": {"and": "and", "or": "or", "not": "not", "if": "if", "else": "else",
           "total": "{} total", "quota": "{} quota", "attainment": "{} attainment",
           "count": "number of {}", "component": "{}"},
    "de": {"and": "und", "or": "oder", "not": "nicht", "if": "wenn", "else": "sonst",
           "total": "{} gesamt", "quota": "Quote {}", "attainment": "Zielerreichung {}",
           "count": "Anzahl {}", "component": "{}"},
    "fr": {"and": "et", "or": "ou", "not": "non", "if": "si", "else": "sinon",
           "total": "total {}", "quota": "objectif {}", "attainment": "atteinte {}",
           "count": "nombre de {}", "component": "{}"},
    "ms": {"and": "dan", "or": "atau", "not": "bukan", "if": "jika", "else": "jika tidak",
           "total": "jumlah {}", "quota": "kuota {}", "attainment": "pencapaian {}",
           "count": "bilangan {}", "component": "{}"},
    "hi": {"and": "और", "or": "या", "not": "नहीं", "if": "यदि", "else": "अन्यथा",
           "total": "{} कुल", "quota": "{} कोटा", "attainment": "{} प्राप्ति",
           "count": "{} की संख्या", "component": "{}"},
}  # fmt: skip


def reason(key: str, **params: Any) -> Reason:
    """A reason with its parameters in a fixed order (equal reasons compare and hash equal)."""
    return key, tuple(sorted(params.items()))


def component_reason(name: str, amount: Decimal) -> Reason:
    """`reason("component", component=name, amount=amount)`, built directly. A component's
    line and its rep's result both start with it, from the same amount (the component's
    Decimal): asked again for that object, the same reason is returned, so that storing
    both makes its text once (`encode_each`)."""
    found = _COMPONENT_HEADS.get(id(amount))
    if found is not None and found[0] is amount and found[1] == name:
        return found[2]
    made: Reason = ("component", (("amount", amount), ("component", name)))
    if len(_COMPONENT_HEADS) >= _ENCODED_LIMIT:
        _COMPONENT_HEADS.clear()
    _COMPONENT_HEADS[id(amount)] = (amount, name, made)  # the amount kept: its id stays its own
    return made


_COMPONENT_HEADS: dict[int, tuple[Decimal, str, Reason]] = {}


# --- storage: reasons as JSON text ---------------------------------------------------------


_ENCODED_LIMIT = 4096  # entries of a cache of texts below, at most
_string = json.encoder.encode_basestring  # JSON string of any letters as they are (C)

# Reasons stored by position, their parameters (in `reason`'s order) a list rather than an
# object: a component on a measure in several currencies lists up to _MAX_CONVERSIONS of them
# (and its quota club the same again), which by name made most of a close's stored text.
# Older rows store them by name; both read the same.
_POSITIONAL: dict[str, tuple[str, ...]] = {
    "fx_transaction": ("day", "fx_currency", "fx_rate", "original", "transaction"),
    "fx": ("day", "fx_currency", "fx_rate", "original"),
}
# A conversion's converted amount is not among its parameters: it is the original times the
# rate, derived when read (`_Words.reason`) in the engine's context (calculate._CONTEXT), so
# it is the amount the engine credited. A row stored before has it: read as stored.
_DERIVED = Context(prec=28, rounding=ROUND_HALF_EVEN)


def encode(reasons: tuple[Reason, ...]) -> str:
    """Reasons as compact JSON text (``[[key, {param: value}], ...]``; conversions by
    position, `_POSITIONAL`), the stored form of a line."""
    return encode_each(reasons, {})


def encode_each(reasons: tuple[Reason, ...], known: dict[int, tuple[Any, str]]) -> str:
    """`encode`, the reasons' text and each reason's looked up in ``known`` first (by
    identity: a caller keeps it for reasons it knows recur, such as the conversions the
    components on one measure share, or the reasons of a component's plain lines) and kept
    there."""
    whole = known.get(id(reasons))
    if whole is not None and whole[0] is reasons:
        return whole[1]
    texts = []
    for r in reasons:
        found = known.get(id(r))
        if found is None or found[0] is not r:
            found = known[id(r)] = (r, reason_text(r))
        texts.append(found[1])
    text = "[" + ",".join(texts) + "]"
    known[id(reasons)] = (reasons, text)
    return text


def reason_text(r: Reason) -> str:
    """One reason as JSON text: ``plain``'s form, written directly (a close writes a few
    dozen a person), but the reasons of `_POSITIONAL` by position."""
    key, params = r
    names = _POSITIONAL.get(key)
    # by position when its parameters are _POSITIONAL's: a reason's are in order of name,
    # so the same count starting with "day" is those (an older row's "converted" comes first)
    if names is not None and len(params) == len(names) and params[0][0] == "day":
        # a key of _POSITIONAL (a conversion): nothing to escape in the key. Its day, currency
        # and rate recur across a close's million conversions (a few dozen of each): their
        # text is made once (`_conversion_head`), the original amount and the id each time.
        head = _conversion_head(params[0][1], params[1][1], params[2][1])
        original = params[3][1]
        if type(original) is Decimal:  # as `_value_text` writes it, inline
            amount = str(original)
            amount = f'"{format(original, "f") if "E" in amount else amount}"'
        else:
            amount = _value_text(original)
        if len(params) == 4:
            return f'["{key}",[{head},{amount}]]'
        named = params[4][1]  # fx_transaction's id
        tail = _string(named) if type(named) is str else _value_text(named)
        return f'["{key}",[{head},{amount},{tail}]]'
    parts = []
    for k, v in params:
        # a parameter's name is a Python identifier (`reason`'s keywords): nothing to escape.
        # The usual values inline (`_value_text` the rest): a close writes a million
        kind = type(v)
        if kind is Decimal:
            text = str(v)
            parts.append(f'"{k}":"{format(v, "f") if "E" in text else text}"')
        elif kind is str:
            parts.append(f'"{k}":{_string(v)}')
        else:
            parts.append(f'"{k}":{_value_text(v)}')
    return f"[{_string(key)},{{{','.join(parts)}}}]"


def _value_text(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return _string(value)
    if kind is Decimal:
        text = str(value)
        return f'"{format(value, "f") if "E" in text else text}"'
    if kind is date:
        return f'"{value.isoformat()}"'
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    if isinstance(value, date):
        return f'"{value.isoformat()}"'
    if isinstance(value, tuple):
        # a nested reason (a tier's band) or pairs (an expression's names): the same objects
        # for every rep of a calculation, so written once
        known = _NESTED.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        if len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], tuple):
            text = reason_text(value)
        else:
            text = "[" + ",".join([_value_text(v) for v in value]) + "]"
        if len(_NESTED) >= _ENCODED_LIMIT:
            _NESTED.clear()
        _NESTED[id(value)] = (value, text)
        return text
    return _string(str(value))


_NESTED: dict[int, tuple[tuple[Any, ...], str]] = {}
# (day, currency, rate) -> (the rate, the three as JSON values): the rate kept to compare by
# identity, as equal decimals may be written differently (0.92 and 0.920)
_HEADS: dict[tuple[Any, Any, Any], tuple[Any, str]] = {}


def _conversion_head(day: Any, currency: Any, rate: Any) -> str:
    key = (day, currency, rate)
    known = _HEADS.get(key)
    if known is not None and known[0] is rate:
        return known[1]
    text = f"{_value_text(day)},{_value_text(currency)},{_value_text(rate)}"
    if len(_HEADS) >= _ENCODED_LIMIT:
        _HEADS.clear()
    _HEADS[key] = (rate, text)
    return text


def plain(reasons: tuple[Reason, ...]) -> list[Any]:
    """Reasons as JSON values (lists, dicts, exact decimal strings), each by name."""
    return [_reason_json(r) for r in reasons]


def _reason_json(r: Reason) -> list[Any]:
    return [r[0], {k: v if type(v) in _AS_IS else _json_value(v) for k, v in r[1]}]


_AS_IS = frozenset({str, int, bool, type(None)})


def _json_value(value: Any) -> Any:
    kind = type(value)
    if kind is Decimal:
        text = str(value)
        return format(value, "f") if "E" in text else text
    if kind in _AS_IS:
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        if len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], tuple):
            return _reason_json(value)  # a nested reason
        return [_json_value(v) for v in value]
    return str(value)


def decode(text: str) -> list[Any] | None:
    """Stored reasons, each by name (`_POSITIONAL` ones named), or None for a text stored
    before reasons were (rendered as it is)."""
    if not text.startswith("[["):
        return None
    try:
        found = json.loads(text)
    except ValueError:
        return None
    if not isinstance(found, list):
        return None
    return [_named(r) for r in found]


def _named(r: Any) -> Any:
    if not (isinstance(r, list) and len(r) == 2 and isinstance(r[1], list)):
        return r
    names = _POSITIONAL.get(r[0])
    if names is None or len(r[1]) != len(names):
        return r
    return [r[0], dict(zip(names, r[1], strict=True))]


# --- rendering ----------------------------------------------------------------------------


def shown_attainment(attainment: Decimal) -> Decimal:
    """An attainment as shown to people: truncated to 0.1% (79.96% must not read as 80%)."""
    return (attainment * 1000).to_integral_value(rounding=ROUND_DOWN) / 1000


# a person's locale tag as a Babel locale (one parser for explanations, money, notifications)
babel_locale = parse_locale


def language_of(tag: str | None) -> int:
    language = str(babel_locale(tag).language)
    return LANGUAGES.index(language) if language in LANGUAGES else 0


def render(
    reasons: Iterable[Any],
    *,
    locale: str | None,
    currency: str,
    extra: Mapping[str, Any] | None = None,
    separator: str = "; ",
) -> str:
    """Reasons (as built, or as decoded from storage) in words; ``extra`` adds parameters
    every reason may read (a stored line's value, amount and transaction come from its row)."""
    where = babel_locale(locale)
    words = _Words(where, language_of(locale), currency)
    return separator.join(words.reason(r, extra or {}) for r in reasons)


def _params(raw: Any) -> dict[str, Any]:
    return dict(raw)  # a mapping (decoded) or pairs (as built)


class _Words(string.Formatter):
    def __init__(self, locale: Locale, language: int, currency: str) -> None:
        self.locale = locale
        self.language = language
        self.currency = currency
        self.params: dict[str, Any] = {}

    def reason(self, r: Any, extra: Mapping[str, Any]) -> str:
        key, raw = r[0], r[1]
        params = {**extra, **_params(raw)}  # a reason's own parameters come first
        templates = _T.get(str(key))
        if templates is None:  # written by a newer version: say what is known
            return str(key)
        outer = self.params
        self.params = params
        try:
            if key in _POSITIONAL and params.get("converted") is None:
                original, rate = Decimal(str(params["original"])), Decimal(str(params["fx_rate"]))
                params["converted"] = _DERIVED.multiply(original, rate)
            return self.vformat(templates[self.language], (), params)
        except (LookupError, ValueError, TypeError, ArithmeticError, DomainError):
            # stored data this version cannot read (a missing parameter, a bad number): the
            # key rather than a failed request
            return str(key)
        finally:
            self.params = outer

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            return "–"
        if not format_spec:
            if isinstance(value, list | tuple) and value and isinstance(value[0], str):
                return self.reason(value, {})  # a nested reason
            return str(value)
        if format_spec == "expr":
            return self.expression(str(value))
        if format_spec == "date":
            day = value if isinstance(value, date) else date.fromisoformat(str(value))
            return str(format_date(day, format="medium", locale=self.locale))
        number = Decimal(str(value))
        if format_spec == "value":
            format_spec = "num" if self.params.get("count") else "money"
        if format_spec == "money":
            return self.money(number, self.currency)
        if format_spec == "fxmoney":
            return self.money(number, str(self.params.get("fx_currency") or self.currency))
        if format_spec == "pct":
            return str(format_percent(number, locale=self.locale, decimal_quantization=False))
        if format_spec == "att":
            return str(
                format_percent(
                    shown_attainment(number), locale=self.locale, decimal_quantization=False
                )
            )
        return str(
            format_decimal(number.normalize(), locale=self.locale, decimal_quantization=False)
        )

    def money(self, amount: Decimal, currency: str) -> str:
        return str(format_currency(round_money(amount, currency), currency, locale=self.locale))

    def expression(self, source: str) -> str:
        names = dict(self.params.get("names") or ())
        return _ExpressionWords(self, _WORDS[LANGUAGES[self.language]], names).text(source)


class _ExpressionWords:
    """A plan expression in words: references by display name (``attainment('bookings')``
    reads "Bookings attainment"), numbers in the reader's locale (a number compared with an
    attainment as a percentage), ``>=`` as ``≥``; anything unusual falls back to its source."""

    _OPS: dict[type[ast.AST], str] = {
        ast.Eq: "=", ast.NotEq: "≠", ast.Lt: "<", ast.LtE: "≤", ast.Gt: ">", ast.GtE: "≥",
        ast.In: "∈", ast.NotIn: "∉", ast.Add: "+", ast.Sub: "−", ast.Mult: "×", ast.Div: "÷",
    }  # fmt: skip

    def __init__(self, words: _Words, vocabulary: dict[str, str], names: Mapping[str, str]):
        self.words = words
        self.vocabulary = vocabulary
        self.names = names

    def text(self, source: str) -> str:
        try:
            tree = _parse(source)
            return self.node(tree, percent=False)
        except (SyntaxError, ValueError, KeyError, TypeError, ArithmeticError):
            return source

    def node(self, node: ast.AST, *, percent: bool) -> str:
        v = self.vocabulary
        if isinstance(node, ast.BoolOp):
            word = f" {v['and'] if isinstance(node.op, ast.And) else v['or']} "
            return word.join(self.node(x, percent=False) for x in node.values)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                return f"{v['not']} ({self.node(node.operand, percent=False)})"
            if isinstance(node.op, ast.USub):
                return f"−{self.node(node.operand, percent=percent)}"
            return self.node(node.operand, percent=percent)
        if isinstance(node, ast.Compare):
            parts = [self.node(node.left, percent=False)]
            scaled = self._is_attainment(node.left)
            for op, right in zip(node.ops, node.comparators, strict=True):
                parts.append(self._OPS[type(op)])
                parts.append(self.node(right, percent=scaled or self._is_attainment(right)))
                scaled = self._is_attainment(right)
            return " ".join(parts)
        if isinstance(node, ast.BinOp):
            lhs = self.node(node.left, percent=percent)
            rhs = self.node(node.right, percent=percent)
            return f"({lhs} {self._OPS[type(node.op)]} {rhs})"
        if isinstance(node, ast.IfExp):
            body = self.node(node.body, percent=percent)
            test = self.node(node.test, percent=False)
            orelse = self.node(node.orelse, percent=percent)
            return f"{body} {v['if']} {test}, {v['else']} {orelse}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            fn = node.func.id
            args = node.args
            if fn in v and len(args) == 1 and isinstance(args[0], ast.Constant):
                return v[fn].format(
                    display_name(self.names.get(str(args[0].value)), str(args[0].value))
                )
            inner = ", ".join(self.node(a, percent=False) for a in args)
            return f"{fn}({inner})"
        if isinstance(node, ast.Tuple | ast.List):
            return "(" + ", ".join(self.node(e, percent=False) for e in node.elts) + ")"
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or value is None:
                return str(value)
            if isinstance(value, int | float):
                number = Decimal(str(value))
                spec = "pct" if percent else "num"
                return self.words.format_field(number, spec)
            return f"“{value!s}”"
        raise ValueError("not rendered")

    @staticmethod
    def _is_attainment(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "attainment"
        )


@lru_cache(maxsize=512)
def _parse(source: str) -> ast.AST:
    return ast.parse(source.strip(), mode="eval").body


def render_stored(
    text: str,
    *,
    locale: str | None,
    currency: str,
    value: Decimal | None = None,
    amount: Decimal | None = None,
    transaction: str | None = None,
) -> str:
    """A stored line's explanation (its reasons, `encode`) in words; the line's own value,
    amount and transaction come from its row. A text stored before reasons reads as it is."""
    reasons = decode(text)
    if reasons is None:
        return text
    extra = {"value": value, "amount": amount, "transaction": transaction}
    return render(reasons, locale=locale, currency=currency, extra=extra)


def error_words(stored: Any, message: str | None, *, locale: str | None, currency: str) -> str:
    """A result in error in the reader's language: its stored reason (``stored``: the
    result's explanation, `RepError.reason` encoded, as text or decoded JSON), else its
    message as stored (in English: a failure without a reason, or one stored before)."""
    reasons = decode(stored) if isinstance(stored, str) else stored
    if isinstance(reasons, list) and reasons:
        return render([_named(r) for r in reasons], locale=locale, currency=currency)
    return message or "error"
