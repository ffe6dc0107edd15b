"""The CSV files of PLAN_SPEC section 7: parsed strictly, every error names file, row, column."""

from __future__ import annotations

from datetime import date

import pytest

from domain.datasets.csvfiles import (
    parse_number,
    read_assignments,
    read_directory_texts,
    read_fx,
    read_quotas,
    read_reps,
    read_transactions,
)
from domain.kit.errors import DataError
from tests.factories import D

TX_HEADER = "id,rep_id,type,amount,currency,date,state,splits"
REPS = "id,name,manager_id,hire_date,end_date\nana,Ana,,,\nben,Ben,ana,2026-10-16,\n"


def lines(*rows: str) -> list[str]:
    return [row + "\n" for row in rows]


def transactions(*rows: str, header: str = TX_HEADER, rep_ids: set[str] | None = None):
    return read_transactions(
        lines(header, *rows), rep_ids if rep_ids is not None else {"ana", "ben", "cara"}
    )


def data_error(fn, *args, **kwargs) -> DataError:
    with pytest.raises(DataError) as info:
        fn(*args, **kwargs)
    return info.value


def tx_error(*rows: str, header: str = TX_HEADER) -> DataError:
    return data_error(transactions, *rows, header=header)


# --- numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1200", "1200"),
        ("-3.5", "-3.5"),
        ("+2", "2"),
        (".5", "0.5"),
        ("5.", "5"),
        ("0.000001", "0.000001"),
    ],
)
def test_given_plain_decimal_text_when_parsed_then_exact_decimal(text: str, expected: str):
    assert parse_number(text) == D(expected)


@pytest.mark.parametrize("text", ["1,200", "1e3", "NaN", "inf", "12 000", "abc", "", "1.2.3", "$5"])
def test_given_not_a_plain_decimal_when_parsed_then_none(text: str):
    assert parse_number(text) is None


# --- transactions --------------------------------------------------------------------------


def test_given_valid_transactions_when_read_then_fields_and_credits():
    (t1, t2) = transactions(
        "t1,ana,deal,1200.50,EUR,2026-10-03,won,",
        "t2,ana,deal,1000,GBP,2026-10-04,,ana:0.6;ben:0.4",
    )

    assert (t1.id, t1.rep_id, t1.amount, t1.currency, t1.date) == (
        "t1",
        "ana",
        D("1200.50"),
        "EUR",
        date(2026, 10, 3),
    )
    assert t1.credits == (("ana", D("1")),)
    assert t1.fields["date"] == "2026-10-03"
    assert t1.fields["state"] == "won"
    assert t2.fields["state"] is None
    assert t2.credits == (("ana", D("0.6")), ("ben", D("0.4")))


def test_given_extra_columns_when_read_then_they_become_fields_numbers_as_decimals():
    (t1,) = transactions(
        "t1,ana,deal,1,EUR,2026-10-03,won,,heat_pump,12.5,",
        header=TX_HEADER + ",product,margin,region",
    )

    assert t1.fields["product"] == "heat_pump"
    assert t1.fields["margin"] == D("12.5")
    assert type(t1.fields["margin"]) is type(D("1"))
    assert t1.fields["region"] is None


def test_given_rows_alike_when_read_then_they_share_one_kind_as_the_close_reader_does():
    t1, t2, t3, t4 = transactions(
        "t1,ana,deal,1,EUR,2026-10-03,won,,heat_pump,12.5",
        "t2,ben,deal,2,EUR,2026-10-09,won,,heat_pump,12.5",
        "t3,ana,deal,3,EUR,2026-10-03,won,,heat_pump,12.50",
        "t4,ana,deal,4,GBP,2026-10-03,won,,heat_pump,12.5",
        header=TX_HEADER + ",product,margin",
    )

    assert t1.kind is t2.kind  # alike: one dict, not one per row
    assert t3.kind is not t1.kind  # 12.50 is its own text (the same number, shown as given)
    assert str(t3.fields["margin"]) == "12.50"
    assert t4.kind is not t1.kind
    assert t4.fields["currency"] == "GBP"
    assert t1.kind == {"product": "heat_pump", "margin": D("12.5"), "type": "deal",
                       "currency": "EUR", "state": "won"}  # fmt: skip
    assert (t2.id, t2.rep_id, t2.amount, t2.fields["id"]) == ("t2", "ben", D("2"), "t2")


def test_given_reordered_header_when_read_then_columns_matched_by_name():
    (t1,) = transactions(
        "2026-10-03,EUR,77,ana,t1,deal,won,",
        header="date,currency,amount,rep_id,id,type,state,splits",
    )

    assert (t1.id, t1.amount, t1.date) == ("t1", D("77"), date(2026, 10, 3))


def test_given_bom_and_blank_lines_when_read_then_ignored_and_rows_still_counted():
    error = data_error(
        read_transactions,
        ["\ufeff" + TX_HEADER + "\n", "\n", "t1,ana,deal,x,EUR,2026-10-03,won,\n"],
        {"ana"},
    )

    assert (error.row, error.column) == (3, "amount")


@pytest.mark.parametrize(
    "header",
    [
        "id,rep_id,type,currency,date,state,splits",  # no amount
        "id,rep,type,amount,currency,date,state,splits",  # rep instead of rep_id
        "id;rep_id;type;amount;currency;date;state;splits",  # not comma-separated
    ],
)
def test_given_wrong_header_when_read_then_error_on_row_1(header: str):
    error = tx_error("t1,ana,deal,1,EUR,2026-10-03,won,", header=header)

    assert (error.file, error.row) == ("transactions.csv", 1)
    assert "missing column" in error.message


def test_given_duplicate_header_column_when_read_then_error():
    error = tx_error(header=TX_HEADER + ",product,product")

    assert error.row == 1
    assert "product" in error.message


def test_given_reserved_extra_column_when_read_then_error():
    error = tx_error(header=TX_HEADER + ",amount_original")

    assert "amount_original" in error.message


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ("t1,ana,deal,1.200,50,EUR,2026-10-03,won,", None),  # one cell too many
        ("t1,ana,deal,abc,EUR,2026-10-03,won,", "amount"),
        ("t1,ana,deal,1e3,EUR,2026-10-03,won,", "amount"),
        ("t1,ana,deal,,EUR,2026-10-03,won,", "amount"),
        ("t1,ana,deal,1,EUR,03/10/2026,won,", "date"),
        ("t1,ana,deal,1,EUR,2026-10-32,won,", "date"),
        ("t1,ana,deal,1,EUR,,won,", "date"),
        ("t1,ana,deal,1,EURO,2026-10-03,won,", "currency"),
        ("t1,zed,deal,1,EUR,2026-10-03,won,", "rep_id"),
        (",ana,deal,1,EUR,2026-10-03,won,", "id"),
        ("t1,ana,deal,1,EUR,2026-10-03,won,ana:0.5;ben:0.4", "splits"),
        ("t1,ana,deal,1,EUR,2026-10-03,won,ana:0.5;ben:0.6", "splits"),
        ("t1,ana,deal,1,EUR,2026-10-03,won,ana:0.5;zed:0.5", "splits"),
        ("t1,ana,deal,1,EUR,2026-10-03,won,ana:0.5;ana:0.5", "splits"),
        ("t1,ana,deal,1,EUR,2026-10-03,won,ana=1", "splits"),
        ("t1,ana,deal,1,EUR,2026-10-03,won,ana:1.5;ben:-0.5", "splits"),
    ],
)
def test_given_bad_cell_when_transactions_read_then_error_names_file_row_and_column(
    row: str, column: str | None
):
    error = tx_error("t0,ana,deal,1,EUR,2026-10-01,won,", row)

    assert (error.file, error.row, error.column) == ("transactions.csv", 3, column)
    expected_where = "transactions.csv row 3" + (f" column {column}" if column else "")
    assert str(error).startswith(expected_where + ": ")


def test_given_shares_not_adding_to_one_when_read_then_message_gives_their_sum():
    error = tx_error("t1,ana,deal,1,EUR,2026-10-03,won,ana:0.5;ben:0.4")

    assert str(error) == "transactions.csv row 2 column splits: shares add up to 0.9, not 1"


@pytest.mark.parametrize(
    "splits",
    [
        "ana:0.333333;ben:0.333333;cara:0.333333",  # 0.999999: within the tolerance
        "ana:0.3333334;ben:0.3333333;cara:0.3333334",  # 1.0000001
        " ana : 0.5 ; ben : 0.5 ",
    ],
)
def test_given_shares_adding_to_one_within_tolerance_when_read_then_accepted(splits: str):
    (t1,) = transactions(f"t1,ana,deal,1,EUR,2026-10-03,won,{splits}")

    assert abs(sum(share for _, share in t1.credits) - 1) <= D("0.000001")
    assert t1.credits[0][0] == "ana"


def test_given_shares_just_outside_tolerance_when_read_then_rejected():
    error = tx_error("t1,ana,deal,1,EUR,2026-10-03,won,ana:0.5;ben:0.499998")

    assert error.column == "splits"


def test_given_duplicate_transaction_id_when_read_then_error_on_second_row():
    error = tx_error("t1,ana,deal,1,EUR,2026-10-03,won,", "t1,ben,deal,2,EUR,2026-10-04,won,")

    assert (error.row, error.column) == (3, "id")
    assert "t1" in error.message


def test_given_no_rep_ids_when_transactions_read_then_any_rep_accepted():
    (t1,) = read_transactions(lines(TX_HEADER, "t1,zed,deal,1,EUR,2026-10-03,won,"))

    assert t1.rep_id == "zed"


def test_given_empty_file_when_read_then_error_on_row_1():
    error = data_error(read_transactions, [], {"ana"})

    assert (error.file, error.row) == ("transactions.csv", 1)


# --- reps ----------------------------------------------------------------------------------


def test_given_valid_reps_when_read_then_hierarchy_dates_and_extra_fields():
    ana, ben = read_reps(
        lines(
            "id,name,manager_id,hire_date,end_date,region,level",
            "ana,Ana Weber,,,2026-12-31,north,3",
            "ben,Ben,ana,2026-10-16,,,",
        )
    )

    assert (ana.id, ana.name, ana.manager_id, ana.end_date) == (
        "ana",
        "Ana Weber",
        None,
        date(2026, 12, 31),
    )
    assert ana.fields == {"region": "north", "level": D("3")}
    assert (ben.manager_id, ben.hire_date, ben.end_date) == ("ana", date(2026, 10, 16), None)


@pytest.mark.parametrize(
    ("rows", "row", "column", "fragment"),
    [
        (("ana,A,,,", "ana,B,,,"), 3, "id", "duplicate"),
        (("ana,A,zed,,",), 2, "manager_id", "unknown manager 'zed'"),
        (("ana,A,ana,,",), 2, "manager_id", "own manager"),
        (("ana,A,,2026-10-10,2026-10-01",), 2, "end_date", "before"),
        (("ana,A,,10.10.2026,",), 2, "hire_date", "not a date"),
        (("ana,A,,,someday",), 2, "end_date", "not a date"),
    ],
)
def test_given_bad_rep_row_when_read_then_error_names_file_row_and_column(
    rows: tuple[str, ...], row: int, column: str, fragment: str
):
    error = data_error(read_reps, lines("id,name,manager_id,hire_date,end_date", *rows))

    assert (error.file, error.row, error.column) == ("reps.csv", row, column)
    assert fragment in error.message


@pytest.mark.parametrize(
    "rows",
    [
        ("ana,A,ben,,", "ben,B,ana,,"),
        ("ana,A,cara,,", "ben,B,ana,,", "cara,C,ben,,", "dan,D,,,"),
    ],
)
def test_given_manager_cycle_when_reps_read_then_error_on_manager_id(rows: tuple[str, ...]):
    error = data_error(read_reps, lines("id,name,manager_id,hire_date,end_date", *rows))

    assert (error.file, error.column) == ("reps.csv", "manager_id")
    assert "cycle" in error.message
    assert error.row is not None
    assert 2 <= error.row <= len(rows) + 1


# --- quotas, fx, assignments ---------------------------------------------------------------


def test_given_quotas_of_several_periods_when_read_then_only_the_period_asked_for():
    quotas = read_quotas(
        lines(
            "rep_id,measure,period,value",
            "ana,bookings,2026-10,100000",
            "ana,bookings,2026-11,120000",
            "ana,bookings,2026-Q4,300000",
            "ben,units,2026-10,12.5",
        ),
        "2026-10",
        {"ana", "ben"},
    )

    assert quotas == {("ana", "bookings"): D("100000"), ("ben", "units"): D("12.5")}


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ("ana,bookings,2026-10,-1", "value"),
        ("ana,bookings,2026-10,lots", "value"),
        ("ana,bookings,2026-13,1", "period"),
        ("ana,bookings,October,1", "period"),
        ("zed,bookings,2026-10,1", "rep_id"),
        ("ana,,2026-10,1", "measure"),
    ],
)
def test_given_bad_quota_row_when_read_then_error_names_file_row_and_column(row: str, column: str):
    error = data_error(read_quotas, lines("rep_id,measure,period,value", row), "2026-10", {"ana"})

    assert (error.file, error.row, error.column) == ("quotas.csv", 2, column)


def test_given_second_quota_for_same_key_when_read_then_error():
    error = data_error(
        read_quotas,
        lines("rep_id,measure,period,value", "ana,b,2026-10,1", "ana,b,2026-10,2"),
        "2026-10",
    )

    assert error.row == 3


def test_given_unknown_column_in_quotas_when_read_then_error_on_header():
    error = data_error(read_quotas, lines("rep_id,measure,period,value,note"), "2026-10")

    assert (error.row, error.file) == (1, "quotas.csv")
    assert "note" in error.message


def test_given_fx_rates_when_read_then_latest_on_or_before_a_date_is_found():
    table = read_fx(lines("date,currency,rate", "2026-10-18,GBP,1.17", "2026-10-01,GBP,1.15"))

    assert table.rate("GBP", date(2026, 9, 30)) is None
    assert table.rate("GBP", date(2026, 10, 1)) == (date(2026, 10, 1), D("1.15"))
    assert table.rate("GBP", date(2026, 10, 17)) == (date(2026, 10, 1), D("1.15"))
    assert table.rate("GBP", date(2026, 10, 18)) == (date(2026, 10, 18), D("1.17"))
    assert table.rate("USD", date(2026, 10, 18)) is None


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ("2026-10-01,GBP,0", "rate"),
        ("2026-10-01,GBP,-1.1", "rate"),
        ("2026-10-01,GBP,x", "rate"),
        ("2026-10-01,POUND,1.1", "currency"),
        ("1/10/2026,GBP,1.1", "date"),
    ],
)
def test_given_bad_fx_row_when_read_then_error_names_file_row_and_column(row: str, column: str):
    error = data_error(read_fx, lines("date,currency,rate", row))

    assert (error.file, error.row, error.column) == ("fx.csv", 2, column)


def test_given_assignments_when_read_then_open_ends_are_none():
    (a,) = read_assignments(lines("rep_id,plan_id,from,to", "ana,ae,2026-10-11,"), {"ana"})

    assert (a.rep_id, a.plan_id, a.start, a.end) == ("ana", "ae", date(2026, 10, 11), None)


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ("zed,ae,,", "rep_id"),
        ("ana,,,", "plan_id"),
        ("ana,ae,2026-10-20,2026-10-10", "to"),
        ("ana,ae,soon,", "from"),
    ],
)
def test_given_bad_assignment_row_when_read_then_error_names_file_row_and_column(
    row: str, column: str
):
    error = data_error(read_assignments, lines("rep_id,plan_id,from,to", row), {"ana"})

    assert (error.file, error.row, error.column) == ("assignments.csv", 2, column)


# --- a whole directory ---------------------------------------------------------------------


def _texts(overrides: dict[str, str | None] | None = None) -> dict[str, list[str] | None]:
    files: dict[str, str | None] = {
        "reps.csv": REPS,
        "transactions.csv": TX_HEADER + "\nt1,ana,deal,1,EUR,2026-10-03,won,\n",
        "quotas.csv": "rep_id,measure,period,value\nana,bookings,2026-10,5\n",
        "fx.csv": None,
        "assignments.csv": None,
    }
    files.update(overrides or {})
    return {
        name: None if text is None else text.splitlines(keepends=True)
        for name, text in files.items()
    }


def test_given_directory_texts_when_read_then_inputs_without_optional_files():
    inputs = read_directory_texts(_texts(), "2026-10")

    assert [r.id for r in inputs.reps] == ["ana", "ben"]
    assert [t.id for t in inputs.transactions] == ["t1"]
    assert inputs.quotas == {("ana", "bookings"): D("5")}
    assert inputs.assignments is None


def test_given_assignments_file_when_directory_read_then_assignments_present():
    inputs = read_directory_texts(
        _texts({"assignments.csv": "rep_id,plan_id,from,to\nana,p,,\n"}), "2026-10"
    )

    assert inputs.assignments is not None
    assert [a.rep_id for a in inputs.assignments] == ["ana"]


@pytest.mark.parametrize("name", ["reps.csv", "transactions.csv", "quotas.csv"])
def test_given_required_file_missing_when_directory_read_then_error_names_the_file(name: str):
    texts = _texts()
    texts[name] = None

    error = data_error(read_directory_texts, texts, "2026-10")

    assert error.file == name
    assert "missing" in error.message


def test_given_transaction_of_unknown_rep_when_directory_read_then_error_names_rep_id():
    texts = _texts({"transactions.csv": TX_HEADER + "\nt1,zed,deal,1,EUR,2026-10-03,won,\n"})

    error = data_error(read_directory_texts, texts, "2026-10")

    assert (error.file, error.row, error.column) == ("transactions.csv", 2, "rep_id")
