"""Statements and disputes through the API, on a closed October: the rep reads their
statements (MyStatements) and downloads the PDF through its signed link (read back with
pypdf), disputes a line (RaiseDispute), which holds the approval (ApproveStatements) until
their manager resolves it with an adjustment (ResolveDispute); the statements are approved;
an adjustment (AddAdjustment) then makes version 2, the approved version 1 still readable.
Every refusal is a UserError naming the field."""

from __future__ import annotations

import io
from dataclasses import replace
from decimal import Decimal
from urllib.parse import urlsplit

from graphql import print_ast
from pypdf import PdfReader
from redis.asyncio import Redis

from api.app import create_app
from api.settings import Settings
from api.statements import statement_pdf_url
from domain.plans.models import PlanAssignment
from payments.statements.service import add_adjustment, approve_statements, build_statements
from tests.api.graphql.helpers import Api, serve
from tests.api.graphql.test_contract import operation_document
from tests.fonts import YAMADA_TARO, box_font
from tests.payments.helpers import close, deal, make_world

MY_STATEMENTS = print_ast(operation_document("MyStatements"))
RAISE = print_ast(operation_document("RaiseDispute"))
APPROVE = print_ast(operation_document("ApproveStatements"))
RESOLVE = print_ast(operation_document("ResolveDispute"))
ADJUST = print_ast(operation_document("AddAdjustment"))
STATEMENT = print_ast(operation_document("Statement"))


async def _world():
    world = await make_world()
    await deal(world["ann"], "t1", "8000", "2026-10-05")  # 250
    await deal(world["bob"], "t2", "4000", "2026-10-06")  # 80
    await close(world, "2026-10")
    await build_statements(viewer=world.system, period="2026-10")
    return world


def _pdf_text(content: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


async def test_given_a_closed_october_then_statements_dispute_approve_adjust_end_to_end(
    api: Api, redis: Redis, settings: Settings
):
    world = await _world()
    t = world.tenant
    ann, mia = api.as_(t, world["ann"]), api.as_(t, world["mia"])

    mine = await ann.gql(MY_STATEMENTS)
    assert "errors" not in mine, mine
    (node,) = [e["node"] for e in mine["data"]["me"]["statements"]["edges"]]
    assert (node["period"], node["status"], node["paidAt"]) == ("2026-10", "DRAFT", None)
    assert node["total"] == {"amount": "250.00", "currency": "EUR", "formatted": "€250.00"}

    link = urlsplit(node["pdfUrl"])
    answer = await api.http.get(f"{link.path}?{link.query}")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    text = _pdf_text(answer.content)
    for expected in ("Commission statement", "Ann (ann)", "October 2026", "Commission (AE v1)",
                     "€250.00", "draft"):  # fmt: skip
        assert expected in text, (expected, text)
    tampered = link.query.replace("sig=", "sig=0")
    assert (await api.http.get(f"{link.path}?{tampered}")).status_code == 403
    expired = urlsplit(statement_pdf_url(settings, node["id"], now=0))
    assert (await api.http.get(f"{expired.path}?{expired.query}")).status_code == 403

    read = await ann.gql(STATEMENT, {"id": node["id"]})
    assert "errors" not in read, read
    line = read["data"]["statement"]["lines"]["edges"][0]["node"]
    assert (line["kind"], line["description"]) == ("EARNINGS", "Commission (AE v1)")

    raised = await ann.gql(
        RAISE, {"statementId": node["id"], "lineId": line["id"], "message": "t1 was 9,000"}
    )
    dispute = raised["data"]["raiseDispute"]
    assert (dispute["__typename"], dispute["status"]) == ("Dispute", "OPEN")
    assert any(j.startswith(b"push:") for j in await redis.zrange("arq:queue", 0, -1))

    held = await mia.gql(APPROVE, {"period": "2026-10", "repIds": [str(world["ann"].id)]})
    assert held["data"]["approveStatements"]["__typename"] == "UserError"
    assert held["data"]["approveStatements"]["field"] == "repIds"

    resolved = await mia.gql(
        RESOLVE,
        {"input": {"id": dispute["id"], "accept": True, "comment": "Right", "adjustment": "12.50"}},
    )
    assert resolved["data"]["resolveDispute"] == {
        "__typename": "Dispute", "id": dispute["id"], "status": "ACCEPTED", "resolution": "Right",
    }  # fmt: skip

    approved = await mia.gql(APPROVE, {"period": "2026-10"})
    assert approved["data"]["approveStatements"] == {
        "__typename": "ApprovalResult", "approved": 2, "skipped": 0,
    }  # fmt: skip
    again = await mia.gql(APPROVE, {"period": "2026-10", "repIds": [str(world["ann"].id)]})
    assert again["data"]["approveStatements"]["field"] == "repIds"

    wrong = await mia.gql(ADJUST, {"input": {
        "repId": str(world["ann"].id), "period": "2026-10", "amount": "5", "currency": "USD",
        "reason": "bonus"}})  # fmt: skip
    assert wrong["data"]["addAdjustment"]["__typename"] == "UserError"
    assert wrong["data"]["addAdjustment"]["field"] == "currency"
    adjusted = await mia.gql(ADJUST, {"input": {
        "repId": str(world["ann"].id), "period": "2026-10", "amount": "-2.50", "currency": "EUR",
        "reason": "Parking fine"}})  # fmt: skip
    assert adjusted["data"]["addAdjustment"]["amount"]["formatted"] == "-€2.50"

    now = (await ann.gql(MY_STATEMENTS))["data"]["me"]["statements"]["edges"][0]["node"]
    assert (now["status"], now["total"]["amount"]) == ("DRAFT", "260.00")
    old = (await ann.gql(STATEMENT, {"id": node["id"]}))["data"]["statement"]
    assert (old["status"], old["version"], old["total"]["amount"]) == ("APPROVED", 1, "262.50")
    assert old["drawBalance"] is None  # no draw
    assert [d["status"] for d in old["disputes"]] == ["ACCEPTED"]
    new = (await ann.gql(STATEMENT, {"id": now["id"]}))["data"]["statement"]
    assert [e["node"]["kind"] for e in new["lines"]["edges"]] == [
        "EARNINGS", "ADJUSTMENT", "ADJUSTMENT",
    ]  # fmt: skip


async def test_given_someone_elses_statement_then_user_errors_and_forbidden(api: Api):
    world = await _world()
    t = world.tenant
    bob, ann = api.as_(t, world["bob"]), api.as_(t, world["ann"])
    mine = (await ann.gql(MY_STATEMENTS))["data"]["me"]["statements"]["edges"][0]["node"]

    raised = await bob.gql(RAISE, {"statementId": mine["id"], "message": "not mine"})
    assert raised["data"]["raiseDispute"]["__typename"] == "UserError"
    assert raised["data"]["raiseDispute"]["field"] == "statementId"
    read = await bob.gql(STATEMENT, {"id": mine["id"]})
    assert read["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    approving = await ann.gql(APPROVE, {"period": "2026-10"})
    assert approving["data"]["approveStatements"]["field"] == "period"
    other = await api.as_(t, world["max"]).gql(
        APPROVE, {"period": "2026-10", "repIds": [str(world["ann"].id)]}
    )
    assert other["data"]["approveStatements"]["field"] == "repIds"
    unknown = await ann.gql(STATEMENT, {"id": "00000000-0000-0000-0000-000000000000"})
    assert unknown["data"]["statement"] is None
    team = (
        "query($id: ID!) { rep(id: $id) { statements { edges { node { id total { amount } } } } } }"
    )
    by_manager = await api.as_(t, world["mia"]).gql(team, {"id": str(world["ann"].id)})
    assert by_manager["data"]["rep"]["statements"]["edges"] == [
        {"node": {"id": mine["id"], "total": {"amount": "250.00"}}}
    ]
    by_other = await api.as_(t, world["max"]).gql(team, {"id": str(world["ann"].id)})
    assert by_other["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_given_a_german_payee_then_the_pdf_reads_german_with_euro_after_the_amount(
    api: Api, settings: Settings
):
    world = await _world()
    world["ann"].locale = "de-DE"
    await world["ann"].save(update_fields=["locale"])
    node = (await api.as_(world.tenant, world["ann"]).gql(MY_STATEMENTS))["data"]["me"][
        "statements"
    ]["edges"][0]["node"]
    link = urlsplit(node["pdfUrl"])
    text = _pdf_text((await api.http.get(f"{link.path}?{link.query}")).content)
    for expected in ("Provisionsabrechnung", "Oktober 2026", "250,00\xa0€", "Entwurf"):
        assert expected in text, (expected, text)


async def test_given_pdf_fonts_then_the_pdf_link_draws_a_japanese_payee_s_name(
    db: str, redis: Redis, settings: Settings, tmp_path
):
    # PODIUM_PDF_FONTS names a font made here with the four characters: the service reads it
    # with its other settings and every PDF it serves draws them
    font = box_font(tmp_path / "yamada.ttf", YAMADA_TARO)
    fonts = Settings.from_env({"PODIUM_PDF_FONTS": str(font)}).pdf_fonts
    world = await _world()
    world["ann"].display_name = YAMADA_TARO
    await world["ann"].save(update_fields=["display_name"])

    async with serve(create_app(replace(settings, pdf_fonts=fonts))) as client:
        api = Api(client)
        node = (await api.as_(world.tenant, world["ann"]).gql(MY_STATEMENTS))["data"]["me"][
            "statements"
        ]["edges"][0]["node"]
        link = urlsplit(node["pdfUrl"])
        answer = await api.http.get(f"{link.path}?{link.query}")

    assert answer.status_code == 200
    assert f"{YAMADA_TARO} (ann)" in _pdf_text(answer.content)


SET_DRAW = """
mutation SetDraw($input: SetDrawInput!) {
  setDraw(input: $input) {
    __typename
    ... on Draw { amount { formatted } recoverable recoveryShare onTermination termsFromPlan }
    ... on UserError { code message field }
  }
}
"""
SET_PLAN_TERMS = """
mutation SetPlanDrawTerms($input: SetPlanDrawTermsInput!) {
  setPlanDrawTerms(input: $input) {
    __typename
    ... on PlanDrawTerms { recoveryShare }
    ... on UserError { code message field }
  }
}
"""


async def test_given_a_draw_set_by_an_admin_then_the_statement_tops_up_and_shows_the_balance(
    api: Api,
):
    world = await make_world()
    t = world.tenant
    admin = api.as_(t, world["admin"])
    assignment = await PlanAssignment.get(user_id=world["ann"].id)
    terms = {"assignmentId": str(assignment.id), "amount": "300", "recoverable": True,
             "recoveryShare": "0.5"}  # fmt: skip
    bad = await admin.gql(SET_DRAW, {"input": terms | {"recoveryShare": "1.5"}})
    assert bad["data"]["setDraw"]["field"] == "recoveryShare"
    by_manager = await api.as_(t, world["mia"]).gql(SET_DRAW, {"input": terms})
    assert by_manager["data"]["setDraw"]["field"] == "assignmentId"
    # the plan's terms: every draw on it without its own follows them
    plan_terms = {"planId": str(assignment.plan_id), "recoveryShare": "0.25",
                  "onTermination": "keep"}  # fmt: skip
    refused = await api.as_(t, world["mia"]).gql(SET_PLAN_TERMS, {"input": plan_terms})
    assert refused["data"]["setPlanDrawTerms"]["field"] == "planId"
    set_plan = await admin.gql(SET_PLAN_TERMS, {"input": plan_terms})
    assert set_plan["data"]["setPlanDrawTerms"] == {"__typename": "PlanDrawTerms",
                                                    "recoveryShare": "0.25"}  # fmt: skip
    follows = await admin.gql(SET_DRAW, {"input": {k: v for k, v in terms.items()
                                                   if k != "recoveryShare"}})  # fmt: skip
    assert follows["data"]["setDraw"] == {
        "__typename": "Draw", "amount": {"formatted": "€300.00"}, "recoverable": True,
        "recoveryShare": "0.25", "onTermination": "keep", "termsFromPlan": True,
    }  # fmt: skip
    done = await admin.gql(SET_DRAW, {"input": terms | {"onTermination": "forgive"}})
    assert done["data"]["setDraw"] == {
        "__typename": "Draw", "amount": {"formatted": "€300.00"}, "recoverable": True,
        "recoveryShare": "0.5", "onTermination": "forgive", "termsFromPlan": False,
    }  # fmt: skip
    await deal(world["ann"], "t1", "8000", "2026-10-05")  # 250
    await close(world, "2026-10")
    await build_statements(viewer=world.system, period="2026-10")

    ann = api.as_(t, world["ann"])
    node = (await ann.gql(MY_STATEMENTS))["data"]["me"]["statements"]["edges"][0]["node"]
    read = (await ann.gql(STATEMENT, {"id": node["id"]}))["data"]["statement"]
    assert read["total"]["amount"] == "300.00"
    assert read["drawBalance"]["amount"] == "50.00"
    assert [(e["node"]["kind"], e["node"]["description"]) for e in read["lines"]["edges"]] == [
        ("EARNINGS", "Commission (AE v1)"),
        ("DRAW", "Draw (recoverable): guaranteed €300.00"),
    ]


async def test_given_a_balance_carried_forward_then_both_statements_say_so_with_pdf_and_json(
    api: Api,
):
    world = await make_world()
    await deal(world["ann"], "t1", "8000", "2026-10-05")  # 250
    await close(world, "2026-10")
    await add_adjustment(
        viewer=world.viewer("ops"), rep_id=world["ann"].id, period="2026-10",
        amount=Decimal("-370"), currency="EUR", reason="Demo kit not returned",
    )  # fmt: skip
    await build_statements(viewer=world.system, period="2026-10")
    await approve_statements(viewer=world.viewer("ops"), period="2026-10")
    await deal(world["ann"], "n1", "13000", "2026-11-05")  # 500
    await close(world, "2026-11")
    await build_statements(viewer=world.system, period="2026-11")
    ann = api.as_(world.tenant, world["ann"])

    mine = (await ann.gql(MY_STATEMENTS))["data"]["me"]["statements"]["edges"]
    by_period = {e["node"]["period"]: e["node"] for e in mine}
    november = (await ann.gql(STATEMENT, {"id": by_period["2026-11"]["id"]}))["data"]["statement"]
    october = (await ann.gql(STATEMENT, {"id": by_period["2026-10"]["id"]}))["data"]["statement"]

    assert (november["status"], november["total"]["amount"]) == ("DRAFT", "380.00")
    assert november["carriedIntoPeriod"] is None
    lines = [e["node"] for e in november["lines"]["edges"]]
    assert [(ln["kind"], ln["amount"]["amount"], ln["carriedFrom"]) for ln in lines] == [
        ("EARNINGS", "500.00", None),
        ("CARRY_FORWARD", "-120.00", october["id"]),
    ]
    assert lines[1]["description"] == "Balance carried forward from October 2026"
    assert (october["status"], october["total"]["amount"], october["carriedIntoPeriod"]) == (
        "CARRIED", "-120.00", "2026-11",
    )  # fmt: skip

    document = (await ann.gql(DOCUMENT, {"id": november["id"]}))["data"]["statement"]["document"]
    [carried] = [ln for ln in document["lines"] if ln["kind"] == "carry_forward"]
    assert (carried["amount"], carried["carriedFrom"], carried["originalPeriod"]) == (
        "-120.00", october["id"], "2026-10",
    )  # fmt: skip
    assert document["total"] == "380.00"
    text = _pdf_text(await _pdf(api, november["pdfUrl"]))
    for expected in ("Balance carried forward from October 2026", "-€120.00", "€380.00"):
        assert expected in text, (expected, text)
    old = (await ann.gql(DOCUMENT, {"id": october["id"]}))["data"]["statement"]["document"]
    assert (old["status"], old["carriedIntoPeriod"]) == ("carried", "2026-11")
    text = _pdf_text(await _pdf(api, october["pdfUrl"]))
    for expected in ("carried forward", "Carried forward to", "November 2026"):
        assert expected in text, (expected, text)


DOCUMENT = "query($id: ID!) { statement(id: $id) { document } }"


async def _pdf(api: Api, url: str) -> bytes:
    link = urlsplit(url)
    answer = await api.http.get(f"{link.path}?{link.query}")
    assert answer.status_code == 200
    return answer.content


ACCRUALS = print_ast(operation_document("Accruals"))


async def test_given_approved_statements_then_finance_reads_the_accruals_and_reps_may_not(
    api: Api,
):
    world = await _world()
    t = world.tenant
    await api.as_(t, world["mia"]).gql(APPROVE, {"period": "2026-10"})
    answer = await api.as_(t, world["ops"]).gql(ACCRUALS, {"period": "2026-10"})
    assert answer["data"]["accruals"] == [
        {
            "currency": "EUR",
            "earned": {"amount": "330.00", "currency": "EUR", "formatted": "€330.00"},
            "approved": {"amount": "330.00", "currency": "EUR", "formatted": "€330.00"},
            "paid": {"amount": "0.00", "currency": "EUR", "formatted": "€0.00"},
            "outstanding": {"amount": "330.00", "currency": "EUR", "formatted": "€330.00"},
        }
    ]
    refused = await api.as_(t, world["ann"]).gql(ACCRUALS, {"period": "2026-10"})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


PARTNER = """
mutation($input: PartnerProfileInput!) { setPartnerProfile(input: $input) {
  __typename ... on PartnerProfile { legalName country taxId } ... on UserError { field } } }
"""
TAX = """
mutation($input: TaxRuleInput!) { setTaxRule(input: $input) {
  __typename ... on TaxRule { country kind rate baseShare } ... on UserError { field } } }
"""
INVOICE = """
query($id: ID!) { statement(id: $id) { invoice { kind number net { amount } payable { amount }
  items { kind rate base { amount } amount { amount } } legalName taxId pdfUrl
  cancelledByNumber }
  creditNote { kind number cancelsNumber net { amount } payable { amount }
  items { kind amount { amount } } pdfUrl } } }
"""


async def test_given_an_italian_partner_when_approved_then_the_invoice_and_its_pdf(api: Api):
    world = await _world()
    t = world.tenant
    admin = api.as_(t, world["admin"])
    bad = await admin.gql(TAX, {"input": {"country": "IT", "kind": "vat", "rate": "122"}})
    assert bad["data"]["setTaxRule"] == {"__typename": "UserError", "field": "rate"}
    for rule in ({"kind": "vat", "rate": "22"},
                 {"kind": "withholding", "rate": "23", "baseShare": "0.5"}):  # fmt: skip
        done = await admin.gql(TAX, {"input": {"country": "IT"} | rule})
        assert done["data"]["setTaxRule"]["__typename"] == "TaxRule"
    partner = {"repId": str(world["ann"].id), "legalName": "Sole Impianti S.r.l.",
               "address": "Via Roma 1, Milano", "country": "IT",
               "taxId": "IT00743110158"}  # fmt: skip
    wrong = await admin.gql(PARTNER, {"input": partner})
    assert wrong["data"]["setPartnerProfile"] == {"__typename": "UserError", "field": "taxId"}
    made = await admin.gql(PARTNER, {"input": partner | {"taxId": "IT00743110157"}})
    assert made["data"]["setPartnerProfile"]["taxId"] == "00743110157"

    await api.as_(t, world["mia"]).gql(APPROVE, {"period": "2026-10"})

    ann = api.as_(t, world["ann"])
    node = (await ann.gql(MY_STATEMENTS))["data"]["me"]["statements"]["edges"][0]["node"]
    invoice = (await ann.gql(INVOICE, {"id": node["id"]}))["data"]["statement"]["invoice"]
    assert invoice["number"].endswith("-000001")
    assert (invoice["net"], invoice["payable"]) == ({"amount": "250.00"}, {"amount": "276.25"})
    assert [i["kind"] for i in invoice["items"]] == ["vat", "withholding"]
    link = urlsplit(invoice["pdfUrl"])
    answer = await api.http.get(f"{link.path}?{link.query}")
    assert answer.status_code == 200
    text = _pdf_text(answer.content)
    for expected in ("Self-billing invoice", invoice["number"], "Sole Impianti S.r.l.",
                     "00743110157", "VAT 22%", "€276.25", "-€28.75"):  # fmt: skip
        assert expected in text, (expected, text)
    assert invoice["cancelledByNumber"] is None
    bob = (await api.as_(t, world["bob"]).gql(MY_STATEMENTS))["data"]["me"]["statements"]
    bobs = await api.as_(t, world["bob"]).gql(INVOICE, {"id": bob["edges"][0]["node"]["id"]})
    assert bobs["data"]["statement"]["invoice"] is None  # not a partner

    # a change after approval, approved again: a credit note cancels invoice 1, invoice 2
    mia = api.as_(t, world["mia"])
    spiff = {"repId": str(world["ann"].id), "period": "2026-10", "amount": "50",
             "currency": "EUR", "reason": "SPIFF"}  # fmt: skip
    await mia.gql(ADJUST, {"input": spiff})
    await mia.gql(APPROVE, {"period": "2026-10"})
    old = (await ann.gql(INVOICE, {"id": node["id"]}))["data"]["statement"]
    assert old["invoice"]["cancelledByNumber"] == old["creditNote"]["number"]
    assert {k: old["creditNote"][k] for k in ("kind", "cancelsNumber", "net", "payable")} == {
        "kind": "CREDIT_NOTE", "cancelsNumber": invoice["number"], "net": {"amount": "-250.00"},
        "payable": {"amount": "-276.25"},
    }  # fmt: skip
    assert [i["amount"] for i in old["creditNote"]["items"]] == [
        {"amount": "-55.00"}, {"amount": "28.75"},
    ]  # fmt: skip
    link = urlsplit(old["creditNote"]["pdfUrl"])
    text = _pdf_text((await api.http.get(f"{link.path}?{link.query}")).content)
    assert "Credit note" in text, text
    assert f"Cancels invoice {invoice['number']}" in text, text
    now = (await ann.gql(MY_STATEMENTS))["data"]["me"]["statements"]["edges"][0]["node"]
    new = (await ann.gql(INVOICE, {"id": now["id"]}))["data"]["statement"]
    assert new["invoice"]["number"].endswith("-000003")
    assert (new["invoice"]["net"], new["creditNote"]) == ({"amount": "300.00"}, None)


async def test_given_hostile_values_then_user_errors_naming_the_field_never_a_500(api: Api):
    world = await _world()
    mia = api.as_(world.tenant, world["mia"])
    base = {"repId": str(world["ann"].id), "period": "2026-10", "amount": "5",
            "currency": "EUR", "reason": "r"}  # fmt: skip
    for override, field in (
        ({"amount": "123456789012345.5"}, "amount"),
        ({"period": "x" * 5000}, "period"),
        ({"currency": "€" * 300}, "currency"),
        ({"reason": "r" * 100_000}, "reason"),
        ({"repId": "'; DROP TABLE statements; --"}, "repId"),
    ):
        answer = await mia.gql(ADJUST, {"input": base | override})
        assert "errors" not in answer, (override, answer)
        result = answer["data"]["addAdjustment"]
        assert (result["__typename"], result["field"]) == ("UserError", field), override
    for text in ("NaN", "1e999999", "1_000", "\u0661\u0662", " 5 "):  # refused by the scalar
        refused = await mia.gql(ADJUST, {"input": base | {"amount": text}})
        assert refused["data"] is None, text
        assert "'$input' has invalid value at .amount:" in refused["errors"][0]["message"], refused
        assert "is not a decimal number" in refused["errors"][0]["message"], refused
    held = await mia.gql(RAISE, {"statementId": "not-an-id", "message": "x"})
    assert held["data"]["raiseDispute"]["field"] == "statementId"
    period = await mia.gql(APPROVE, {"period": "9999-99"})
    assert period["data"]["approveStatements"]["field"] == "period"


async def test_given_a_forged_host_then_the_pdf_link_is_at_the_public_address(
    api: Api, settings: Settings
):
    # the link was built from the request's Host header, which the sender chooses: a
    # signed link to the statement handed out pointing at another server
    world = await _world()
    ann = api.as_(world.tenant, world["ann"])

    answer = await ann.post(
        {"query": MY_STATEMENTS}, **{"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    )

    (node,) = [e["node"] for e in answer.json()["data"]["me"]["statements"]["edges"]]
    assert node["pdfUrl"].startswith(f"{settings.public_url}/statements/{node['id']}/pdf?")
    assert "evil.example" not in answer.text


BALANCES = """
query { outstandingBalances { repExternalId period version currency approvedAt ageDays
  total { amount } owed { amount formatted } statementId } }
"""


async def test_given_a_balance_owed_then_payout_ops_read_it_and_reps_may_not(api: Api):
    world = await _world()
    t = world.tenant
    await add_adjustment(
        viewer=world.system, rep_id=world["ann"].id, period="2026-10", amount=Decimal("-400"),
        currency="EUR", reason="Kit not returned",
    )  # fmt: skip
    await api.as_(t, world["mia"]).gql(APPROVE, {"period": "2026-10"})

    answer = await api.as_(t, world["ops"]).gql(BALANCES)

    [balance] = answer["data"]["outstandingBalances"]
    assert {k: v for k, v in balance.items() if k not in ("approvedAt", "statementId")} == {
        "repExternalId": "ann", "period": "2026-10", "version": 1, "currency": "EUR",
        "ageDays": 0, "total": {"amount": "-150.00"},
        "owed": {"amount": "-150.00", "formatted": "-€150.00"},
    }  # fmt: skip
    assert balance["approvedAt"] is not None
    refused = await api.as_(t, world["ann"]).gql(BALANCES)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
