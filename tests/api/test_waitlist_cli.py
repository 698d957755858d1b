"""`noshow waitlist` and `noshow reply` refuse what cannot work with a clear message, before calling the API."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from workers.cli.main import app
from workers.settings import get_settings

runner = CliRunner()


def test_answering_a_waitlist_offer_needs_the_sender() -> None:
    result = runner.invoke(app, ["reply", "backfill-0123abcd", "yes"])
    assert result.exit_code == 2
    assert "--from" in result.output and "Traceback" not in result.output


def test_a_waitlisted_contact_needs_a_way_to_be_reached() -> None:
    result = runner.invoke(app, ["waitlist", "add", "c-1", "--type", "consultation", "--calendar", "cal-1"])
    assert result.exit_code == 2
    assert "--phone or --email" in result.output


def test_without_a_running_api_the_cli_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOSHOW_API_PORT", "1")  # nothing listens on port 1
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["waitlist", "list", "--type", "consultation", "--calendar", "cal-1"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1  # refused: nothing to talk to (2 is for usage errors)
    assert "cannot reach the API" in result.output
