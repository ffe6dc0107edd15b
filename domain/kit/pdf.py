"""A PDF document with Podium's embedded fonts, for every PDF the product makes (badge
certificates, statements, invoices).

The fonts ship with the code (`domain/kit/fonts`), so a PDF prints the same on any machine:
DejaVu Sans for Latin, Greek and Cyrillic, and Noto Sans Devanagari as its fallback for
Hindi. Devanagari needs shaping (a vowel sign written after its consonant is drawn before
it, conjuncts join): text is shaped with HarfBuzz (``uharfbuzz``), as fpdf2 documents.

Other scripts (Chinese, Japanese, Korean, Thai, Arabic...) take fonts too big to ship (4 to
20 MB): ``new_pdf(fallback_fonts=..., texts=...)`` adds font files of the machine after the
shipped ones when the document's texts have characters the shipped fonts do not draw: the
service's PODIUM_PDF_FONTS (``fallback_font_files`` reads and checks it; without it, the
``SYSTEM_FONTS`` found on the machine). Only then: fpdf2 parses a font for every document it
is added to and embeds it, used or not (a 20 MB CJK font: about 0.6 s and its subset), and
most documents need none.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fpdf import FPDF

log = logging.getLogger(__name__)

FONTS = Path(__file__).resolve().parent / "fonts"
SANS = "DejaVu"
DEVANAGARI = "NotoDeva"
FALLBACK = "Fallback"  # the families of the fallback font files: Fallback1, Fallback2...
_FILES = {
    (SANS, ""): "DejaVuSans.ttf",
    (SANS, "B"): "DejaVuSans-Bold.ttf",
    (DEVANAGARI, ""): "NotoSansDevanagari-Regular.ttf",
    (DEVANAGARI, "B"): "NotoSansDevanagari-Bold.ttf",
}

# Font files of Debian and Ubuntu packages, by script: without PODIUM_PDF_FONTS, the first
# found of each line is a fallback. fpdf2 (2.8) loads each (a .ttc collection: its first
# face); each was checked drawing its script in a statement.
SYSTEM_FONTS: tuple[tuple[str, ...], ...] = (
    (  # Chinese, Japanese and Korean: fonts-noto-cjk (Japanese first face); else
        # fonts-droid-fallback (Chinese and Japanese, no Hangul)
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    ),
    (  # Thai: fonts-noto-core, else fonts-thai-tlwg
        "/usr/share/fonts/truetype/noto/NotoSansThai-Regular.ttf",
        "/usr/share/fonts/truetype/tlwg/Loma.ttf",
        "/usr/share/fonts/opentype/tlwg/Loma.otf",
    ),
    # the Arabic and Hebrew letters DejaVu Sans lacks (it has 165 of the Arabic block's 256,
    # 54 of Hebrew's 112): fonts-noto-core
    ("/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf",),
    ("/usr/share/fonts/truetype/noto/NotoSansHebrew-Regular.ttf",),
    (  # emoji: fonts-noto-color-emoji (in colour, every emoji to Unicode 15), else
        # fonts-symbola (black and white, to Unicode 9)
        "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
        "/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf",
    ),
)

# what fpdf2's add_font accepts, by the file's name
FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc", ".otb", ".woff", ".woff2")
# the tables fpdf2 reads from a font; and one of the outlines it embeds, or the colour bitmaps
# it draws as images (CBDT: Noto Color Emoji, which has no outlines)
_TABLES = ("cmap", "head", "hhea", "hmtx", "name", "OS/2", "post")
_OUTLINES = ("glyf", "CFF ", "CFF2", "CBDT")
# cmap subtables fpdf2 maps characters with (fontTools' getBestCmap, or a symbol font's)
_CMAPS = {(3, 10), (0, 6), (0, 4), (3, 1), (0, 3), (0, 2), (0, 1), (0, 0), (3, 0)}


class FontError(ValueError):
    """A font file fpdf2 cannot use: the message is the file, a colon and why (one line)."""


def system_fonts() -> tuple[str, ...]:
    """The first of each line of ``SYSTEM_FONTS`` that this machine has."""
    found = (next((p for p in paths if os.path.isfile(p)), None) for paths in SYSTEM_FONTS)
    return tuple(p for p in found if p)


def fallback_font_files(setting: str) -> tuple[str, ...]:
    """The fallback font files a setting names (absolute paths, separated by ``os.pathsep``),
    each checked with ``check_font``; an empty setting: the ``system_fonts()``."""
    paths = [p.strip() for p in setting.split(os.pathsep) if p.strip()]
    if not paths:
        return system_fonts()
    files = []
    for path in paths:
        file = os.path.abspath(os.path.expanduser(path))
        check_font(file)
        files.append(file)
    return tuple(dict.fromkeys(files))


def check_font(path: str) -> None:
    """FontError unless ``path`` is a font file fpdf2 can add: its name, then what fpdf2 reads
    from it (the tables, a Unicode cmap), read from its table directory without parsing the
    font (a millisecond, where fpdf2 takes a third of a second for a CJK font)."""
    if not os.path.exists(path):
        raise FontError(f"{path}: no such file")
    if not os.path.isfile(path):
        raise FontError(f"{path}: not a file")
    if not path.lower().endswith(FONT_SUFFIXES):
        raise FontError(f"{path}: not a font file fpdf2 loads ({', '.join(FONT_SUFFIXES)})")
    try:
        from fontTools.ttLib import TTFont

        with TTFont(path, fontNumber=0, lazy=True) as font:
            missing = [t for t in _TABLES if t not in font]
            if not any(t in font for t in _OUTLINES):
                missing.append("glyf or CFF")
            if missing:
                raise FontError(f"{path}: not a font fpdf2 can use: no {', '.join(missing)}")
            if not _CMAPS & _cmap_subtables(font.reader["cmap"]):
                raise FontError(f"{path}: not a font fpdf2 can use: no Unicode cmap")
    except FontError:
        raise
    except Exception as exc:  # noqa: BLE001 - fontTools' reasons: not a font, truncated...
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise FontError(f"{path}: not a font fpdf2 can load: {reason}") from None


def _cmap_subtables(data: bytes) -> set[tuple[int, int]]:
    """The (platform, encoding) pairs of a raw cmap table's subtables."""
    (count,) = struct.unpack_from(">H", data, 2)
    return {struct.unpack_from(">HH", data, 4 + 8 * i) for i in range(count)}


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


_unloadable: set[str] = set()  # fallback files fpdf2 failed to load, logged once


def _add_fallbacks(pdf: FPDF, paths: Iterable[str]) -> list[str]:
    """Adds each font file as a family of its own (used for every style): the families of
    those fpdf2 could load. One it cannot (a file changed since the settings checked it) is
    left out of the document with an error in the log, once a process."""
    families = []
    for number, path in enumerate(paths, start=1):
        family = f"{FALLBACK}{number}"
        try:
            pdf.add_font(family, "", path)
        except Exception as exc:  # noqa: BLE001 - fpdf2 and fontTools raise many kinds
            if path not in _unloadable:
                _unloadable.add(path)
                log.error("PODIUM_PDF_FONTS: fpdf2 cannot load %s (%s): left out", path, exc)
            continue
        families.append(family)
    return families


def undrawable(pdf: FPDF, texts: Iterable[str]) -> str:
    """The characters of ``texts`` that no font of ``pdf`` has a glyph for (CJK, Hangul, Thai,
    Arabic...: DejaVu and Noto Devanagari do not draw them, fallback files may), in order,
    once each: fpdf2 leaves them out of the page without a word."""
    drawn: set[int] = set()
    for font in pdf.fonts.values():
        drawn.update(getattr(font, "cmap", None) or ())
    return "".join(
        dict.fromkeys(c for t in texts for c in t if not c.isspace() and ord(c) not in drawn)
    )


def new_pdf(
    *, fallback_fonts: Sequence[str] = (), texts: Iterable[str] = (), **options: Any
) -> FPDF:
    """An FPDF (``options`` as FPDF takes them) with the fonts registered, ``SANS`` (with
    style "" or "B") set at 12 pt, Devanagari as its fallback, and text shaping on. When
    ``texts`` (what the document will print besides its labels: names, descriptions) have
    characters those fonts do not draw, the ``fallback_fonts`` files (e.g. the service's
    PODIUM_PDF_FONTS) follow, in their order; a fallback file draws every style: bold text in
    a regular CJK font rather than nothing."""
    pdf = _document_class()(**options)
    for (family, style), name in _FILES.items():
        pdf.add_font(family, style, str(FONTS / name))
    families = [DEVANAGARI]
    extra = [p for p in fallback_fonts if p not in _unloadable]
    if extra and undrawable(pdf, texts):
        families += _add_fallbacks(pdf, extra)
    # exact_match=False: a fallback without a bold face draws bold text in its regular one
    pdf.set_fallback_fonts(families, exact_match=False)
    pdf.set_text_shaping(True)
    pdf.set_font(SANS, "", 12)
    return pdf
