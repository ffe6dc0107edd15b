"""A PDF document with Podium's embedded fonts, for every PDF the product makes (badge
certificates, statements).

The fonts ship with the code (`domain/kit/fonts`), so a PDF prints the same on any machine:
DejaVu Sans for Latin, Greek and Cyrillic, and Noto Sans Devanagari as its fallback for
Hindi. Devanagari needs shaping (a vowel sign written after its consonant is drawn before
it, conjuncts join): text is shaped with HarfBuzz (``uharfbuzz``), as fpdf2 documents.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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


@cache
def _document_class() -> type[FPDF]:
    """fpdf2 with fontTools and Pillow takes about 0.4 s of CPU to import: imported with the
    first PDF a process makes, not by every process that imports this module (a close, a
    worker that never makes one)."""
    from fpdf import FPDF

    class _FallbackSafePDF(FPDF):
        """fpdf2 (2.8.9) sets the page's font inside a line that starts in a fallback font (a
        Hindi label), wraps that line in q … Q, and then takes the font as set: the next line in
        the main font (the number after the label) gets no Tf operator and reads as glyph ids
        (pypdf sees "\x00\x01…"; a viewer draws it in whichever font the line before left).
        Setting the font on the page outside any line, whenever it changes, keeps it set."""

        def set_font(self, family: str | None = None, style: Any = "", size: float = 0) -> None:
            super().set_font(family, style, size)
            self._font_on_page()

        def set_font_size(self, size: float) -> None:
            super().set_font_size(size)
            self._font_on_page()

        def add_page(self, *args: Any, **kwargs: Any) -> None:
            super().add_page(*args, **kwargs)
            self._font_on_page()

        def _font_on_page(self) -> None:
            if self.page and self.current_font is not None and not self.current_font_is_set_on_page:
                self._out(self._set_font_for_page(self.current_font, self.font_size_pt))

    return _FallbackSafePDF


def new_pdf(**options: Any) -> FPDF:
    """An FPDF (``options`` as FPDF takes them) with the fonts registered, ``SANS`` (with
    style "" or "B") set at 12 pt, Devanagari as its fallback, and text shaping on."""
    pdf = _document_class()(**options)
    for (family, style), name in _FILES.items():
        pdf.add_font(family, style, str(FONTS / name))
    pdf.set_fallback_fonts([DEVANAGARI])
    pdf.set_text_shaping(True)
    pdf.set_font(SANS, "", 12)
    return pdf
