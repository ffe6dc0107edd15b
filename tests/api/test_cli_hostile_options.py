"""Hostile command-line values: each is one line on stderr naming the option, exit status 2,
no traceback, nothing done. A close's helper jobs are bounded (100,000 once queued 100,000
jobs the real-time events waited behind), ports are ports, --url is a web address, text
values are plain text, a discard's reason is bounded as a payout return's is, and a -o path
that cannot be written is named."""

from __future__ import annotations

import pytest

from tests.api.cli_runner import podium
from tests.domain.builders import make_tenant
from workers.queue import MAX_CLOSE_HELPERS, JobQueue

SEND = ("send-event", "--tenant", "acme", "--rep", "ana", "--amount", "5")


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("close", "--tenant", "acme", "--period", "2026-10", "--workers", "100000"), "--workers"),
        (("serve", "--port", "99999"), "--port"),
        ((*SEND, "--url", "ftp://x"), "--url"),
        ((*SEND, "--url", "http://"), "--url"),
        ((*SEND, "--url", "http://127.0.0.1:99999"), "--url"),
        ((*SEND, "--state", "w\x01"), "--state"),
        ((*SEND, "--type", "deal\nwon"), "--type"),
        (
            (
                "mapping",
                "set",
                "--tenant",
                "acme",
                "--source",
                "salesforce",
                "--set",
                "transaction_object=a\x01b",
            ),
            "--set",
        ),  # fmt: skip
        (
            ("discard-dead-letters", "--tenant", "acme", "--id", "1", "--reason", "x" * 100_000),
            "--reason",
        ),  # fmt: skip
        (
            ("discard-dead-letters", "--tenant", "acme", "--id", "1", "--reason", " ab "),
            "--reason",
        ),  # fmt: skip
        (
            (
                "statements",
                "journal",
                "--tenant",
                "acme",
                "--period",
                "2026-10",
                "--company-code",
                "1000",
                "--expense-account",
                '=HYPERLINK("http://x")',
            ),
            "--expense-account",
        ),  # fmt: skip
    ],
)
async def test_given_a_hostile_option_then_one_line_naming_it_and_exit_2(
    args: tuple[str, ...], named: str
):
    ran = await podium(None, *args)

    line = ran.one_line_error(named)
    assert "\x01" not in line


async def test_given_more_close_helpers_than_the_bound_then_no_job_is_queued():
    class NoPool:
        async def enqueue_job(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("queued a job")

    with pytest.raises(ValueError, match="helpers"):
        await JobQueue(NoPool()).enqueue_close("t", 1, MAX_CLOSE_HELPERS + 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("where", ["/nonexistent/dir/x.csv", "/etc", "/proc/version"])
async def test_given_an_output_path_that_cannot_be_written_then_one_line_naming_o(
    db: str, where: str
):
    await make_tenant(slug="acme")

    for args in (
        ("targets", "export", "--tenant", "acme"),
        ("statements", "journal", "--tenant", "acme", "--period", "2026-10",
         "--company-code", "1000"),
    ):  # fmt: skip
        ran = await podium(db, *args, "-o", where)

        ran.one_line_error("-o", where)
