"""A PDF document with Podium's embedded fonts, for every PDF the product makes (badge
certificates, statements, invoices).

The fonts ship with the code (`domain/kit/fonts`), so a PDF prints the same on any machine:
DejaVu Sans for Latin, Greek and Cyrillic, and Noto Sans Devanagari as its fallback for
Hindi. Devanagari needs shaping (a vowel sign written after its consonant is drawn before
it, conjuncts join): text is shaped with HarfBuzz (``uharfbuzz``), as fpdf2 documents.

Other scripts (Chinese, Japanese, Korean, Thai, Arabic...) take fonts too big to ship (4 to
20 MB): ``new_pdf(fallback_fonts=...)`` adds font files of the machine after the shipped
ones: the service's PODIUM_PDF_FONTS (``fallback_font_files`` reads and checks it; without
it, the ``SYSTEM_FONTS`` found on the machine).

fpdf2 parses a font file for every document it is added to, and embeds every font added,
used or not: the shipped fonts cost each PDF 0.1 s to parse and as much to subset, a 20 MB
CJK font a third of a second and half a second more. Here each file is parsed once a
process; a document gets a copy of what was parsed (its own subset, widths and descriptor)
and keeps only the fonts its pages use.
"""

from __future__ import annotations

import copy
import logging
import os
import struct
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fpdf import FPDF
    from fpdf.fonts import TTFFont

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
)

# what fpdf2's add_font accepts, by the file's name
FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc", ".otb", ".woff", ".woff2")
# the tables fpdf2 reads from a font; and one of the outlines it embeds
_TABLES = ("cmap", "head", "hhea", "hmtx", "name", "OS/2", "post")
_OUTLINES = ("glyf", "CFF ", "CFF2")
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
    from fontTools.ttLib import TTFont
    from fpdf import FPDF
    from fpdf.enums import PDFResourceType
    from fpdf.fonts import TTFFont
    from fpdf.output import OutputProducer

    class _UsedFontsOnly(OutputProducer):
        """fpdf2 embeds every font added to a document: here only those its pages set (no
        Devanagari in an English statement, no fallback font no character needed). A font
        copied from a parsed one (``_add_font``) opens its file here, for its subset."""

        def _add_fonts(self, *args: Any, **kwargs: Any) -> Any:
            fonts = self.fpdf.fonts
            catalog = self.fpdf._resource_catalog
            used = {str(i) for i in catalog.get_used_resources(PDFResourceType.FONT)}
            for key, font in list(fonts.items()):
                if str(font.i) not in used:
                    del fonts[key]
                elif isinstance(font, TTFFont) and id(font.ttfont) in _shared:
                    # fpdf2 subsets the font in place: this document's own copy of the file,
                    # with the glyph names already read (a CJK font's take 0.1 s to read) and
                    # without the layout tables fpdf2 drops (0.1 s to read before dropping)
                    own = TTFont(
                        font.ttffile, recalcTimestamp=False, lazy=True,
                        fontNumber=font.collection_font_number,
                    )  # fmt: skip
                    own.setGlyphOrder(list(font.ttfont.getGlyphOrder()))
                    for tag in ("GDEF", "GSUB", "GPOS"):
                        if tag in own:
                            del own[tag]
                    font.ttfont = own
            return super()._add_fonts(*args, **kwargs)

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

        def output(self, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("output_producer_class", _UsedFontsOnly)
            return super().output(*args, **kwargs)

    return _FallbackSafePDF


_parsed: dict[tuple[str, str], TTFFont | None] = {}
_SHAPING_TABLES = ("GlyphOrder", "head", "hhea", "hmtx", "maxp")
_shared: set[int] = set()  # the ids of the parsed fonts' fontTools fonts (kept for good)
_unloadable: set[str] = set()  # fallback files fpdf2 failed to load, logged once


def _template(path: str, style: str) -> TTFFont | None:
    """The font file as fpdf2 parsed it, once a process: its fontTools font is read by the
    documents' shaping (glyph names, advances), never written (``_UsedFontsOnly``). None for a
    font that has to be parsed for every document (a colour or compressed font, or one whose
    .notdef glyph fpdf2 draws itself)."""
    key = (path, style)
    if key not in _parsed:
        probe = _document_class()()
        probe.add_font("probe", style, path)
        font: TTFFont = probe.fonts[f"probe{style}"]  # type: ignore[assignment]
        reusable = (
            font.color_font is None
            and not font.is_compressed
            and font.ttfont.getGlyphOrder()[0] == ".notdef"
        )
        if reusable:
            # only what the shaping reads stays: a CJK font's outlines, cmap and glyph names
            # go (10 to 15 MB)
            for tag in [t for t in font.ttfont.tables if t not in _SHAPING_TABLES]:
                del font.ttfont.tables[tag]  # read again from the file if ever asked for
            _shared.add(id(font.ttfont))
        else:
            font.ttfont.close()
        _parsed[key] = font if reusable else None
    return _parsed[key]


def _add_font(pdf: FPDF, family: str, style: str, path: str) -> None:
    """``pdf.add_font(family, style, path)``, from the parse kept by ``_template``."""
    from fpdf.fonts import SubsetMap, TTFFont

    template = _template(path, style)
    if template is None:
        pdf.add_font(family, style, path)
        return
    font = TTFFont.__new__(TTFFont)
    for name in TTFFont.__slots__:
        if hasattr(template, name):  # a slot fpdf2 leaves unset stays unset
            setattr(font, name, getattr(template, name))
    # the cmap, glyph ids and metrics are shared (read only); what a document changes is its own
    font.i = len(pdf.fonts) + 1
    font.fontkey = f"{family.lower()}{style}"
    font.cw = template.cw.copy()  # a defaultdict: reading a missing width adds it
    font.desc = copy.copy(template.desc)  # the output names it and adds the embedded file
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font._hbfont = None
    font.subset = SubsetMap(font)
    pdf.fonts[font.fontkey] = font
    if font.is_cff and font.is_cid_keyed:
        pdf._set_min_pdf_version("1.6")


def _add_fallbacks(pdf: FPDF, paths: Iterable[str]) -> list[str]:
    """Adds each font file as a family of its own (used for every style): the families of
    those fpdf2 could load. One it cannot (a file changed since the settings checked it) is
    left out of the document with an error in the log, once a process."""
    families = []
    for number, path in enumerate(paths, start=1):
        family = f"{FALLBACK}{number}"
        try:
            _add_font(pdf, family, "", path)
        except Exception as exc:  # noqa: BLE001 - fpdf2 and fontTools raise many kinds
            if path not in _unloadable:
                _unloadable.add(path)
                log.error("PODIUM_PDF_FONTS: fpdf2 cannot load %s (%s): left out", path, exc)
            continue
        families.append(family)
    return families


def new_pdf(*, fallback_fonts: Sequence[str] = (), **options: Any) -> FPDF:
    """An FPDF (``options`` as FPDF takes them) with the fonts registered, ``SANS`` (with
    style "" or "B") set at 12 pt, Devanagari as its fallback, then ``fallback_fonts`` (font
    files, e.g. the service's PODIUM_PDF_FONTS) in their order, and text shaping on. A
    fallback file draws every style: bold text in a regular CJK font rather than nothing."""
    pdf = _document_class()(**options)
    for (family, style), name in _FILES.items():
        _add_font(pdf, family, style, str(FONTS / name))
    extra = [p for p in fallback_fonts if p not in _unloadable]
    # exact_match=False: a fallback without a bold face draws bold text in its regular one
    pdf.set_fallback_fonts([DEVANAGARI, *_add_fallbacks(pdf, extra)], exact_match=False)
    pdf.set_text_shaping(True)
    pdf.set_font(SANS, "", 12)
    return pdf
