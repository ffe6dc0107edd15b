"""Names people read (badges, contests, levels, streaks, boards): one that shows nothing is
empty, whatever characters it holds."""

from __future__ import annotations

import unicodedata

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
