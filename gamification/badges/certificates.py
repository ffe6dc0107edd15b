"""The PDF certificate of a badge award: the rep, the badge, the date and the tenant, in
the embedded fonts of `domain.kit.pdf` (Latin, Greek, Cyrillic and Devanagari names print as
written; other scripts, and emoji, with the service's fallback font files, PODIUM_PDF_FONTS,
or the machine's: Debian's fonts-noto-color-emoji draws emoji in colour).

A character no font of the document draws would be left out of the page by fpdf2 without a
trace ("🏆 Top closer 🚀" printed " Top closer "): each one is printed as U+FFFD instead, one
per emoji as a reader sees it (a ZWJ sequence such as 👩‍💻, a flag, a skin tone, a keycap),
so a certificate never reads as if its badge had another name."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from datetime import date

from domain.kit.pdf import SANS, new_pdf, undrawable

REPLACEMENT = "\ufffd"
_ZWJ = "\u200d"


def _extends(c: str) -> bool:
    """Whether ``c`` belongs to the character before it (a combining mark, a variation
    selector, a skin tone, a tag of a subdivision flag)."""
    code = ord(c)
    return (
        unicodedata.category(c) in ("Mn", "Me", "Cf")
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F
    )


def _invisible(c: str) -> bool:
    """Drawn as nothing anyway: a joiner, a variation selector, a tag."""
    code = ord(c)
    return (
        c == _ZWJ
        or 0xFE00 <= code <= 0xFE0F
        or 0xE0000 <= code <= 0xE007F
        or 0xE0100 <= code <= 0xE01EF
    )


def _regional(c: str) -> bool:
    return 0x1F1E6 <= ord(c) <= 0x1F1FF


def _clusters(text: str) -> Iterator[str]:
    """``text`` in the characters a reader sees: a base and what extends it, a ZWJ sequence
    whole, a pair of regional indicators (a flag)."""
    i = 0
    while i < len(text):
        j = i + 1
        if _regional(text[i]) and j < len(text) and _regional(text[j]):
            j += 1
        while j < len(text) and _extends(text[j]):
            j += 2 if text[j] == _ZWJ and j + 1 < len(text) else 1
        yield text[i:j]
        i = j


def printable(text: str, missing: str) -> str:
    """``text`` with each visible character of which some part is in ``missing`` (what no
    font of the document draws) as one `REPLACEMENT`."""
    if not missing:
        return text
    lost = set(missing)
    return "".join(
        REPLACEMENT if any(c in lost and not _invisible(c) for c in cluster) else cluster
        for cluster in _clusters(text)
    )


def certificate_pdf(
    *,
    recipient: str,
    badge: str,
    description: str,
    period: str,
    awarded_on: date,
    tenant: str,
    credential_id: str,
    revoked: bool = False,
    fonts: Sequence[str] = (),
) -> bytes:
    pdf = new_pdf(
        orientation="L",
        format="A4",
        fallback_fonts=fonts,
        texts=[recipient, badge, description, tenant],
    )
    missing = undrawable(pdf, [recipient, badge, description, tenant])
    recipient, badge, description, tenant = (
        printable(t, missing) for t in (recipient, badge, description, tenant)
    )
    pdf.set_title(f"{badge}: {recipient}")
    pdf.set_author(tenant)
    pdf.add_page()
    pdf.set_line_width(1.5)
    pdf.rect(10, 10, 277, 190)
    pdf.set_y(35)
    pdf.set_font(SANS, "", 16)
    pdf.cell(0, 10, tenant, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(SANS, "B", 30)
    pdf.cell(0, 22, "Certificate of achievement", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(SANS, "", 14)
    pdf.cell(0, 10, "awarded to", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(SANS, "B", 26)
    pdf.cell(0, 18, recipient, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(SANS, "", 14)
    pdf.cell(0, 10, "for the badge", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(SANS, "B", 22)
    pdf.cell(0, 14, badge, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(SANS, "", 12)
    if description:
        pdf.multi_cell(0, 7, description, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(
        0, 10, f"Period {period}, awarded on {awarded_on.isoformat()}", align="C",
        new_x="LMARGIN", new_y="NEXT",
    )  # fmt: skip
    if revoked:
        pdf.set_font(SANS, "B", 16)
        pdf.cell(0, 12, "REVOKED", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(180)
    pdf.set_font(SANS, "", 8)
    pdf.cell(0, 6, f"Verifiable credential {credential_id}", align="C")
    return bytes(pdf.output())
