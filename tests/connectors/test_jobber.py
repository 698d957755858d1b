"""Jobber specifics beyond the kit: the signature over the raw bytes only (base64, not hex; never a
re-serialisation), visits read through GraphQL with the version header and Relay pages, LATE visits read as
missed, throttling retryable with the cost budget's wait, the rotating refresh token kept across replicas, the
"manual override" (offered times noted on the job, the visit moved) and the webhook route's wiring."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.contract import PermanentProviderError, RawRequest, RetryableProviderError, SignatureError
from connectors.jobber.client import JobberClient
from connectors.jobber.reschedule import JobberReschedule
from connectors.jobber.source import JobberSource
from connectors.local.db import LocalDb
from connectors.local.oauth_tokens import SqlTokenStore, TokenCipher
from connectors.oauth import MemoryTokenStore, RefreshTokenGrant, TokenManager, TokenStore
from connectors.signatures import hmac_sha256_hex
from domain.models import Slot
from tests.connectors.cases_jobber import SECRET, jobber_request, make
from tests.connectors.kit import fixture_bytes
from tests.fakes.jobber_fake import FakeJobber, jobber_webhook
from tests.helpers import settings_from

NOW = datetime(2026, 1, 6, 15, 30, tzinfo=UTC)


def _manager(fake: FakeJobber, store: TokenStore) -> TokenManager:
    return TokenManager("jobber", fake.client_id, fake.base_url + "/api/oauth/token",
                        RefreshTokenGrant(fake.client_id, fake.client_secret, "jobber-refresh"), store)


def _client(fake: FakeJobber) -> JobberClient:
    return JobberClient(_manager(fake, MemoryTokenStore()), api_url=fake.base_url + "/api/graphql")


def test_the_hex_digest_or_a_reserialised_body_is_refused() -> None:
    body = fixture_bytes("jobber", "visit_complete.json")
    hex_signed = RawRequest(method="POST", url="https://example.com/webhooks/jobber", body=body,
                            headers={"x-jobber-hmac-sha256": hmac_sha256_hex(SECRET, body)})
    with pytest.raises(SignatureError):
        make().verify(hex_signed, NOW)
    signed = jobber_request(body, NOW)
    respaced = signed.model_copy(update={"body": json.dumps(json.loads(body)).encode()})  # same JSON, other bytes
    with pytest.raises(SignatureError):
        make().verify(respaced, NOW)
    make().verify(signed, NOW)


def test_an_authentic_body_without_an_event_is_a_payload_error() -> None:
    from connectors.inbound import PayloadError
    for body in (b"{not json", b'{"data": {}}', b'{"data": {"webHookEvent": {"topic": "VISIT_UPDATE"}}}'):
        request = jobber_request(body, NOW)
        make().verify(request, NOW)
        with pytest.raises(PayloadError):
            make().parse(request)


def test_visits_are_read_with_the_version_header_across_pages_and_late_ones_are_missed() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    with FakeJobber(page_size=2) as fake:
        dana = fake.add_client("Dana Smith", "dana@example.com", "+15555550123")
        late = fake.add_visit(dana, now - timedelta(hours=3), now - timedelta(hours=2), status="LATE")
        done = fake.add_visit(dana, now - timedelta(hours=6), now - timedelta(hours=5), complete=True)
        upcoming = fake.add_visit(dana, now + timedelta(days=1), now + timedelta(days=1, hours=1))
        fake.add_visit(dana, now + timedelta(days=90), now + timedelta(days=90, hours=1))  # outside the window
        client = JobberClient(_manager(fake, MemoryTokenStore()), api_url=fake.base_url + "/api/graphql",
                              version="2025-01-20")
        page = JobberSource(client).poll(None, now)
        assert {s.appointment.appointment_id: s.status for s in page.snapshots} == {
            late: "no_show", done: "attended", upcoming: "active"}
        missed = next(s.appointment for s in page.snapshots if s.status == "no_show")
        assert missed.contact.contact_id == "jobber:" + dana.rstrip("=")  # Jobber's encoded id, URL-safe
        assert (missed.contact.name, missed.contact.email, missed.contact.phone) == (
            "Dana Smith", "dana@example.com", "+15555550123")
        assert missed.start == now - timedelta(hours=3) and missed.appointment_type == "jobber_visit"
        calls = fake.calls("POST", "/api/graphql")
        assert len(calls) == 2  # two Relay pages
        assert all(c.headers["x-jobber-graphql-version"] == "2025-01-20" for c in calls)
        assert all(c.headers["content-type"].startswith("application/json") for c in calls)
        first, second = (c.json() for c in calls)
        assert first["operationName"] == "NoshowVisits" and first["variables"]["cursor"] is None
        assert second["variables"]["cursor"] == "2"
        assert first["variables"]["after"] == (now - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert page.cursor == now.isoformat()


def test_throttling_is_retryable_after_the_budget_refills_and_other_errors_are_permanent() -> None:
    with FakeJobber() as fake:
        client = _client(fake)
        fake.throttle_next()
        with pytest.raises(RetryableProviderError) as throttled:
            client.account()
        assert throttled.value.retry_after == pytest.approx((1200 - 200) / 500)
        with pytest.raises(PermanentProviderError) as refused:
            client.graphql("NoSuchOperation", "query NoSuchOperation { nothing }")
        assert refused.value.code == "undefinedField"
        assert client.account()["id"]


def test_the_rotated_refresh_token_is_kept_and_a_second_replica_refreshes_with_it(tmp_path: Path) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    db = LocalDb(tmp_path / "local.db")
    with FakeJobber() as fake:
        first = _manager(fake, SqlTokenStore(db, TokenCipher.from_setting(f"k1:{key}")))
        second = _manager(fake, SqlTokenStore(db, TokenCipher.from_setting(f"k1:{key}")))
        assert first() == "jobber-access-1"
        assert "jobber-refresh" not in fake.valid_refresh  # spent at once, as Jobber does
        assert second() == "jobber-access-1"  # read from the shared store, no second refresh
        first.invalidate()  # a 401 on one replica: it refreshes with the rotated token, not the spent seed
        second._cached = None
        assert second() == "jobber-access-2"
        grants = [c.form() for c in fake.calls("POST", "/api/oauth/token")]
        assert grants[0]["refresh_token"] == "jobber-refresh"
        assert grants[1]["refresh_token"] != "jobber-refresh" and len(grants) == 2
        assert all(g["grant_type"] == "refresh_token" and g["client_secret"] == fake.client_secret for g in grants)


def test_a_revoked_access_token_is_refreshed_once_on_a_401() -> None:
    with FakeJobber() as fake:
        client = _client(fake)
        client.account()
        fake.issued.clear()
        assert client.account()["id"]
        assert len(fake.calls("POST", "/api/oauth/token")) == 2
        static = JobberClient("not-issued", api_url=fake.base_url + "/api/graphql")
        with pytest.raises(PermanentProviderError) as info:
            static.account()
        assert info.value.code == "unauthorized"


def test_the_manual_override_notes_the_offered_times_and_moves_the_visit() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    with FakeJobber() as fake:
        dana = fake.add_client("Dana Smith", "dana@example.com", "+15555550123")
        visit = fake.add_visit(dana, now - timedelta(hours=3), now - timedelta(hours=2), status="LATE")
        job = fake.visits[visit]["job"]
        client = _client(fake)
        override = JobberReschedule(client)
        slots = [Slot(start=now + timedelta(days=d), end=now + timedelta(days=d, hours=1), calendar_id="crew")
                 for d in (1, 2)]
        override.suggest(visit, slots)
        [offered] = fake.notes[job]
        assert all(s.start.strftime("%Y-%m-%dT%H:%M:%SZ") in offered for s in slots) and "Dana" not in offered
        override.reschedule(visit, slots[1].start, slots[1].end)
        moved = fake.visits[visit]
        assert (moved["startAt"], moved["endAt"]) == (slots[1].start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                                      slots[1].end.strftime("%Y-%m-%dT%H:%M:%SZ"))
        edit = next(c.json() for c in fake.calls("POST", "/api/graphql")
                    if c.json()["operationName"] == "NoshowVisitEditSchedule")
        start, end = ({"date": at.date().isoformat(), "time": at.strftime("%H:%M:%S"), "timezone": "UTC"}
                      for at in (slots[1].start, slots[1].end))
        assert edit["variables"] == {"id": visit, "input": {"startAt": start, "endAt": end}}
        assert len(fake.notes[job]) == 2
        with pytest.raises(PermanentProviderError) as info:  # userErrors
            client.edit_schedule(visit, slots[0].end, slots[0].start)
        assert info.value.code == "user_errors"


def test_the_route_opens_with_the_client_secret_and_a_visit_change_asks_for_the_poll() -> None:
    from workers.providers.inbound import inbound_connectors
    from workers.providers.sources import reconcile_checks

    off = settings_from({})
    assert "jobber" not in inbound_connectors(off)[0]
    ready = settings_from({"jobber_client_id": "jobber-client", "jobber_client_secret": SECRET,
                           "jobber_refresh_token": "jobber-refresh"})
    route = inbound_connectors(ready)[0]["jobber"]
    body, headers = jobber_webhook(SECRET, "VISIT_UPDATE", "Z2lkOi8vSm9iYmVyL1Zpc2l0LzE=")
    request = RawRequest(method="POST", url="https://example.com/webhooks/jobber", body=body, headers=headers)
    route.verify(request, NOW)
    assert route.parse(request).sync_sources == ["jobber"]
    [check] = [c for c in reconcile_checks(ready) if c.name == "jobber"]
    assert check.status == "ok"
    [missing] = [c for c in reconcile_checks(settings_from({"jobber_refresh_token": "r"})) if c.name == "jobber"]
    assert missing.status == "error" and "NOSHOW_JOBBER_CLIENT_ID" in missing.detail


def test_contact_ids_give_back_the_jobber_client_id_even_with_base64_punctuation() -> None:
    from connectors.jobber.source import contact_id, jobber_client_id

    for raw in ("Z2lkOi8vSm9iYmVyL0NsaWVudC8xMDA=", "ab+/cd==", "Z2lkOi8vSm9iYmVyL0NsaWVudC8xMjM0NQ=="):
        made = contact_id("jobber", raw)
        assert "=" not in made and "/" not in made and "+" not in made
        assert jobber_client_id(made) == raw
    assert jobber_client_id("pipedrive:77") is None


def test_crm_notes_go_on_the_client_once_even_after_an_unanswered_attempt(tmp_path: Path) -> None:
    from connectors.contract import AmbiguousSendError
    from connectors.crm_fields import UNKNOWN_CONTACT
    from connectors.jobber.crm import JobberCrm
    from connectors.jobber.source import contact_id
    from connectors.local.remote_creates import CreateLog, marker

    with FakeJobber() as fake:
        dana = fake.add_client("Dana Smith", "dana@example.com", "+15555550123")
        crm = JobberCrm(_client(fake), CreateLog(LocalDb(tmp_path / "local.db"), "jobber"))
        crm.append_note(contact_id("jobber", dana), "Missed visit: rebooked", "case-1:note:1")
        crm.append_note(contact_id("jobber", dana), "Missed visit: rebooked", "case-1:note:1")  # a retry
        assert len(fake.client_notes[dana]) == 1 and "(ref nsk" in fake.client_notes[dana][0]["message"]
        fake.reset_next()  # the answer to the create is lost
        with pytest.raises(AmbiguousSendError):
            crm.append_note(contact_id("jobber", dana), "Offered two times", "case-1:note:2")
        # ... but Jobber had made the note: the retry finds its marker and creates nothing
        fake.client_notes[dana].append({"id": "made-by-the-lost-call",
                                        "message": f"Offered two times (ref {marker('case-1:note:2')})"})
        crm.append_note(contact_id("jobber", dana), "Offered two times", "case-1:note:2")
        assert [n["id"] for n in fake.client_notes[dana]][1:] == ["made-by-the-lost-call"]
        fake.reset_next()
        with pytest.raises(AmbiguousSendError):
            crm.append_note(contact_id("jobber", dana), "Booked", "case-1:note:3")
        crm.append_note(contact_id("jobber", dana), "Booked", "case-1:note:3")  # not made: made now, once
        assert [n["message"].split(" (ref")[0] for n in fake.client_notes[dana]][2:] == ["Booked"]
        with pytest.raises(PermanentProviderError) as info:
            crm.append_note("pipedrive:77", "not ours", "case-2:note:1")
        assert info.value.code == UNKNOWN_CONTACT


def test_jobber_as_the_crm_is_checked_and_built() -> None:
    from workers.providers.writeback import writeback_checks

    ready = settings_from({"crm_provider": "jobber", "jobber_client_id": "jobber-client",
                           "jobber_client_secret": SECRET, "jobber_refresh_token": "jobber-refresh"})
    [crm] = [c for c in writeback_checks(ready) if c.name == "crm"]
    assert crm.status == "ok" and "Jobber" in crm.detail
    [crm] = [c for c in writeback_checks(settings_from({"crm_provider": "jobber"})) if c.name == "crm"]
    assert crm.status == "error" and "NOSHOW_JOBBER_REFRESH_TOKEN" in crm.detail


def test_the_live_probe_reads_the_account() -> None:
    from workers.providers.live import live_checks

    with FakeJobber(refresh_token="probe-refresh") as fake:
        env = {"jobber_client_id": fake.client_id, "jobber_client_secret": fake.client_secret,
               "jobber_refresh_token": "probe-refresh", "jobber_token_url": fake.base_url + "/api/oauth/token",
               "jobber_api_url": fake.base_url + "/api/graphql"}
        [check] = [c for c in live_checks(settings_from(env)) if c.name == "jobber"]
        assert check.status == "ok", check
        assert [c.json()["operationName"] for c in fake.calls("POST", "/api/graphql")] == ["NoshowAccount"]
