"""`podium simulate`: run a plan offline against a directory of CSV files (PLAN_SPEC section 7)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from domain.datasets.csvfiles import csv_lines, read_directory_texts
from domain.engine.calculate import calculate
from domain.engine.explanations import babel_locale, language_of, render, shown_attainment
from domain.engine.plan import Plan, parse_plan_text
from domain.engine.results import PlanResult
from domain.kit.errors import DataError, PlanError
from domain.kit.money import minor_units
from domain.kit.periods import parse_period

_FILES = ("reps.csv", "transactions.csv", "quotas.csv", "assignments.csv", "fx.csv")


def load_plan_file(path: Path) -> Plan:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise PlanError(f"cannot read: {exc.strerror}", field=str(path)) from None
    except UnicodeDecodeError:
        raise PlanError("is not UTF-8 text", field=str(path)) from None
    try:
        return parse_plan_text(text, source=str(path))
    except PlanError as exc:
        if exc.field and not exc.field.startswith(str(path)):
            raise PlanError(exc.message, field=f"{path}: {exc.field}") from None
        raise


def simulate(plan_path: Path, data_dir: Path, period_id: str) -> PlanResult:
    plan = load_plan_file(plan_path)
    period = parse_period(period_id)
    if not data_dir.is_dir():
        raise DataError("is not a directory", file=str(data_dir))
    texts: dict[str, list[str] | None] = {}
    for name in _FILES:
        path = data_dir / name
        try:
            texts[name] = csv_lines(path.read_text(encoding="utf-8-sig"))
        except FileNotFoundError:
            texts[name] = None
        except UnicodeDecodeError as exc:
            raise DataError(f"is not UTF-8 text ({exc.reason})", file=name) from None
        except OSError as exc:
            raise DataError(f"cannot read: {exc.strerror}", file=name) from None
    inputs = read_directory_texts(texts, period.id)
    return calculate(plan, period, inputs)


def render_json(result: PlanResult, *, explain: bool = False, locale: str | None = None) -> str:
    return json.dumps(result.to_dict(explain=explain, locale=locale), indent=1, ensure_ascii=False)


# the table's words in explanations.LANGUAGES' order (en, de, fr, ms, hi), as the
# explanation lines under it are
_WORDS = {
    "Rep": ("Rep", "Person", "Commercial", "Wakil", "प्रतिनिधि"),
    "Attainment": ("Attainment", "Zielerreichung", "Atteinte", "Pencapaian", "उपलब्धि"),
    "Total": ("Total", "Gesamt", "Total", "Jumlah", "कुल"),
    "Payable": ("Payable", "Auszahlbar", "Payable", "Boleh dibayar", "देय"),
    "Pending": ("Pending", "Ausstehend", "En attente", "Belum selesai", "लंबित"),
    "Cap adj.": ("Cap adj.", "Deckelung", "Plafond", "Had", "सीमा समायोजन"),
    "Components": ("Components", "Komponenten", "Composantes", "Komponen", "घटक"),
    "Component": ("Component", "Komponente", "Composante", "Komponen", "घटक"),
    "Amount": ("Amount", "Betrag", "Montant", "Amaun", "राशि"),
    "measures": ("measures", "Kennzahlen", "mesures", "ukuran", "माप"),
    "of quota": ("of quota", "von Quote", "sur un quota de", "daripada kuota", "कोटा"),
    "payable": ("payable", "auszahlbar", "payable", "boleh dibayar", "देय"),
    "Not calculated": (
        "Not calculated",
        "Nicht berechnet",
        "Non calculé",
        "Tidak dikira",
        "गणना नहीं हुई",
    ),  # fmt: skip
    "Reason": ("Reason", "Grund", "Raison", "Sebab", "कारण"),
}


def _figure(
    value: Decimal, digits: int | None = None, locale: str | None = None, *, percent: bool = False
) -> str:
    """Readable figure in the locale's own pattern (its separators and grouping: 12,34,567.50
    in Hindi; with ``percent``, its percent sign: 102,6 % in German), with ``digits``
    decimals (money: its minor unit), or up to two."""
    if digits is None:
        digits = 0 if value == value.to_integral() else 2
    where = babel_locale(locale)
    pattern = copy.copy((where.percent_formats if percent else where.decimal_formats)[None])
    pattern.frac_prec = (digits, digits)
    return str(pattern.apply(value, where))


def render_table(
    result: PlanResult, console: Console, *, explain: bool = False, locale: str | None = None
) -> None:
    """The result as tables (and, with ``explain``, a tree per rep), in ``locale``'s words
    and figures."""
    digits = minor_units(result.currency)
    language = language_of(locale)

    def word(key: str) -> str:
        return _WORDS[key][language]

    def figure(value: Decimal) -> str:
        return _figure(value, locale=locale)

    def money(value: Decimal) -> str:
        return _figure(value, digits, locale)

    def percent(attainment: Decimal) -> str:
        return _figure(shown_attainment(attainment), 1, locale, percent=True)

    names = dict(result.measure_names)
    summary = Table(title=f"{result.plan_id} · {result.period} · {result.currency}")
    for column in ("Rep", "Attainment"):
        summary.add_column(word(column))
    for column in ("Total", "Payable", "Pending", "Cap adj."):
        summary.add_column(word(column), justify="right")
    for rep in result.reps:
        attainment = "\n".join(
            f"{escape(names.get(m.id, m.id))} {percent(m.attainment)}"
            for m in rep.measures
            if m.attainment is not None
        )
        summary.add_row(
            rep.rep_id,
            attainment or "-",
            money(rep.total),
            money(rep.payable),
            money(rep.pending),
            money(rep.cap_adjustment),
        )
    console.print(summary)
    if not explain:
        components = Table(title=word("Components"))
        for column in ("Rep", "Component"):
            components.add_column(word(column))
        for column in ("Amount", "Payable", "Pending"):
            components.add_column(word(column), justify="right")
        for rep in result.reps:
            for c in rep.components:
                components.add_row(
                    rep.rep_id, c.id, money(c.amount), money(c.payable), money(c.pending)
                )
        console.print(components)
    if explain:
        for rep in result.reps:
            tree = Tree(f"[bold]{rep.rep_id}[/bold]: {money(rep.total)} {rep.currency}")
            measures = tree.add(word("measures"))
            measure_names = dict(result.measure_names)
            for m in rep.measures:
                text = f"{escape(measure_names.get(m.id, m.id))}: {figure(m.total)}"
                if m.quota is not None:
                    text += f" {word('of quota')} {figure(m.quota)}"
                if m.attainment is not None:
                    text += f" ({percent(m.attainment)})"
                measures.add(text)
            names = dict(result.component_names)
            for c in rep.components:
                name = escape(names.get(c.id, c.id))
                branch = tree.add(
                    f"{name}: {money(c.amount)} ({word('payable')} {money(c.payable)})"
                )
                for reason in c.reasons:
                    branch.add(escape(render((reason,), locale=locale, currency=rep.currency)))
                for line in rep.lines:
                    if line.component == c.id:
                        branch.add(escape(result.line_words(rep.rep_id, line, locale)))
            for reason in rep.reasons[len(rep.components) :]:
                tree.add(escape(render((reason,), locale=locale, currency=rep.currency)))
            console.print(tree)
    if result.errors:
        errors = Table(title=word("Not calculated"))
        errors.add_column(word("Rep"))
        errors.add_column(word("Reason"))
        for e in result.errors:
            errors.add_row(e.rep_id, e.message)
        console.print(errors)
