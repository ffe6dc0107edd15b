"""PDFs print every script Podium's languages need, with fonts that ship with the code: a
certificate for a Hindi name, a German one and a Russian one, read back with pypdf."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from domain.kit import pdf as pdf_module
from domain.kit.pdf import FONTS, SANS, FontError, check_font, fallback_font_files, new_pdf
from gamification.badges.certificates import certificate_pdf
from tests.fonts import YAMADA_TARO, box_font


def _text(data: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _fonts(data: bytes) -> set[str]:
    found: set[str] = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            found.add(str(font.get_object()["/BaseFont"]))
    return found


def test_the_fonts_ship_with_the_code() -> None:
    assert {p.name for p in FONTS.glob("*.ttf")} == {
        "DejaVuSans.ttf",
        "DejaVuSans-Bold.ttf",
        "NotoSansDevanagari-Regular.ttf",
        "NotoSansDevanagari-Bold.ttf",
    }


def test_names_in_devanagari_latin_and_cyrillic_print_as_written() -> None:
    for name in ("अनन्या शर्मा", "Jürgen Weiß", "Анна Иванова"):
        data = certificate_pdf(
            recipient=name,
            badge="Quota crusher",
            description="",
            period="2026-10",
            awarded_on=date(2026, 11, 2),
            tenant="Acme",
            credential_id="urn:uuid:0",
        )
        text = _text(data)
        assert name in text, (name, text)
        assert "Quota crusher" in text


def test_hindi_falls_back_to_the_devanagari_font_and_is_shaped() -> None:
    pdf = new_pdf()
    pdf.add_page()
    pdf.cell(0, 10, "कुल कमीशन: ₹1,23,456.78")  # a conjunct and a vowel sign drawn before
    data = bytes(pdf.output())
    assert any("NotoSansDevanagari" in f for f in _fonts(data))
    assert any("DejaVuSans" in f for f in _fonts(data))
    # pypdf puts a space where a shaped cluster's advance leaves a gap it reads as one
    # (the page itself shows "कुल कमीशन" as written): compare without spaces
    assert "कुलकमीशन:₹1,23,456.78" in _text(data).replace(" ", "")


def test_a_line_after_one_that_starts_in_hindi_keeps_its_font() -> None:
    # fpdf2 sets the page's font inside the first line (it starts in the fallback font), which
    # it wraps in q ... Q; without new_pdf's fix the number after it had no font and read
    # back as glyph ids
    pdf = new_pdf()
    pdf.add_page()
    pdf.set_font(SANS, "B", 18)
    pdf.cell(0, 12, "क्रेडिट नोट", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(SANS, "", 10)
    pdf.cell(50, 6, "संख्या")
    pdf.cell(0, 6, "2026-000002 Acme", new_x="LMARGIN", new_y="NEXT")
    text = _text(bytes(pdf.output()))
    assert "संख्या 2026-000002 Acme" in text, text


def test_fpdf_is_imported_with_the_first_pdf_not_with_the_modules_that_make_them() -> None:
    """fpdf2, fontTools and Pillow cost a process about 0.4 s of CPU to import: a close, the
    API and the workers import the statement and invoice services but make PDFs rarely."""
    probe = (
        "import sys\n"
        "import api.cli_close, domain.earnings.close, payments.statements.service\n"
        "import payments.invoices.service, gamification.badges.certificates\n"
        "assert 'fpdf' not in sys.modules, 'imported early'\n"
        "from domain.kit.pdf import new_pdf\n"
        "new_pdf()\n"
        "assert 'fpdf' in sys.modules\n"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


# ---------------------------------------------------------------- fallback font files


def _box_font(tmp_path: Path, characters: str = YAMADA_TARO) -> str:
    return str(box_font(tmp_path / "boxes.ttf", characters))


def _page(text: str, *, fallback_fonts: tuple[str, ...] = (), style: str = "") -> bytes:
    pdf = new_pdf(fallback_fonts=fallback_fonts, texts=[text])
    pdf.add_page()
    pdf.set_font(SANS, style, 12)
    pdf.cell(0, 10, text)
    return bytes(pdf.output())


def test_a_fallback_font_file_draws_what_the_shipped_fonts_do_not(tmp_path: Path) -> None:
    font = _box_font(tmp_path)

    without = _page(f"{YAMADA_TARO} (ann)")
    drawn = _page(f"{YAMADA_TARO} (ann)", fallback_fonts=(font,))

    assert YAMADA_TARO not in _text(without)  # fpdf2 drops them without a word
    assert f"{YAMADA_TARO} (ann)" in _text(drawn)
    assert any("PodiumBoxes" in f for f in _fonts(drawn))
    # bold text in a fallback file without a bold face: drawn in its regular one
    assert YAMADA_TARO in _text(_page(YAMADA_TARO, fallback_fonts=(font,), style="B"))


def test_a_certificate_draws_a_name_in_bold_from_a_fallback_file_without_bold(
    tmp_path: Path,
) -> None:
    data = certificate_pdf(
        recipient=YAMADA_TARO, badge="Quota crusher", description="", period="2026-10",
        awarded_on=date(2026, 11, 2), tenant="Acme", credential_id="urn:uuid:0",
        fonts=(_box_font(tmp_path),),
    )  # fmt: skip

    assert YAMADA_TARO in _text(data)


def test_fallback_files_are_added_only_to_a_pdf_whose_texts_need_them(tmp_path: Path) -> None:
    # fpdf2 parses and embeds every font added, used or not: a CJK font costs a PDF 0.6 s
    font = _box_font(tmp_path)

    latin = new_pdf(fallback_fonts=(font,), texts=["Ann Smith", "Deal 1"])
    hindi = new_pdf(fallback_fonts=(font,), texts=["कुल"])
    japanese = new_pdf(fallback_fonts=(font,), texts=["Ann", YAMADA_TARO])

    assert [len(pdf.fonts) for pdf in (latin, hindi, japanese)] == [4, 4, 5]
    assert "PodiumBoxes" not in _embedded(_page("Ann Smith 1,234.00", fallback_fonts=(font,)))
    assert "PodiumBoxes" in _embedded(_page(f"{YAMADA_TARO} Ann", fallback_fonts=(font,)))


def _embedded(data: bytes) -> set[str]:
    return {m.decode() for m in re.findall(rb"/BaseFont /MPDFAA\+(\w+)", data)}


def test_a_fallback_file_fpdf2_cannot_load_is_left_out_with_one_error_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # checked when the settings were read, gone since (PODIUM_PDF_FONTS is checked at start)
    gone = str(tmp_path / "gone.ttf")
    font = _box_font(tmp_path)

    with caplog.at_level("ERROR", logger="domain.kit.pdf"):
        first = _page(f"{YAMADA_TARO} Ann", fallback_fonts=(gone, font))
        _page("Ann", fallback_fonts=(gone, font))

    assert f"{YAMADA_TARO} Ann" in _text(first)  # the files after it still draw
    (error,) = caplog.records
    assert error.getMessage().startswith(f"PODIUM_PDF_FONTS: fpdf2 cannot load {gone} (")


def test_the_setting_names_font_files_checked_without_parsing_them(tmp_path: Path) -> None:
    font, other = _box_font(tmp_path), str(box_font(tmp_path / "other.ttf", "가"))

    assert fallback_font_files(f" {font}{os.pathsep}{other}{os.pathsep}{font}") == (font, other)
    check_font(font)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("missing.ttf", None, "no such file"),
        ("folder.ttf", "dir", "not a file"),
        ("notes.txt", b"hello", "not a font file fpdf2 loads (.ttf, .otf, .ttc"),
        ("text.ttf", b"not a font at all", "not a font fpdf2 can load: "),
        ("truncated.ttf", b"\x00\x01\x00\x00\x00\x09", "not a font fpdf2 can load: "),
    ],
)
def test_a_path_that_is_no_font_fpdf2_loads_is_refused_naming_it(
    tmp_path: Path, name: str, content: bytes | str | None, reason: str
) -> None:
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)

    with pytest.raises(FontError) as refused:
        fallback_font_files(str(path))

    message = str(refused.value)
    assert message.startswith(f"{path}: {reason}"), message
    assert "\n" not in message


def test_a_font_without_a_unicode_cmap_or_outlines_is_refused(tmp_path: Path) -> None:
    from fontTools.ttLib import TTFont

    font = TTFont(_box_font(tmp_path))
    del font["glyf"], font["loca"]
    font.save(tmp_path / "no-outlines.ttf")
    font = TTFont(_box_font(tmp_path))
    font["cmap"].tables = [_mac_roman_cmap()]  # no Unicode (nor Windows symbol) subtable
    font.save(tmp_path / "mac-cmap.ttf")

    with pytest.raises(FontError, match="no glyf or CFF"):
        check_font(str(tmp_path / "no-outlines.ttf"))
    with pytest.raises(FontError, match="no Unicode cmap"):
        check_font(str(tmp_path / "mac-cmap.ttf"))


def _mac_roman_cmap() -> Any:
    from fontTools.ttLib.tables._c_m_a_p import cmap_format_6

    table = cmap_format_6(6)
    table.platformID, table.platEncID, table.language = 1, 0, 0
    table.cmap = {0x20: "space"}
    return table


def test_without_the_setting_the_system_fonts_found_are_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cjk, droid = tmp_path / "NotoSansCJK-Regular.ttc", tmp_path / "DroidSansFallbackFull.ttf"
    thai = tmp_path / "NotoSansThai-Regular.ttf"
    monkeypatch.setattr(
        pdf_module, "SYSTEM_FONTS", ((str(cjk), str(droid)), (str(thai),), ("/nowhere.ttf",))
    )
    droid.write_bytes(b"")
    assert fallback_font_files("") == fallback_font_files(os.pathsep) == (str(droid),)
    cjk.write_bytes(b"")
    thai.write_bytes(b"")
    assert fallback_font_files(" ") == (str(cjk), str(thai))  # the first found of each line


def test_the_well_known_system_fonts_are_files_fpdf2_loads_where_installed() -> None:
    for path in (p for paths in pdf_module.SYSTEM_FONTS for p in paths):
        if os.path.isfile(path):  # on a machine with the package: checked, and fpdf2 loads it
            check_font(path)
            new_pdf(fallback_fonts=(path,), texts=[YAMADA_TARO])
            assert path not in pdf_module._unloadable
