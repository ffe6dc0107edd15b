"""`podium ... --help` reads as plain text: values named by their option (no `<bool>`,
`<str>` or `{path}`), paragraphs wrapped by words, whole summaries on a wide terminal."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from api.cli import cli
from tests.api.cli_runner import podium


def help_of(root, path: tuple[str, ...]) -> str:  # noqa: ANN001 - a click group
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        root.main(args=[*path, "--help"], prog_name="podium", standalone_mode=False)
    return out.getvalue()


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")


def commands(group, prefix=()):  # noqa: ANN001, ANN201 - click objects
    for name, command in getattr(group, "commands", {}).items():
        yield (*prefix, name)
        yield from commands(command, (*prefix, name))


def test_given_every_command_when_help_is_asked_then_plain_names_and_no_python_types():
    root = cli()
    every = list(commands(root))

    helps = {path: help_of(root, path) for path in every}

    assert ("import", "reps") in every
    assert ("discard-dead-letters",) in every
    for path, text in helps.items():
        assert text.startswith("Usage: podium"), (path, text)
        assert not re.search(r"<\w[\w\[\], |]*>|\{\w+\}", text), (path, text)
    assert "--tenant TENANT" in helps[("import", "reps")]
    assert "Usage: podium import reps [OPTIONS] FILE" in helps[("import", "reps")]
    assert "--list  " in helps[("replay-dead-letters",)]  # a flag takes no value


def test_given_a_wide_terminal_when_listing_commands_then_summaries_are_whole():
    text = help_of(cli(), ())

    lines = [line for line in text.splitlines() if line.startswith("  ")]
    assert any(line.split()[0] == "people" for line in lines)
    assert not [line for line in lines if line.rstrip().endswith("...")], text


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("close", "--tenant", "acme", "--period", "2026-10", "--chunk-size", "0"),
         ("'--chunk-size'", "greater than or equal to 1", "'podium close --help'")),
        (("close", "--tenant", "acme", "--period", "2026-10", "--chunk-size", "many"),
         ("'--chunk-size'", "valid integer")),
        (("close", "--period", "2026-10"), ("Missing option '--tenant'",)),
        (("import", "reps"), ("Missing argument 'FILE'", "'podium import reps --help'")),
        (("tenant", "create", "--slug", "acme", "--colour", "red"), ("No such option: --colour",)),
        (("--verbose",), ("No such option: --verbose", "'podium --help'")),
        (("no-such-command",), ("No such command 'no-such-command'",)),
    ],
)  # fmt: skip
async def test_given_a_command_line_click_refuses_when_run_then_one_line_naming_it(
    args: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    ran = await podium(None, *args)

    ran.one_line_error(*fragments)


async def test_given_a_group_without_a_command_when_run_then_its_help() -> None:
    ran = await podium(None, "tenant")

    assert ran.returncode == 2
    assert ran.stderr.startswith("Usage: podium tenant [OPTIONS] COMMAND"), ran.stderr
