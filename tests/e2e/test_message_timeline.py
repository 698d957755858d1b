"""A provider's later news about a message a case sent (delivered, opened, a link clicked, undelivered) reaches
the contact's CRM timeline as one note per status, when the program asks for message notes: signed SendGrid
Event Webhook batches and Twilio status callbacks into the in-process API, a real Temporal dev server and
worker, the real SendGrid / Twilio / HubSpot clients talking to the fakes, the CRM read back from the store (the
embedded CRM) or the HubSpot fake."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
from temporalio.client import Client

from policies.schema import PolicyFile
from tests.e2e.provider_helpers import (
    ProviderStack,
    calcom_booking,
    calcom_headers,
    calcom_no_show,
    calendly_headers,
    calendly_invitee_created,
    calendly_invitee_uri,
    calendly_no_show,
    dumps,
    e2e_policy,
    hubspot_api_env,
    inbound_env,
    provider_stack,
    sendgrid_env,
    sendgrid_headers,
    slot_around_now,
    twilio_env,
    twilio_inbound,
    twilio_signed,
)
from tests.fakes.providers import FakeHubSpot
from tests.fakes.sendgrid_fake import SendGridFake
from tests.fakes.twilio_fake import FakeMessage, TwilioFake
from tests.helpers import default_program, eventually
from workers.dev.demo import daytime_contact

pytestmark = [pytest.mark.timeout(120)]

T = TypeVar("T")
CLICKED_URL = "https://book.example.com/rebook?email={email}&utm_source=noshow"


@pytest.fixture
def twilio() -> Iterator[TwilioFake]:
    with TwilioFake() as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def sendgrid() -> Iterator[SendGridFake]:
    with SendGridFake() as fake:
        yield fake  # type: ignore[misc]


def noted_policy() -> PolicyFile:
    policy = e2e_policy()
    default_program(policy).crm.message_notes = True
    return policy


async def polled(fn: Callable[[], T], check: Callable[[T], bool], timeout: float = 30) -> T:
    return await eventually(lambda: asyncio.sleep(0, fn()), check, timeout=timeout)


def local_notes(stack: ProviderStack) -> dict[str, tuple[str, str]]:
    """The embedded CRM's timeline: idempotency key -> (contact id, note)."""
    with stack.deps.db.connect() as conn:
        rows = conn.execute("SELECT idempotency_key, contact_id, note FROM crm_notes").fetchall()
    return {str(r[0]): (str(r[1]), str(r[2])) for r in rows}


def message_notes(stack: ProviderStack, message_id: str) -> dict[str, str]:
    """The timeline notes of one message, by status."""
    prefix = f"{message_id}-note-"
    return {k.removeprefix(prefix): note for k, (_, note) in local_notes(stack).items() if k.startswith(prefix)}


def sendgrid_events(email: str, sg_message_id: str, args: dict[str, str], *names: str) -> list[dict[str, Any]]:
    """Events shaped like SendGrid's Event Webhook reference: our custom args echoed, a click with its url."""
    out: list[dict[str, Any]] = []
    for name in names:
        event: dict[str, Any] = {"email": email, "timestamp": int(time.time()), "event": name,
                                 "sg_event_id": uuid.uuid4().hex, "sg_message_id": f"{sg_message_id}.filter0001.1.0",
                                 "smtp-id": f"<{sg_message_id}@ismtpd0001p1>", **args}
        if name == "open":
            event.update({"sg_machine_open": False, "useragent": "Mozilla/5.0", "ip": "192.0.2.10"})
        if name == "click":
            event.update({"url": CLICKED_URL.format(email=email), "url_offset": {"index": 0, "type": "html"},
                          "useragent": "Mozilla/5.0", "ip": "192.0.2.10"})
        out.append(event)
    return out


async def post_sendgrid(stack: ProviderStack, events: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    body = dumps(events)
    r = await stack.http.post("/webhooks/sendgrid", content=body, headers=sendgrid_headers(body))
    assert r.status_code in (200, 202), r.text
    return r.status_code, r.json()


async def emailed_case(stack: ProviderStack, sendgrid: SendGridFake, email: str) -> tuple[str, dict[str, str]]:
    """A Calendly no-show whose first message goes out through SendGrid: (case id, the mail's custom args)."""
    _, zone = daytime_contact()
    start, end = slot_around_now()
    invitee = calendly_invitee_uri()
    for payload in (calendly_invitee_created(invitee, email, zone, start, end), calendly_no_show(invitee)):
        body = dumps(payload)
        r = await stack.http.post("/webhooks/calendly", content=body, headers=calendly_headers(body))
        assert r.status_code == 200, r.text
        case_id = r.json()["events"][0]["case_id"]
    await polled(lambda: sendgrid.mails, lambda m: len(m) >= 1)
    await stack.reach(case_id, "recovering")
    [personalization] = sendgrid.mails[0]["personalizations"]
    return case_id, personalization["custom_args"]


def assert_no_pii(notes: list[str], *pii: str) -> None:
    for note in notes:
        for value in pii:
            assert value.lower() not in note.lower(), (value, note)


# ---------------------------------------------------------------------------- SendGrid, the embedded CRM


async def test_sendgrid_delivered_open_and_click_each_write_one_timeline_note(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        sendgrid: SendGridFake) -> None:
    email = f"jane-{uuid.uuid4().hex[:8]}@example.com"
    env = {**inbound_env(), **sendgrid_env(sendgrid)}
    async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, policy=noted_policy()) as stack:
        case_id, args = await emailed_case(stack, sendgrid, email)
        message_id = args["message_id"]
        [row] = stack.deps.outbox.messages_by_id(message_id)
        contact_id = str(row["crm_contact_id"])
        assert row["program"] == "default" and contact_id.startswith("calendly:")
        assert set(message_notes(stack, message_id)) == {"sent"}  # the send activity's own note

        events = sendgrid_events(email, sendgrid.message_ids[0], args, "delivered", "open", "click")
        assert (await post_sendgrid(stack, events))[0] == 200
        notes = message_notes(stack, message_id)
        assert set(notes) == {"sent", "delivered", "opened", "clicked"}, notes
        assert notes["delivered"].endswith(f"by email: delivered (case {case_id})")
        assert notes["opened"].endswith(f"by email: opened (case {case_id})")
        assert notes["clicked"].endswith(f"by email: a link was clicked (case {case_id})")
        assert {local_notes(stack)[f"{message_id}-note-{s}"][0] for s in notes} == {contact_id}
        # the timeline names neither the recipient nor the link (its query carries the address) nor the text
        body_start = str(row["body"])[:25]
        assert_no_pii(list(notes.values()), email, "book.example.com", "utm_source", body_start)
        assert stack.deps.outbox.messages_by_id(message_id)[0]["status"] == "clicked"
        types = [e.type for e in stack.deps.ledger.events(case_id)]
        assert types.count("message_delivered") == 1 and "message_opened" in types and "message_clicked" in types
        assert "message_failed" not in types  # engagement is no failure

        # SendGrid redelivers the batch: the receipt log drops it and nothing new is written
        before = local_notes(stack)
        status, ack = await post_sendgrid(stack, events)
        assert status == 200 and ack["duplicate"] is True
        # the same news re-batched under new event ids, and a late "delivered": still one note per status,
        # and the message stays "clicked"
        late = sendgrid_events(email, sendgrid.message_ids[0], args, "open", "delivered")
        assert (await post_sendgrid(stack, late))[0] == 200
        assert local_notes(stack) == before
        assert stack.deps.outbox.messages_by_id(message_id)[0]["status"] == "clicked"
        types = [e.type for e in stack.deps.ledger.events(case_id)]
        assert types.count("message_delivered") == 1 and types.count("message_opened") == 1


async def test_without_message_notes_statuses_write_no_timeline_note(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        sendgrid: SendGridFake) -> None:
    email = f"jo-{uuid.uuid4().hex[:8]}@example.com"
    env = {**inbound_env(), **sendgrid_env(sendgrid)}
    async with provider_stack(client, task_queue, tmp_path, monkeypatch, env) as stack:
        case_id, args = await emailed_case(stack, sendgrid, email)
        events = sendgrid_events(email, sendgrid.message_ids[0], args, "delivered", "open", "click")
        assert (await post_sendgrid(stack, events))[0] == 200
        assert stack.deps.outbox.messages_by_id(args["message_id"])[0]["status"] == "clicked"
        assert "message_clicked" in [e.type for e in stack.deps.ledger.events(case_id)]
        assert message_notes(stack, args["message_id"]) == {}


# ---------------------------------------------------------------------------- Twilio, the embedded CRM


async def post_status(stack: ProviderStack, message: FakeMessage, status: str, to: str,
                      error_code: str | None = None) -> str:
    assert message.status_callback
    callback = urlsplit(message.status_callback)
    path = f"{callback.path}?{callback.query}"
    params = {"MessageSid": message.sid, "MessageStatus": status, "SmsStatus": status,
              "AccountSid": message.resource()["account_sid"], "From": "+15005550006", "To": to,
              "ApiVersion": "2010-04-01", **({"ErrorCode": error_code} if error_code else {})}
    body, headers = twilio_signed(path, params)
    r = await stack.http.post(path, content=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.text


async def test_twilio_delivered_and_undelivered_callbacks_each_write_one_timeline_note(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        twilio: TwilioFake) -> None:
    phone, zone = daytime_contact()
    email = f"pat-{uuid.uuid4().hex[:8]}@example.com"
    uid = uuid.uuid4().hex[:22]
    start, end = slot_around_now()
    env = {**inbound_env(), **twilio_env(twilio)}
    async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, policy=noted_policy()) as stack:
        for payload in (calcom_booking(uid, email, phone, zone, start, end), calcom_no_show(uid, email)):
            body = dumps(payload)
            r = await stack.http.post("/webhooks/calcom", content=body, headers=calcom_headers(body))
            assert r.status_code == 200, r.text
            case_id = r.json()["events"][0]["case_id"]
        await polled(lambda: twilio.messages, lambda m: len(m) >= 1)
        await stack.reach(case_id, "recovering")
        body, headers = twilio_signed("/webhooks/twilio", twilio_inbound(phone, "yes"))
        assert (await stack.http.post("/webhooks/twilio", content=body, headers=headers)).status_code == 200
        await stack.reach(case_id, "offering")
        first, offer = (await polled(lambda: twilio.messages, lambda m: len(m) >= 2))[:2]
        first_id, offer_id = f"{case_id}-step0", str(stack.deps.outbox.messages(case_id)[1]["message_id"])

        await post_status(stack, first, "sent", phone)  # noted by the send already: nothing new
        await post_status(stack, first, "delivered", phone)
        await post_status(stack, offer, "undelivered", phone, error_code="30003")
        first_notes, offer_notes = message_notes(stack, first_id), message_notes(stack, offer_id)
        assert set(first_notes) == {"sent", "delivered"}, first_notes
        assert set(offer_notes) == {"sent", "undelivered"}, offer_notes
        assert first_notes["delivered"].endswith(f"by sms: delivered (case {case_id})")
        assert offer_notes["undelivered"].endswith(f"by sms: not delivered (case {case_id})")
        bodies = [str(m["body"])[:25] for m in stack.deps.outbox.messages(case_id)]
        assert_no_pii([*first_notes.values(), *offer_notes.values()], phone, phone.lstrip("+"), email, *bodies)
        assert stack.deps.outbox.messages_by_id(offer_id)[0]["status"] == "undelivered"

        # Twilio retries a callback it got no answer to: the same signed request again writes nothing new
        before = local_notes(stack)
        await post_status(stack, first, "delivered", phone)
        await post_status(stack, offer, "undelivered", phone, error_code="30003")
        assert local_notes(stack) == before
        types = [e.type for e in stack.deps.ledger.events(case_id)]
        assert types.count("message_delivered") == 1 and types.count("message_failed") == 1


# ---------------------------------------------------------------------------- a CRM that fails (HubSpot)


def hubspot_notes(fake: FakeHubSpot) -> list[str]:
    return [str(n["properties"]["hs_note_body"]) for n in fake.objects["notes"].values()]


@pytest.mark.slow  # waits out the hand-off's first backoff
async def test_a_crm_outage_retries_the_note_and_a_refusal_drops_it(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        sendgrid: SendGridFake) -> None:
    email = f"kim-{uuid.uuid4().hex[:8]}@example.com"
    with FakeHubSpot() as hubspot:
        hubspot.objects["contacts"]["501"] = {"properties": {"email": email, "firstname": "Kim"}}
        env = {**inbound_env(), **sendgrid_env(sendgrid), **hubspot_api_env(hubspot.base_url),
               "NOSHOW_CRM_PROVIDER": "hubspot"}
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, policy=noted_policy()) as stack:
            state = stack.app.state.noshow
            case_id, args = await emailed_case(stack, sendgrid, email)
            message_id = args["message_id"]
            await polled(lambda: hubspot_notes(hubspot), lambda n: any(": sent (case" in x for x in n))
            settled = await polled(lambda: len(hubspot.requests), lambda n: n > 0)
            await asyncio.sleep(0.5)
            assert len(hubspot.requests) == settled  # the case is waiting: nothing else talks to HubSpot now

            # HubSpot answers 500 to the note's first call: the delivery is queued and applied again later
            hubspot.fail_next(500)
            status, ack = await post_sendgrid(stack, sendgrid_events(email, sendgrid.message_ids[0], args,
                                                                      "delivered"))
            assert status == 202 and ack["queued"] is True
            assert not any(": delivered (case" in n for n in hubspot_notes(hubspot))
            assert stack.deps.outbox.messages_by_id(message_id)[0]["status"] == "delivered"  # the rest is applied

            async def drained() -> list[str]:
                await state.handoff.drain_once(state.cases)
                return hubspot_notes(hubspot)

            notes = await eventually(drained, lambda n: any(": delivered (case" in x for x in n), timeout=30)
            assert sum(": delivered (case" in n for n in notes) == 1
            assert_no_pii(notes, email, "Kim")
            assert f"{message_id}-note-delivered" in local_notes(stack)
            types = [e.type for e in stack.deps.ledger.events(case_id)]
            assert types.count("message_delivered") == 1  # applied twice, recorded once

            # HubSpot refuses the next note for good (400): dropped, the delivery settles, nothing retries
            hubspot.fail_next(400, {"status": "error", "category": "VALIDATION_ERROR", "message": "bad note"})
            status, _ = await post_sendgrid(stack, sendgrid_events(email, sendgrid.message_ids[0], args, "open"))
            assert status == 200
            intake = (await stack.http.get("/ops/intake", headers={"Authorization": "Bearer dev-admin-token"})).json()
            assert intake["pending"] == 0 and intake["failed"] == 0, intake
            assert await state.handoff.drain_once(state.cases) == 0
            assert not any(": opened (case" in n for n in hubspot_notes(hubspot))
            assert f"{message_id}-note-opened" not in local_notes(stack)
            assert "message_opened" in [e.type for e in stack.deps.ledger.events(case_id)]
