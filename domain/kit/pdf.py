"""A PDF document with Podium's embedded fonts, for every PDF the product makes (badge
certificates, statements).

The fonts ship with the code (`domain/kit/fonts`), so a PDF prints the same on any machine:
DejaVu Sans for Latin, Greek and Cyrillic, and Noto Sans Devanagari as its fallback for
Hindi. Devanagari needs shaping (a vowel sign written after its consonant is drawn before
it, conjuncts join): text is shaped with HarfBuzz (``uharfbuzz``), as fpdf2 documents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fpdf import FPDF

FONTS = Path(__file__).resolve().parent / "fonts"
SANS = "DejaVu"
DEVANAGARI = "NotoDeva"
_FILES = {
    (SANS, ""): "DejaVuSans.ttf",
    (SANS, "B"): "DejaVuSans-Bold.ttf",
    (DEVANAGARI, ""): "NotoSansDevanagari-Regular.ttf",
    (DEVANAGARI, "B"): "NotoSansDevanagari-Bold.ttf",
}


def new_pdf(**options: Any) -> FPDF:
    """An FPDF (``options`` as FPDF takes them) with the fonts registered, ``SANS`` (with
    style "" or "B") set at 12 pt, Devanagari as its fallback, and text shaping on."""
    pdf = FPDF(**options)
    for (family, style), name in _FILES.items():
        pdf.add_font(family, style, str(FONTS / name))
    pdf.set_fallback_fonts([DEVANAGARI])
    pdf.set_text_shaping(True)
    pdf.set_font(SANS, "", 12)
    return pdf
