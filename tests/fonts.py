"""A tiny TrueType font made in the test (fontTools' FontBuilder): a box for each character
asked for, so the PDF tests of the fallback fonts (PODIUM_PDF_FONTS) never depend on the fonts
of the machine they run on."""

from __future__ import annotations

from pathlib import Path

from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen

YAMADA_TARO = "山田太郎"  # U+5C71 U+7530 U+592A U+90CE


def box_font(path: Path, characters: str = YAMADA_TARO, family: str = "Podium Boxes") -> Path:
    """A TrueType font at ``path`` drawing each of ``characters`` (and a space) as a box."""
    names = [f"uni{ord(c):04X}" for c in characters]
    order = [".notdef", "space", *names]
    glyphs = {name: _box(empty=name == "space") for name in order}
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(order)
    builder.setupCharacterMap(
        {0x20: "space", **{ord(c): n for c, n in zip(characters, names, strict=True)}}
    )
    builder.setupGlyf(glyphs)
    builder.setupHorizontalMetrics({name: (1000, glyphs[name].xMin or 0) for name in order})
    builder.setupHorizontalHeader(ascent=880, descent=-120)
    builder.setupNameTable({"familyName": family, "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=880, sTypoDescender=-120, usWinAscent=880, usWinDescent=120)
    builder.setupPost()
    builder.save(str(path))
    return path


def _box(*, empty: bool = False):  # a fontTools glyph
    pen = TTGlyphPen(None)
    if not empty:
        pen.moveTo((100, -50))
        pen.lineTo((100, 800))
        pen.lineTo((900, 800))
        pen.lineTo((900, -50))
        pen.closePath()
    return pen.glyph()
