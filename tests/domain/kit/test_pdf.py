"""PDFs print every script Podium's languages need, with fonts that ship with the code: a
certificate for a Hindi name, a German one and a Russian one, read back with pypdf."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import date
from pathlib import Path

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
