"""Airtable specifics beyond the kit: the notification MAC checked against pyairtable's own verifier, records
read into snapshots with the documented field names, the webhook payload cursor (pages while `mightHaveMore`),
the modified-time poll without a webhook, outcome fields PATCHed alone, and the webhook refresh."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pyairtable.models.webhook import WebhookNotification

from connectors.airtable.client import AirtableClient
from connectors.airtable.outcomes import AirtableOutcomes
from connectors.airtable.source import AirtableSource
from connectors.contract import SignatureError
from tests.connectors.cases_airtable import BASE, TABLE, WEBHOOK, airtable_request, make
from tests.fakes.airtable_fake import MAC_SECRET, AirtableFake

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def fields(status: str = "Booked", start: str = "2026-12-04T15:00:00.000Z") -> dict[str, object]:
    return {"Start": start, "End": start.replace("15:00", "15:30"), "Status": status, "Contact ID": "recContact1",
            "Email": "pat@example.com", "Name": "Pat Doe", "Phone": "+15555550100", "Type": "consult",
            "Outcome": ""}


@pytest.fixture
def fake() -> Iterator[AirtableFake]:
    with AirtableFake(BASE, TABLE, WEBHOOK) as server:
        server.put("recAppt000000001", fields(), NOW - timedelta(hours=2), created=True)
        server.put("recAppt000000002", fields(start="2026-12-05T15:00:00.000Z"), NOW - timedelta(hours=2),
                   created=True)
        yield server  # type: ignore[misc]


def client(fake: AirtableFake) -> AirtableClient:
    return AirtableClient("pat-test", base_url=fake.base_url)


def test_the_fakes_ping_passes_pyairtables_verifier_and_ours() -> None:
    with AirtableFake(BASE, TABLE, WEBHOOK) as server:
        body, mac = server.notification()
    notification = WebhookNotification.from_request(body.decode(), mac, MAC_SECRET)
    assert notification.webhook.id == WEBHOOK
    request = airtable_request(body, NOW)
    assert request.headers["x-airtable-content-mac"] == mac
    make().verify(request, NOW)
    assert make().parse(request).sync_sources == ["airtable"]


def test_the_mac_prefix_case_does_not_matter_but_the_digest_does() -> None:
    body = b'{"base":{"id":"app00000000000000"},"webhook":{"id":"ach00000000000000"},"timestamp":"x"}'
    request = airtable_request(body, NOW)
    mac = request.headers["x-airtable-content-mac"]
    make().verify(request.model_copy(update={"headers": {"x-airtable-content-mac": mac.upper()}}), NOW)
    with pytest.raises(SignatureError):
        make().verify(request.model_copy(update={"headers": {"x-airtable-content-mac": mac[12:]}}), NOW)


def test_records_become_snapshots_with_the_record_id_and_an_opaque_contact(fake: AirtableFake) -> None:
    page = AirtableSource(client(fake), BASE, TABLE).poll(None, NOW)
    first = page.snapshots[0]
    assert first.appointment.appointment_id == "recAppt000000001" and first.status == "active"
    assert first.appointment.start == datetime(2026, 12, 4, 15, tzinfo=UTC)
    assert first.appointment.contact.contact_id == "airtable:recContact1"
    (call, *_) = fake.calls("GET", f"/v0/{BASE}/{TABLE}")
    assert call.query["filterByFormula"] == "IS_AFTER(LAST_MODIFIED_TIME(), '2026-12-02T11:59:00.000Z')"


def test_the_payload_cursor_reads_only_changed_records_across_pages(fake: AirtableFake) -> None:
    source = AirtableSource(client(fake), BASE, TABLE, webhook_id=WEBHOOK)
    baseline = source.poll(None, NOW)
    assert len(baseline.snapshots) == 2 and baseline.cursor == "3"  # every record; cursor past both payloads
    fake.put("recAppt000000002", fields(status="No-Show", start="2026-12-05T15:00:00.000Z"), NOW)
    fake.put("recAppt000000001", fields(status="Cancelled"), NOW)
    fake.put("recAppt000000002", fields(status="No-Show", start="2026-12-05T15:00:00.000Z"), NOW)
    before = len(fake.calls("GET", "/payloads"))
    page = source.poll(baseline.cursor, NOW)
    assert len(fake.calls("GET", "/payloads")) - before == 2  # page_size 2: mightHaveMore asked for a second
    assert [(s.appointment.appointment_id, s.status) for s in page.snapshots] == [
        ("recAppt000000002", "no_show"), ("recAppt000000001", "cancelled")]
    assert page.cursor == "6"
    assert source.poll(page.cursor, NOW).snapshots == []


def test_outcome_fields_are_patched_alone_onto_the_record(fake: AirtableFake) -> None:
    out = AirtableOutcomes(client(fake), BASE, TABLE, {"outcome": "Outcome"})
    out.write_fields("airtable:recContact1", "recAppt000000001", {"outcome": "no_show"}, "k1")
    (call,) = fake.calls("PATCH")
    assert call.json() == {"records": [{"id": "recAppt000000001", "fields": {"Outcome": "no_show"}}]}
    assert fake.records["recAppt000000001"]["fields"]["Status"] == "Booked"
    out.write_fields("calcom:9", "12345", {"outcome": "no_show"}, "k2")  # not an Airtable record
    assert len(fake.calls("PATCH")) == 1


def test_an_outcome_field_onto_an_appointment_field_is_refused() -> None:
    with pytest.raises(ValueError, match="appointment column"):
        AirtableOutcomes(AirtableClient("t"), BASE, TABLE, {"outcome": "Status"})


def test_writes_are_split_into_requests_of_at_most_ten_records(fake: AirtableFake) -> None:
    for i in range(12):
        fake.put(f"recBulk{i:09d}", {"Outcome": ""}, NOW)
    client(fake).update(BASE, TABLE, [(f"recBulk{i:09d}", {"Outcome": "x"}) for i in range(12)])
    assert [len(c.json()["records"]) for c in fake.calls("PATCH")] == [10, 2]


def test_the_webhook_refresh_extends_its_expiry(fake: AirtableFake) -> None:
    assert client(fake).refresh_webhook(BASE, WEBHOOK) == "2026-12-17T00:00:00.000Z"
    (call,) = fake.calls("POST", f"/v0/bases/{BASE}/webhooks/{WEBHOOK}/refresh")
    assert call.headers["authorization"] == "Bearer pat-test"


def test_the_push_schedule_refreshes_the_webhook_before_it_expires(fake: AirtableFake, tmp_path: Path) -> None:
    from activities.reconcile import PushActivities
    from connectors.airtable.webhooks import AirtableWebhookKeeper
    from connectors.local.db import LocalDb
    from domain.reconcile import PushInput
    from tests.helpers import settings_from
    from workers.providers.sources import push_activities

    settings = settings_from({"NOSHOW_AIRTABLE_TOKEN": "pat-test", "NOSHOW_AIRTABLE_BASE_ID": BASE,
                              "NOSHOW_AIRTABLE_TABLE": TABLE, "NOSHOW_AIRTABLE_WEBHOOK_ID": WEBHOOK,
                              "NOSHOW_AIRTABLE_BASE_URL": fake.base_url})
    wired = push_activities(settings, LocalDb(tmp_path / "push.db"))
    assert wired.providers == ["airtable"]
    report = wired.renew_push_channels(PushInput(provider="airtable"))
    assert report.renewed[0].expires_at == datetime(2026, 12, 17, tzinfo=UTC)
    keeper = AirtableWebhookKeeper(client(fake), BASE, WEBHOOK)
    again = PushActivities(renewals={"airtable": keeper.maintain}).renew_push_channels(PushInput(provider="airtable"))
    assert again.renewed[0].expires_at == datetime(2026, 12, 24, tzinfo=UTC)
    assert len(fake.calls("POST", "/refresh")) == 2
