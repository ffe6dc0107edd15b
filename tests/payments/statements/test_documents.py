from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from api.settings import Settings
from domain.plans.models import PlanVersion
from payments.statements.service import build_statements, statement_document, statement_pdf
from tests.fonts import YAMADA_TARO, box_font
from tests.payments.helpers import close, current, deal, make_world
from tests.payments.loop_lag import SLOW_RENDER, longest_stall, slow_render

pytestmark = pytest.mark.usefixtures("db")


async def _statement(locale: str | None = None):
    world = await make_world()
    if locale:
        world["ann"].locale = locale
        await world["ann"].save(update_fields=["locale"])
    await deal(world["ann"], "t1", "8000", "2026-10-05")
    await close(world, "2026-10")
    await build_statements(viewer=world.system, period="2026-10")
    return world, await current(world, "ann", "2026-10")


async def test_given_a_statement_then_its_json_names_the_plan_version_and_the_inputs_hash():
    world, statement = await _statement()
    document = await statement_document(viewer=world.viewer("ann"), statement_id=statement.id)
    version = await PlanVersion.get(id=statement.plan_versions[0])
    assert document["plans"] == [
        {"id": str(version.id), "plan": "ae", "name": "AE", "version": 1,
         "sha256": version.document_sha256},
    ]  # fmt: skip
    assert document["inputsHash"] == statement.inputs_hash
    assert (document["total"], document["currency"], document["status"]) == (
        "250.00",
        "EUR",
        "draft",
    )
    assert [(ln["kind"], ln["amount"], ln["description"]) for ln in document["lines"]] == [
        ("earnings", "250.00", "Commission (AE v1)")
    ]
    assert document["lines"][0]["explanation"] == (
        "Commission: €250.00; Bookings: €8,000.00 of a €10,000.00 quota, 80% attained; "
        "2% of €5,000.00 in tier 1 (0%–50% of quota); 5% of €3,000.00 in tier 2 (50% of quota "
        "and above)"
    )
    french = await statement_document(
        viewer=world.viewer("ann"), statement_id=statement.id, locale="fr"
    )
    assert french["totalFormatted"] == "250,00\xa0€"
    assert document["labels"]["title"] == "Commission statement"
    assert french["labels"]["title"] == "Relevé de commissions"
    hindi = await statement_document(
        viewer=world.viewer("ann"), statement_id=statement.id, locale="hi"
    )
    assert (hindi["labels"]["total"], hindi["labels"]["draft"]) == ("कुल", "मसौदा")


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        # shaped Devanagari: words with a reordered vowel sign (वि) read back with a control
        # character between the glyphs, so the test reads words without one
        ("hi", ("कमीशन", "मसौदा", "अक्टूबर 2026", "संस्करण")),
        ("fr-FR", ("Relevé de commissions", "octobre 2026", "brouillon")),
        ("ms", ("Penyata komisen", "draf")),
    ],
)
async def test_given_a_payee_language_then_the_pdf_reads_in_it(locale, words):
    world, statement = await _statement(locale)
    pdf = await statement_pdf(viewer=world.system, statement_id=statement.id)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    for expected in (*words, "Ann (ann)", statement.inputs_hash, "000,00" if locale == "fr-FR"
                     else "5,000.00"):  # fmt: skip
        assert expected in text, (expected, text)


async def test_given_a_payee_name_the_fonts_cannot_draw_then_a_warning_and_the_crm_id_shows(
    caplog,
):
    # DejaVu and Noto Devanagari have no CJK glyphs: the PDF leaves those characters out
    world, statement = await _statement()
    world["ann"].display_name = "山田 太郎 Ωμέγα Ψ"
    await world["ann"].save(update_fields=["display_name"])

    with caplog.at_level("WARNING", logger="payments.documents"):
        pdf = await statement_pdf(viewer=world.system, statement_id=statement.id)

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Ωμέγα Ψ (ann)" in text.replace("Ω μέγα", "Ωμέγα")
    (warning,) = [r for r in caplog.records if r.name == "payments.documents"]
    assert str(statement.id) in warning.getMessage()
    assert "(ann)" in warning.getMessage()
    assert "山田太郎" in warning.getMessage()
    assert "set PODIUM_PDF_FONTS" in warning.getMessage()  # how to have them drawn


async def test_given_pdf_fonts_with_the_payee_s_script_then_the_pdf_draws_their_name(
    tmp_path, caplog
):
    # a font made here with the four characters only: PODIUM_PDF_FONTS names it, as the
    # service reads it
    font = box_font(tmp_path / "yamada.ttf", YAMADA_TARO)
    settings = Settings.from_env({"PODIUM_PDF_FONTS": str(font)})
    world, statement = await _statement()
    world["ann"].display_name = YAMADA_TARO
    await world["ann"].save(update_fields=["display_name"])

    with caplog.at_level("WARNING", logger="payments.documents"):
        pdf = await statement_pdf(
            viewer=world.system, statement_id=statement.id, fonts=settings.pdf_fonts
        )
    warned = [r for r in caplog.records if r.name == "payments.documents"]
    without = await statement_pdf(viewer=world.system, statement_id=statement.id)

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    for expected in (f"{YAMADA_TARO} (ann)", "Commission statement", "5,000.00"):
        assert expected in text, (expected, text)
    fonts = {
        str(f.get_object()["/BaseFont"])
        for page in PdfReader(io.BytesIO(pdf)).pages
        for f in page["/Resources"]["/Font"].values()
    }
    assert "/MPDFAA+PodiumBoxes" in fonts
    assert warned == []  # every character drawn
    # the same statement without the setting: the name is dropped (the CRM id still shows)
    dropped = "".join(p.extract_text() for p in PdfReader(io.BytesIO(without)).pages)
    # (pypdf reads the CRM id after the dropped characters as "(a nn)")
    assert YAMADA_TARO not in dropped
    assert "Payee(ann)" in dropped.replace(" ", "")


async def test_given_pdf_fonts_then_the_warning_names_only_what_no_font_draws(tmp_path, caplog):
    font = box_font(tmp_path / "yamada.ttf", YAMADA_TARO)
    world, statement = await _statement()
    world["ann"].display_name = f"{YAMADA_TARO} 김민준"  # Hangul: not in the font
    await world["ann"].save(update_fields=["display_name"])

    with caplog.at_level("WARNING", logger="payments.documents"):
        await statement_pdf(viewer=world.system, statement_id=statement.id, fonts=(str(font),))

    (warning,) = [r.getMessage() for r in caplog.records if r.name == "payments.documents"]
    assert "no glyph for 3 characters of the payee's name or the lines ('김민준')" in warning
    assert "set PODIUM_PDF_FONTS" in warning


async def test_given_a_statement_pdf_being_made_then_the_event_loop_keeps_turning(monkeypatch):
    # fpdf2 takes 0.1 to 1 s of CPU a PDF: on the loop, every other request of the API waited
    from payments import documents

    world, statement = await _statement()
    monkeypatch.setattr(documents, "statement_pdf", slow_render)

    pdf, stall = await longest_stall(statement_pdf(viewer=world.system, statement_id=statement.id))

    assert pdf == slow_render()
    assert stall < SLOW_RENDER / 2
