"""Google Sheets: the documented header row (case and spacing variants), rows read with `values.get`, changes
found by row digests stored per generation (the cursor), outcomes written with `values.batchUpdate` into the
mapped columns only, and the Drive push ping that asks for a sync."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.contract import PermanentProviderError, RawRequest, SignatureError
from connectors.local.db import LocalDb
from connectors.local.row_hashes import RowHashes
from connectors.sheets.client import SheetsClient
from connectors.sheets.inbound import SheetsDriveInbound
from connectors.sheets.outcomes import SheetsOutcomes
from connectors.sheets.rows import Header, HeaderError
from connectors.sheets.source import SheetsSource
from policies.schema import CrmRules
from tests.connectors.cases_sheets import SPREADSHEET
from tests.fakes.sheets_fake import SheetsFake

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
HEADER = ["Appointment ID", "Start", "End", "Timezone", "Status", "Contact ID", "Phone", "Email", "Name", "Type",
          "Outcome", "Recovery"]


def row(appointment: str, start: str, status: str = "booked", contact: str = "c1") -> list[str]:
    return [appointment, start, start.replace("10:00", "10:30"), "America/New_York", status, contact,
            "+15555550100", "pat@example.com", "Pat Doe", "consult", "", ""]


@pytest.fixture
def fake() -> Iterator[SheetsFake]:
    with SheetsFake() as server:
        server.put_sheet(SPREADSHEET, "Front desk", [HEADER, row("A-1", "2026-12-04 10:00"),
                                                     row("A-2", "2026-12-05 10:00", contact="")])
        yield server  # type: ignore[misc]


@pytest.fixture
def db(tmp_path: Path) -> LocalDb:
    return LocalDb(tmp_path / "sheets.db")


def source(fake: SheetsFake, db: LocalDb) -> SheetsSource:
    return SheetsSource(SheetsClient("sheets-token", base_url=fake.base_url), RowHashes(db), SPREADSHEET,
                        "'Front desk'!A:ZZ")


@pytest.mark.parametrize("title", ["appointment_id", "Appointment ID", " APPOINTMENT-ID ", "appointment  id"])
def test_header_variants_name_the_same_column(title: str) -> None:
    header = Header.read([title, "START", "end time".replace(" time", "")])
    assert header.positions == {"appointment_id": 0, "start": 1, "end": 2}


def test_a_header_without_the_required_columns_or_with_a_duplicate_is_refused() -> None:
    with pytest.raises(HeaderError, match="end"):
        Header.read(["appointment id", "start"])
    with pytest.raises(HeaderError, match="twice"):
        Header.read(["appointment id", "start", "end", "Start"])


def test_rows_are_read_with_values_get_and_their_times_in_the_row_timezone(fake: SheetsFake, db: LocalDb) -> None:
    page = source(fake, db).poll(None, NOW)
    (call,) = fake.calls("GET")
    assert call.path == f"/v4/spreadsheets/{SPREADSHEET}/values/'Front desk'!A:ZZ"
    assert call.query["valueRenderOption"] == "FORMATTED_VALUE"
    assert call.headers["authorization"] == "Bearer sheets-token"
    first, second = page.snapshots
    assert first.appointment.start == datetime(2026, 12, 4, 15, 0, tzinfo=UTC)  # 10:00 in New York
    assert first.appointment.end == datetime(2026, 12, 4, 15, 30, tzinfo=UTC)
    assert first.appointment.contact.contact_id == "sheets:c1" and first.status == "active"
    assert first.appointment.appointment_type == "consult"
    assert second.appointment.contact.contact_id.startswith("sheets:")  # no contact id: a keyed email hash
    assert "example" not in second.appointment.contact.contact_id


def test_the_cursor_finds_only_changed_rows_and_an_uncommitted_cursor_loses_nothing(fake: SheetsFake,
                                                                                   db: LocalDb) -> None:
    src = source(fake, db)
    baseline = src.poll(None, NOW)
    assert len(baseline.snapshots) == 2 and baseline.cursor
    assert src.poll(baseline.cursor, NOW).snapshots == []  # nothing changed
    fake.rows(SPREADSHEET, "Front desk")[1][4] = "No-Show"
    changed = src.poll(baseline.cursor, NOW)
    (snap,) = changed.snapshots
    assert snap.appointment.appointment_id == "A-1" and snap.status == "no_show"
    # the delivery failed, so the workflow never committed `changed.cursor`: the same change is found again
    assert [s.status for s in src.poll(baseline.cursor, NOW).snapshots] == ["no_show"]
    assert src.poll(changed.cursor, NOW).snapshots == []


def test_unknown_statuses_and_unreadable_times_are_skipped_not_guessed(fake: SheetsFake, db: LocalDb) -> None:
    rows = fake.rows(SPREADSHEET, "Front desk")
    rows[1][4] = "maybe later"
    rows[2][1] = "next Tuesday"
    assert source(fake, db).poll(None, NOW).snapshots == []


def test_outcomes_are_written_to_the_mapped_columns_only(fake: SheetsFake) -> None:
    out = SheetsOutcomes(SheetsClient("sheets-token", base_url=fake.base_url), SPREADSHEET, "Front desk",
                         {"outcome": "outcome", "recovery_status": "RECOVERY"})
    before = [list(r) for r in fake.rows(SPREADSHEET, "Front desk")]
    out.write_fields("sheets:c1", "A-2", {"outcome": "no_show", "recovery_status": "rebooked"}, "k1")
    (call,) = fake.calls("POST", ":batchUpdate")
    body = call.json()
    assert body["valueInputOption"] == "RAW"
    assert sorted(d["range"] for d in body["data"]) == ["'Front desk'!K3", "'Front desk'!L3"]
    after = fake.rows(SPREADSHEET, "Front desk")
    assert after[2][10:12] == ["no_show", "rebooked"]
    assert [r[:10] for r in after] == [r[:10] for r in before]  # appointment columns untouched
    assert out.read_fields("sheets:c1", "A-2") == {"outcome": "no_show", "recovery_status": "rebooked"}


def test_a_mapping_onto_an_appointment_column_is_refused_before_any_request(fake: SheetsFake) -> None:
    with pytest.raises(ValueError, match="appointment column"):
        SheetsOutcomes(SheetsClient("t", base_url=fake.base_url), SPREADSHEET, "Front desk", {"outcome": "Status"})
    assert fake.calls() == []


def test_protected_fields_are_refused_and_nothing_is_written(fake: SheetsFake) -> None:
    out = SheetsOutcomes(SheetsClient("sheets-token", base_url=fake.base_url), SPREADSHEET, "Front desk",
                         {"outcome": "Outcome"},
                         CrmRules(writable_fields=["recovery_status"], protected_fields=["outcome"]))
    with pytest.raises(PermanentProviderError, match="refusing"):
        out.write_fields("sheets:c1", "A-1", {"outcome": "no_show"}, "k2")
    assert fake.calls("POST") == []


def test_an_appointment_not_in_the_sheet_writes_nothing(fake: SheetsFake) -> None:
    out = SheetsOutcomes(SheetsClient("sheets-token", base_url=fake.base_url), SPREADSHEET, "Front desk",
                         {"outcome": "Outcome"})
    out.write_fields("calcom:9", "other-source-id", {"outcome": "no_show"}, "k3")
    assert fake.calls("POST") == []


def drive_ping(token: str, state: str = "update", number: str = "7") -> RawRequest:
    return RawRequest(method="POST", url="https://example.com/webhooks/sheets", body=b"",
                      headers={"x-goog-channel-id": "ch-1", "x-goog-channel-token": token,
                               "x-goog-resource-state": state, "x-goog-message-number": number})


def test_a_drive_ping_with_the_channel_token_asks_for_the_sheet_sync() -> None:
    inbound = SheetsDriveInbound("chan-secret")
    request = drive_ping("chan-secret")
    inbound.verify(request, NOW)
    assert inbound.parse(request).sync_sources == ["sheets"]
    assert inbound.parse(drive_ping("chan-secret", state="sync")).sync_sources == []
    with pytest.raises(SignatureError):
        inbound.verify(request, NOW)  # the same message number again: a replay


@pytest.mark.parametrize("token", ["", "chan-secreT", "chan-secret-and-more"])
def test_a_drive_ping_without_the_channel_token_is_refused(token: str) -> None:
    with pytest.raises(SignatureError):
        SheetsDriveInbound("chan-secret").verify(drive_ping(token), NOW)


def test_the_sheet_is_read_with_a_token_from_googles_token_manager(fake: SheetsFake, db: LocalDb) -> None:
    from tests.fakes.oauth_fake import FakeTokenEndpoint
    from tests.helpers import settings_from
    from workers.providers.sheets import sheets_client

    with FakeTokenEndpoint() as tokens:
        fake.tokens = {"access-1"}
        settings = settings_from({"NOSHOW_GOOGLE_CLIENT_ID": f"sheets-client-{id(fake)}",
                                  "NOSHOW_GOOGLE_CLIENT_SECRET": "sec", "NOSHOW_GOOGLE_REFRESH_TOKEN": "seed-refresh",
                                  "NOSHOW_GOOGLE_TOKEN_URL": f"{tokens.base_url}/token",
                                  "NOSHOW_SHEETS_BASE_URL": fake.base_url})
        client = sheets_client(settings)
        assert client.values(SPREADSHEET, "'Front desk'!A:ZZ")[0][0] == "Appointment ID"
        (grant,) = tokens.calls("POST", "/token")
        assert grant.form()["grant_type"] == "refresh_token" and grant.form()["refresh_token"] == "seed-refresh"
        assert fake.calls("GET")[0].headers["authorization"] == "Bearer access-1"
