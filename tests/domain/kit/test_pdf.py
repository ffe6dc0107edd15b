"""PDFs print every script Podium's languages need, with fonts that ship with the code: a
certificate for a Hindi name, a German one and a Russian one, read back with pypdf."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from domain.kit.pdf import FONTS, SANS, new_pdf
from gamification.badges.certificates import certificate_pdf


def _text(data: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _fonts(data: bytes) -> set[str]:
    found: set[str] = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            found.add(str(font.get_object()["/BaseFont"]))
    return found


def test_the_fonts_ship_with_the_code() -> None:
    assert {p.name for p in FONTS.glob("*.ttf")} == {
        "DejaVuSans.ttf",
        "DejaVuSans-Bold.ttf",
        "NotoSansDevanagari-Regular.ttf",
        "NotoSansDevanagari-Bold.ttf",
    }


def test_names_in_devanagari_latin_and_cyrillic_print_as_written() -> None:
    for name in ("अनन्या शर्मा", "Jürgen Weiß", "Анна Иванова"):
        data = certificate_pdf(
            recipient=name,
            badge="Quota crusher",
            description="",
            period="2026-10",
            awarded_on=date(2026, 11, 2),
            tenant="Acme",
            credential_id="urn:uuid:0",
        )
        text = _text(data)
        assert name in text, (name, text)
        assert "Quota crusher" in text


def test_hindi_falls_back_to_the_devanagari_font_and_is_shaped() -> None:
    pdf = new_pdf()
    pdf.add_page()
    pdf.cell(0, 10, "कुल कमीशन: ₹1,23,456.78")  # a conjunct and a vowel sign drawn before
    data = bytes(pdf.output())
    assert any("NotoSansDevanagari" in f for f in _fonts(data))
    assert any("DejaVuSans" in f for f in _fonts(data))
    # pypdf puts a space where a shaped cluster's advance leaves a gap it reads as one
    # (the page itself shows "कुल कमीशन" as written): compare without spaces
    assert "कुलकमीशन:₹1,23,456.78" in _text(data).replace(" ", "")


def test_a_line_after_one_that_starts_in_hindi_keeps_its_font() -> None:
    # fpdf2 sets the page's font inside the first line (it starts in the fallback font), which
    # it wraps in q ... Q; without new_pdf's fix the number after it had no font and read
    # back as glyph ids
    pdf = new_pdf()
    pdf.add_page()
    pdf.set_font(SANS, "B", 18)
    pdf.cell(0, 12, "क्रेडिट नोट", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(SANS, "", 10)
    pdf.cell(50, 6, "संख्या")
    pdf.cell(0, 6, "2026-000002 Acme", new_x="LMARGIN", new_y="NEXT")
    text = _text(bytes(pdf.output()))
    assert "संख्या 2026-000002 Acme" in text, text


def test_fpdf_is_imported_with_the_first_pdf_not_with_the_modules_that_make_them() -> None:
    """fpdf2, fontTools and Pillow cost a process about 0.4 s of CPU to import: a close, the
    API and the workers import the statement and invoice services but make PDFs rarely."""
    probe = (
        "import sys\n"
        "import api.cli_close, domain.earnings.close, payments.statements.service\n"
        "import payments.invoices.service, gamification.badges.certificates\n"
        "assert 'fpdf' not in sys.modules, 'imported early'\n"
        "from domain.kit.pdf import new_pdf\n"
        "new_pdf()\n"
        "assert 'fpdf' in sys.modules\n"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def _page(text: str) -> bytes:
    pdf = new_pdf()
    pdf.add_page()
    pdf.cell(0, 10, text)
    return bytes(pdf.output())


def test_a_font_file_is_parsed_once_a_process_and_each_document_has_its_own_subset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # fpdf2 parses a file for every document it is added to: the four shipped, 0.1 s a PDF
    from fpdf.fonts import TTFFont

    new_pdf()  # the shipped fonts, parsed
    parsed: list[object] = []
    real_init = TTFFont.__init__

    def counting_init(self: TTFFont, *args: Any, **kwargs: Any) -> None:
        parsed.append(args[1])
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(TTFFont, "__init__", counting_init)

    # two documents at once, each with its own subset of the same parsed fonts
    first, second = new_pdf(), new_pdf()
    for pdf, name in ((first, "Anna संख्या"), (second, "Boris मसौदा")):
        pdf.add_page()
        pdf.cell(0, 10, name)
    one, two = _text(bytes(first.output())), _text(bytes(second.output()))

    assert parsed == []
    found = {w: (w in one, w in two) for w in ("Anna", "संख्या", "Boris", "मसौदा")}
    assert found == {
        "Anna": (True, False), "संख्या": (True, False),
        "Boris": (False, True), "मसौदा": (False, True),
    }  # fmt: skip


def test_a_pdf_embeds_only_the_fonts_its_pages_use() -> None:
    # fpdf2 embeds every font added: Devanagari in an English PDF, 0.1 s and 15 KiB
    latin = _page("Ann Smith 1,234.00")
    hindi = _page("कुल 1,234.00")

    # every font object of the file (a page's resources only ever list those it uses)
    assert _embedded(latin) == {"DejaVuSansBook"}
    assert _embedded(hindi) == {"DejaVuSansBook", "NotoSansDevanagari"}


def _embedded(data: bytes) -> set[str]:
    return {m.decode() for m in re.findall(rb"/BaseFont /MPDFAA\+(\w+)", data)}
