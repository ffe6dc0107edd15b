"""Payment documents as PDF, in the payee's language and money format: DejaVu Sans embedded
(Latin, Greek, Cyrillic), Noto Sans Devanagari as its fallback with text shaping, so a Hindi
statement prints as written."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fpdf import FPDF

from domain.kit.pdf import FONTS  # the fonts ship with the code: same PDF on any machine

REGULAR = FONTS / "DejaVuSans.ttf"
BOLD = FONTS / "DejaVuSans-Bold.ttf"
DEVANAGARI = FONTS / "NotoSansDevanagari-Regular.ttf"
DEVANAGARI_BOLD = FONTS / "NotoSansDevanagari-Bold.ttf"

LABELS: dict[str, dict[str, str]] = {
    "en": {"title": "Commission statement", "payee": "Payee", "period": "Period",
           "version": "Version", "status": "Status", "line": "Description", "amount": "Amount",
           "total": "Total", "plans": "Plan versions", "hash": "Inputs hash",
           "draft": "draft", "approved": "approved", "paid": "paid",
           "approved_at": "Approved", "paid_at": "Paid"},
    "de": {"title": "Provisionsabrechnung", "payee": "Empfänger", "period": "Zeitraum",
           "version": "Version", "status": "Status", "line": "Beschreibung", "amount": "Betrag",
           "total": "Summe", "plans": "Planversionen", "hash": "Prüfsumme der Eingaben",
           "draft": "Entwurf", "approved": "freigegeben", "paid": "bezahlt",
           "approved_at": "Freigegeben", "paid_at": "Bezahlt"},
    "fr": {"title": "Relevé de commissions", "payee": "Bénéficiaire", "period": "Période",
           "version": "Version", "status": "Statut", "line": "Libellé", "amount": "Montant",
           "total": "Total", "plans": "Versions du plan", "hash": "Empreinte des données",
           "draft": "brouillon", "approved": "approuvé", "paid": "payé",
           "approved_at": "Approuvé", "paid_at": "Payé"},
    "ms": {"title": "Penyata komisen", "payee": "Penerima", "period": "Tempoh",
           "version": "Versi", "status": "Status", "line": "Keterangan", "amount": "Amaun",
           "total": "Jumlah", "plans": "Versi pelan", "hash": "Cincang input",
           "draft": "draf", "approved": "diluluskan", "paid": "dibayar",
           "approved_at": "Diluluskan", "paid_at": "Dibayar"},
    "hi": {"title": "कमीशन विवरण", "payee": "प्राप्तकर्ता", "period": "अवधि",
           "version": "संस्करण", "status": "स्थिति", "line": "विवरण", "amount": "राशि",
           "total": "कुल", "plans": "योजना संस्करण", "hash": "इनपुट हैश",
           "draft": "मसौदा", "approved": "स्वीकृत", "paid": "भुगतान किया गया",
           "approved_at": "स्वीकृत", "paid_at": "भुगतान"},
}  # fmt: skip


def _pdf(title: str, author: str, shaping: bool) -> FPDF:
    pdf = FPDF(format="A4")
    pdf.set_title(title)
    pdf.set_author(author)
    pdf.add_font("DejaVu", "", str(REGULAR))
    pdf.add_font("DejaVu", "B", str(BOLD))
    pdf.add_font("Deva", "", str(DEVANAGARI))
    pdf.add_font("Deva", "B", str(DEVANAGARI_BOLD))
    if shaping:  # Devanagari first, shaped; DejaVu for what it lacks
        pdf.set_fallback_fonts(["DejaVu"])
        pdf.set_text_shaping(True)
    else:
        pdf.set_fallback_fonts(["Deva"])
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    return pdf


def statement_pdf(document: Mapping[str, Any], language: str) -> bytes:
    """A statement (``statement_document``'s form, its amounts formatted) as a PDF."""
    words = LABELS.get(language, LABELS["en"])
    hindi = language == "hi"
    pdf = _pdf(f"{words['title']} {document['period']}", document["tenant"], hindi)
    font = "Deva" if hindi else "DejaVu"
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
    "en": {"title": "Self-billing invoice", "number": "Invoice number", "issued": "Issued",
           "supplier": "Supplier", "customer": "Customer", "tax_id": "Tax id",
           "statement": "Commission statement", "net": "Fee (net)", "payable": "Amount paid",
           "vat": "VAT", "reverse_charge": "Reverse charge: VAT due by the recipient",
           "withholding": "Withholding tax", "social_security": "Social security",
           "backup_withholding": "Backup withholding (no TIN on file)", "on": "on"},
    "de": {"title": "Gutschrift", "number": "Gutschriftsnummer", "issued": "Ausgestellt",
           "supplier": "Leistender", "customer": "Leistungsempfänger", "tax_id": "Steuernummer",
           "statement": "Provisionsabrechnung", "net": "Provision (netto)",
           "payable": "Auszahlungsbetrag", "vat": "USt.",
           "reverse_charge": "Steuerschuldnerschaft des Leistungsempfängers",
           "withholding": "Quellensteuer", "social_security": "Sozialabgaben",
           "backup_withholding": "Sicherungseinbehalt (keine TIN)", "on": "auf"},
    "fr": {"title": "Facture d’autofacturation", "number": "Numéro de facture",
           "issued": "Émise le", "supplier": "Fournisseur", "customer": "Client",
           "tax_id": "Identifiant fiscal", "statement": "Relevé de commissions",
           "net": "Honoraires (HT)", "payable": "Montant versé", "vat": "TVA",
           "reverse_charge": "Autoliquidation : TVA due par le preneur",
           "withholding": "Retenue à la source", "social_security": "Cotisations sociales",
           "backup_withholding": "Retenue de sauvegarde (sans TIN)", "on": "sur"},
    "ms": {"title": "Invois bil sendiri", "number": "Nombor invois", "issued": "Dikeluarkan",
           "supplier": "Pembekal", "customer": "Pelanggan", "tax_id": "Nombor cukai",
           "statement": "Penyata komisen", "net": "Yuran (bersih)", "payable": "Amaun dibayar",
           "vat": "Cukai jualan", "reverse_charge": "Caj balikan: cukai oleh penerima",
           "withholding": "Cukai pegangan", "social_security": "Keselamatan sosial",
           "backup_withholding": "Pegangan sandaran (tiada TIN)", "on": "atas"},
}  # fmt: skip


def invoice_pdf(document: Mapping[str, Any], language: str) -> bytes:
    """A self-billing invoice (``invoice_document``'s form, amounts formatted) as a PDF."""
    words = INVOICE_LABELS.get(language, INVOICE_LABELS["en"])  # Hindi: English for now
    pdf = _pdf(f"{words['title']} {document['number']}", document["tenant"], False)
    pdf.set_font("DejaVu", "B", 18)
    pdf.cell(0, 12, words["title"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    legal = document["legal"]
    facts = [
        (words["number"], document["number"]),
        (words["issued"], document["issuedAt"][:10]),
        (words["supplier"], f"{legal['legal_name']}, {legal['address']}, {legal['country']}"),
        (words["tax_id"], legal.get("tax_id") or "-"),
        (words["customer"], document["tenant"]),
        (words["statement"], f"{document['period']} v{document['version']}"),
    ]
    for label, value in facts:
        pdf.cell(50, 6, label)
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
    pdf.set_font("DejaVu", "B", 11)
    pdf.cell(130, 8, words["payable"], border="T")
    pdf.cell(
        0, 8, document["payableFormatted"], border="T", align="R", new_x="LMARGIN", new_y="NEXT"
    )
    return bytes(pdf.output())
