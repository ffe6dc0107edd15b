"""PDFs print every script Podium's languages need, with fonts that ship with the code: a
certificate for a Hindi name, a German one and a Russian one, read back with pypdf."""

from __future__ import annotations

import io
from datetime import date

from pypdf import PdfReader

from domain.kit.pdf import FONTS, new_pdf
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
