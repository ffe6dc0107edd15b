"""Emoji in a badge's name or description, and in the rep's name, on its PDF certificate,
parsed back with pypdf: drawn by an emoji font when the machine has one (Debian's
fonts-noto-color-emoji, in the Docker image and CI; found without PODIUM_PDF_FONTS too), and
otherwise replaced, each emoji by one U+FFFD, visibly and the same way everywhere on the page,
never left out without a trace (before, "🏆 Top closer 🚀" printed as " Top closer ")."""

from __future__ import annotations

import io
import os
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from domain.kit.pdf import system_fonts
from gamification.badges.certificates import REPLACEMENT, certificate_pdf
from tests.fonts import box_font

EMOJI_FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"


def text_of(**fields: object) -> str:
    args: dict[str, object] = {
        "recipient": "Ana Lima", "badge": "🏆 Top closer 🚀",
        "description": "Ten deals closed ✅ in a row 🔥", "period": "2026-10",
        "awarded_on": date(2026, 10, 31), "tenant": "Acme", "credential_id": "urn:uuid:x",
    }  # fmt: skip
    args.update(fields)
    pdf = certificate_pdf(**args)  # type: ignore[arg-type]
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_given_an_emoji_font_then_the_emoji_print_as_written(tmp_path: Path):
    font = box_font(tmp_path / "emoji.ttf", "🏆🚀✅🔥", family="Emoji Boxes")

    text = text_of(fonts=[str(font)])

    assert "🏆 Top closer 🚀" in text
    assert "Ten deals closed ✅ in a row 🔥" in text


def test_given_no_font_draws_them_then_each_emoji_is_one_visible_replacement():
    text = text_of(
        recipient="Ana 👩‍💻 Lima",  # a ZWJ sequence: one person at a laptop
        description="Ten deals 👍🏽 for 🇫🇷 ✅",  # a skin tone, a flag: one emoji each
        fonts=[],
    )

    assert f"{REPLACEMENT} Top closer {REPLACEMENT}" in text
    assert f"Ana {REPLACEMENT} Lima" in text
    assert f"Ten deals {REPLACEMENT} for {REPLACEMENT} {REPLACEMENT}" in text


def test_given_an_emoji_font_without_some_emoji_then_only_those_are_replaced(tmp_path: Path):
    font = box_font(tmp_path / "emoji.ttf", "🏆", family="Emoji Boxes")

    text = text_of(fonts=[str(font)])

    assert f"🏆 Top closer {REPLACEMENT}" in text


@pytest.mark.skipif(
    not os.path.isfile(EMOJI_FONT) and not os.environ.get("CI"),
    reason="Debian's fonts-noto-color-emoji is not installed (CI and the Docker image have it)",
)
def test_given_debians_emoji_font_then_found_and_drawn_without_a_setting():
    assert EMOJI_FONT in system_fonts()

    text = text_of(description="Ten deals ✅ 🇫🇷 👍🏽 🫡", fonts=list(system_fonts()))

    assert "🏆 Top closer 🚀" in text
    assert "Ten deals ✅ 🇫🇷 👍🏽 🫡" in text
    assert REPLACEMENT not in text
