"""Payment documents as PDF, in the payee's language (en, de, fr, ms, hi; anything else reads
English) and money format, with the fonts that ship with the code (`domain.kit.pdf`): DejaVu
Sans, and Noto Sans Devanagari as its shaped fallback, so a Hindi statement or invoice prints
as written; then the service's fallback font files (``fonts``, PODIUM_PDF_FONTS) for the
names in other scripts (CJK, Thai, Arabic...). The labels are here once, for the PDFs and for
the JSON documents (``labels``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from domain.kit.pdf import SANS, new_pdf, undrawable

if TYPE_CHECKING:
    from fpdf import FPDF

LABELS: dict[str, dict[str, str]] = {
    "en": {"title": "Commission statement", "payee": "Payee", "period": "Period",
           "version": "Version", "status": "Status", "line": "Description", "amount": "Amount",
           "total": "Total", "plans": "Plan versions", "hash": "Inputs hash",
           "draft": "draft", "approved": "approved", "paid": "paid", "carried": "carried forward",
           "approved_at": "Approved", "paid_at": "Paid", "carried_into": "Carried forward to"},
    "de": {"title": "Provisionsabrechnung", "payee": "Empfänger", "period": "Zeitraum",
           "version": "Version", "status": "Status", "line": "Beschreibung", "amount": "Betrag",
           "total": "Summe", "plans": "Planversionen", "hash": "Prüfsumme der Eingaben",
           "draft": "Entwurf", "approved": "freigegeben", "paid": "bezahlt",
           "carried": "vorgetragen",
           "approved_at": "Freigegeben", "paid_at": "Bezahlt",
           "carried_into": "Vorgetragen auf"},
    "fr": {"title": "Relevé de commissions", "payee": "Bénéficiaire", "period": "Période",
           "version": "Version", "status": "Statut", "line": "Libellé", "amount": "Montant",
           "total": "Total", "plans": "Versions du plan", "hash": "Empreinte des données",
           "draft": "brouillon", "approved": "approuvé", "paid": "payé", "carried": "reporté",
           "approved_at": "Approuvé", "paid_at": "Payé", "carried_into": "Reporté sur"},
    "ms": {"title": "Penyata komisen", "payee": "Penerima", "period": "Tempoh",
           "version": "Versi", "status": "Status", "line": "Keterangan", "amount": "Amaun",
           "total": "Jumlah", "plans": "Versi pelan", "hash": "Cincang input",
           "draft": "draf", "approved": "diluluskan", "paid": "dibayar",
           "carried": "dibawa ke hadapan",
           "approved_at": "Diluluskan", "paid_at": "Dibayar",
           "carried_into": "Dibawa ke"},
    "hi": {"title": "कमीशन विवरण", "payee": "प्राप्तकर्ता", "period": "अवधि",
           "version": "संस्करण", "status": "स्थिति", "line": "विवरण", "amount": "राशि",
           "total": "कुल", "plans": "योजना संस्करण", "hash": "इनपुट हैश",
           "draft": "मसौदा", "approved": "स्वीकृत", "paid": "भुगतान किया गया",
           "carried": "आगे ले जाया गया",
           "approved_at": "स्वीकृत", "paid_at": "भुगतान",
           "carried_into": "आगे ले जाया गया"},
}  # fmt: skip


log = logging.getLogger(__name__)


def labels(table: Mapping[str, dict[str, str]], language: str) -> dict[str, str]:
    """The labels of ``language`` (a language code, e.g. from `language_of`), else English."""
    return dict(table.get(language, table["en"]))


def _pdf(title: str, author: str, fonts: Sequence[str], texts: Sequence[str]) -> FPDF:
    """A page of A4 whose fonts draw ``texts`` (the names and descriptions it prints) with the
    fallback font files ``fonts`` if the shipped ones do not (`new_pdf`)."""
    pdf = new_pdf(format="A4", fallback_fonts=fonts, texts=texts)
    pdf.set_title(title)
    pdf.set_author(author)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    return pdf


def statement_pdf(
    document: Mapping[str, Any], language: str, *, fonts: Sequence[str] = ()
) -> bytes:
    """A statement (``statement_document``'s form, its amounts formatted) as a PDF, with the
    fallback font files ``fonts`` (the service's PODIUM_PDF_FONTS) after the shipped ones."""
    words = labels(LABELS, language)
    texts = [
        document["tenant"],
        document["payee"]["name"],
        *(ln["description"] for ln in document["lines"]),
    ]
    pdf = _pdf(f"{words['title']} {document['period']}", document["tenant"], fonts, texts)
    missing = undrawable(pdf, texts)
    if missing:  # the payee's CRM id beside the name still says whose statement it is
        log.warning(
            "statement %s (%s): the PDF fonts have no glyph for %d characters of the payee's "
            "name or the lines (%r): left out of the PDF; set PODIUM_PDF_FONTS to font files "
            "that draw them (e.g. Noto Sans CJK for Chinese, Japanese and Korean)",
            document["id"], document["payee"]["id"], len(missing), missing[:20],
        )  # fmt: skip
    font = SANS
    pdf.set_font(font, "", 10)
    pdf.cell(0, 6, document["tenant"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(font, "B", 18)
    pdf.cell(0, 12, words["title"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(font, "", 10)
    facts = [
        (words["payee"], f"{document['payee']['name']} ({document['payee']['id']})"),
        (words["period"], document["periodText"]),
        (words["version"], str(document["version"])),
        (words["status"], words[document["status"]]),
    ]
    if document.get("approvedAt"):
        facts.append((words["approved_at"], document["approvedAt"][:10]))
    if document.get("paidAt"):
        facts.append((words["paid_at"], document["paidAt"][:10]))
    if document.get("carriedIntoText"):  # its balance below zero went into that statement
        facts.append((words["carried_into"], document["carriedIntoText"]))
    for label, value in facts:
        pdf.cell(45, 6, label)
        pdf.cell(0, 6, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(font, "B", 10)
    pdf.cell(140, 7, words["line"], border="B")
    pdf.cell(0, 7, words["amount"], border="B", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(font, "", 9)
    for line in document["lines"]:
        if pdf.get_y() > pdf.h - 30:  # a line and its amount stay on one page
            pdf.add_page()
        top = pdf.get_y()
        pdf.multi_cell(140, 6, line["description"], new_x="LMARGIN", new_y="NEXT")
        bottom = pdf.get_y()
        pdf.set_xy(pdf.l_margin + 140, top)
        pdf.cell(0, 6, line["formatted"], align="R")
        pdf.set_y(bottom)
        if line.get("explanation"):  # why, as the frozen result explains it
            pdf.set_font(font, "", 7)
            pdf.set_x(pdf.l_margin + 4)
            pdf.multi_cell(136, 4, line["explanation"], new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(font, "", 9)
    pdf.set_font(font, "B", 11)
    pdf.cell(140, 8, words["total"], border="T")
    pdf.cell(0, 8, document["totalFormatted"], border="T", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font(font, "", 7)
    plans = ", ".join(
        f"{p['plan']} v{p['version']} ({p['sha256'][:12]})" for p in document["plans"]
    )
    pdf.multi_cell(0, 4, f"{words['plans']}: {plans or '-'}", new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(
        0, 4, f"{words['hash']}: {document['inputsHash']}", new_x="LMARGIN", new_y="NEXT"
    )
    return bytes(pdf.output())


INVOICE_LABELS: dict[str, dict[str, str]] = {
    "en": {"title": "Self-billing invoice", "credit_note": "Credit note",
           "number": "Number", "issued": "Issued",
           "supplier": "Supplier", "customer": "Customer", "tax_id": "Tax id",
           "statement": "Commission statement", "net": "Fee (net)", "payable": "Amount paid",
           "vat": "VAT", "reverse_charge": "Reverse charge: VAT due by the recipient",
           "withholding": "Withholding tax", "social_security": "Social security",
           "backup_withholding": "Backup withholding (no TIN on file)", "on": "on",
           "cancels": "Cancels invoice", "cancelled_by": "Cancelled by credit note"},
    "de": {"title": "Gutschrift", "credit_note": "Storno-Gutschrift",
           "number": "Nummer", "issued": "Ausgestellt",
           "supplier": "Leistender", "customer": "Leistungsempfänger", "tax_id": "Steuernummer",
           "statement": "Provisionsabrechnung", "net": "Provision (netto)",
           "payable": "Auszahlungsbetrag", "vat": "USt.",
           "reverse_charge": "Steuerschuldnerschaft des Leistungsempfängers",
           "withholding": "Quellensteuer", "social_security": "Sozialabgaben",
           "backup_withholding": "Sicherungseinbehalt (keine TIN)", "on": "auf",
           "cancels": "Storniert Gutschrift", "cancelled_by": "Storniert durch"},
    "fr": {"title": "Facture d’autofacturation", "credit_note": "Avoir",
           "number": "Numéro", "issued": "Émise le", "supplier": "Fournisseur",
           "customer": "Client", "tax_id": "Identifiant fiscal",
           "statement": "Relevé de commissions", "net": "Honoraires (HT)",
           "payable": "Montant versé", "vat": "TVA",
           "reverse_charge": "Autoliquidation : TVA due par le preneur",
           "withholding": "Retenue à la source", "social_security": "Cotisations sociales",
           "backup_withholding": "Retenue de sauvegarde (sans TIN)", "on": "sur",
           "cancels": "Annule la facture", "cancelled_by": "Annulée par l’avoir"},
    "ms": {"title": "Invois bil sendiri", "credit_note": "Nota kredit",
           "number": "Nombor", "issued": "Dikeluarkan",
           "supplier": "Pembekal", "customer": "Pelanggan", "tax_id": "Nombor cukai",
           "statement": "Penyata komisen", "net": "Yuran (bersih)", "payable": "Amaun dibayar",
           "vat": "Cukai jualan", "reverse_charge": "Caj balikan: cukai oleh penerima",
           "withholding": "Cukai pegangan", "social_security": "Keselamatan sosial",
           "backup_withholding": "Pegangan sandaran (tiada TIN)", "on": "atas",
           "cancels": "Membatalkan invois", "cancelled_by": "Dibatalkan oleh nota kredit"},
    "hi": {"title": "स्व-बिलिंग चालान", "credit_note": "क्रेडिट नोट",
           "number": "संख्या", "issued": "जारी करने की तारीख",
           "supplier": "आपूर्तिकर्ता", "customer": "ग्राहक", "tax_id": "कर पहचान संख्या",
           "statement": "कमीशन विवरण", "net": "शुल्क (शुद्ध)", "payable": "भुगतान की गई राशि",
           "vat": "वैट", "reverse_charge": "रिवर्स चार्ज: कर प्राप्तकर्ता द्वारा देय",
           "withholding": "स्रोत पर कर कटौती", "social_security": "सामाजिक सुरक्षा",
           "backup_withholding": "बैकअप कटौती (TIN दर्ज नहीं)", "on": "पर",
           "cancels": "रद्द किया गया चालान", "cancelled_by": "रद्द करने वाला क्रेडिट नोट"},
}  # fmt: skip


_LEGAL_TEXTS = ("legal_name", "address", "country", "tax_id")  # what an invoice prints of them


def invoice_pdf(document: Mapping[str, Any], language: str, *, fonts: Sequence[str] = ()) -> bytes:
    """A self-billing invoice or credit note (``invoice_document``'s form, amounts
    formatted) as a PDF, with the fallback font files ``fonts`` (PODIUM_PDF_FONTS)."""
    words = labels(INVOICE_LABELS, language)
    title = words["credit_note" if document["kind"] == "credit_note" else "title"]
    legal = document["legal"]
    texts = [document["tenant"], *(str(legal.get(k) or "") for k in _LEGAL_TEXTS)]
    pdf = _pdf(f"{title} {document['number']}", document["tenant"], fonts, texts)
    pdf.set_font(SANS, "B", 18)
    pdf.cell(0, 12, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(SANS, "", 10)
    facts = [
        (words["number"], document["number"]),
        (words["issued"], document["issuedAt"][:10]),
    ]
    for key in ("cancels", "cancelled_by"):  # a credit note and the invoice it cancels
        other = document.get("cancelledBy" if key == "cancelled_by" else "cancels")
        if other:
            facts.append((words[key], f"{other['number']} ({other['issuedAt'][:10]})"))
    facts += [
        (words["supplier"], f"{legal['legal_name']}, {legal['address']}, {legal['country']}"),
        (words["tax_id"], legal.get("tax_id") or "-"),
        (words["customer"], document["tenant"]),
        (words["statement"], f"{document['period']} v{document['version']}"),
    ]
    for label, value in facts:
        pdf.cell(55, 6, label)
        pdf.multi_cell(0, 6, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.cell(130, 7, words["net"], border="B")
    pdf.cell(0, 7, document["netFormatted"], border="B", align="R", new_x="LMARGIN", new_y="NEXT")
    for item in document["items"]:
        label = words[item["kind"]]
        if item["kind"] != "reverse_charge":
            label += f" {item['rateText']} {words['on']} {item['baseFormatted']}"
        pdf.cell(130, 7, label)
        pdf.cell(0, 7, item["formatted"], align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(SANS, "B", 11)
    pdf.cell(130, 8, words["payable"], border="T")
    pdf.cell(
        0, 8, document["payableFormatted"], border="T", align="R", new_x="LMARGIN", new_y="NEXT"
    )
    return bytes(pdf.output())
