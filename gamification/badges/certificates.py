"""The PDF certificate of a badge award: the rep, the badge, the date and the tenant, in
the embedded fonts of `domain.kit.pdf` (Latin, Greek, Cyrillic and Devanagari names print as
written; other scripts with the service's fallback font files, PODIUM_PDF_FONTS)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from domain.kit.pdf import SANS, new_pdf


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
