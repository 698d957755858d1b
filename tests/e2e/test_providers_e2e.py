"""Each source switched from local to its provider fake, end to end: signed provider webhooks into the in-process
API, a real Temporal dev server and worker, and the real Twilio / SendGrid / Slack clients talking to the fakes.

The providers are switched on the way a deployment does it, with environment variables read when the
dependencies and the app are built (workers/providers/)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from temporalio.client import Client

from domain.ids import address_key_for, contact_key_for
from tests.e2e.provider_helpers import (
    SLACK_REVIEWER,
    ProviderStack,
    calcom_booking,
    calcom_headers,
    calcom_no_show,
    calendly_headers,
    calendly_invitee_created,
    calendly_invitee_uri,
    calendly_no_show,
    dumps,
    inbound_env,
    provider_stack,
    sendgrid_env,
    sendgrid_headers,
    slack_click,
    slack_env,
    slack_headers,
    slot_around_now,
    twilio_env,
    twilio_inbound,
    twilio_signed,
)
from tests.fakes.sendgrid_fake import SendGridFake
from tests.fakes.slack_fake import SlackFake
from tests.fakes.twilio_fake import TwilioFake
from tests.helpers import eventually
from workers.dev.demo import daytime_contact

pytestmark = [pytest.mark.timeout(120)]


@pytest.fixture
def twilio() -> Iterator[TwilioFake]:
    with TwilioFake() as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def sendgrid() -> Iterator[SendGridFake]:
    with SendGridFake() as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def slack() -> Iterator[SlackFake]:
    with SlackFake() as fake:
        yield fake  # type: ignore[misc]


T = TypeVar("T")


async def polled(fn: Callable[[], T], check: Callable[[T], bool], timeout: float = 30) -> T:
    """`eventually` for a synchronous read (a fake's record, a local store)."""
    return await eventually(lambda: asyncio.sleep(0, fn()), check, timeout=timeout)


async def post_calcom(stack: ProviderStack, payload: dict[str, object]) -> dict[str, object]:
    body = dumps(payload)
    r = await stack.http.post("/webhooks/calcom", content=body, headers=calcom_headers(body))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def post_calendly(stack: ProviderStack, payload: dict[str, object]) -> dict[str, object]:
    body = dumps(payload)
    r = await stack.http.post("/webhooks/calendly", content=body, headers=calendly_headers(body))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def post_twilio(stack: ProviderStack, path: str, params: dict[str, str]) -> str:
    body, headers = twilio_signed(path, params)
    r = await stack.http.post(path, content=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.text


def case_of(ack: dict[str, object]) -> str:
    events = ack["events"]
    assert isinstance(events, list) and events, ack
    assert all(e["status"] == "accepted" for e in events), ack
    case_id = events[0]["case_id"]
    assert isinstance(case_id, str)
    return case_id


# ---------------------------------------------------------------------------- 1. Cal.com + Twilio


async def test_calcom_no_show_is_recovered_over_twilio_sms(client: Client, task_queue: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           twilio: TwilioFake) -> None:
    phone, zone = daytime_contact()
    email = f"pat-{uuid.uuid4().hex[:8]}@example.com"
    uid = uuid.uuid4().hex[:22]
    start, end = slot_around_now()
    async with provider_stack(client, task_queue, tmp_path, monkeypatch, {**inbound_env(), **twilio_env(twilio)}
                              ) as stack:
        case_id = case_of(await post_calcom(stack, calcom_booking(uid, email, phone, zone, start, end)))
        assert case_of(await post_calcom(stack, calcom_no_show(uid, email))) == case_id
        assert await stack.workflow_count() == 1

        # the first message goes out through the real Twilio client, once
        await polled(lambda: twilio.messages, lambda m: len(m) >= 1)
        await stack.reach(case_id, "recovering")
        first = twilio.messages[0]
        assert first.to == phone and first.from_ == "+15005550006" and "missed you" in (first.body or "")
        assert first.status_callback and first.status_callback.startswith(
            "https://noshow.example.test/webhooks/twilio?")
        assert len(twilio.calls("POST", "/Messages.json")) == 1

        # the customer texts back; the reply finds its case by the sender's phone (outbox routing)
        text = await post_twilio(stack, "/webhooks/twilio", twilio_inbound(phone, "yes"))
        assert "<Response/>" in text
        offered = await stack.reach(case_id, "offering")
        assert len(offered.offered) == 3
        await polled(lambda: twilio.messages, lambda m: len(m) >= 2)
        assert "1)" in (twilio.messages[1].body or "")

        await post_twilio(stack, "/webhooks/twilio", twilio_inbound(phone, "1"))
        final = await stack.reach(case_id, "confirmed")
        assert final.new_appointment_start == offered.offered[0].start
        confirmations = await polled(lambda: twilio.messages, lambda m: len(m) >= 3)
        assert len(confirmations) == 3
        sent = stack.deps.outbox.messages(case_id)
        assert [str(m["template_id"]).split("@")[0] for m in sent][-1].startswith("confirm_booking")
        assert {m.to for m in twilio.messages} == {phone}

        # Twilio's signed status callback (our ids ride in the URL it calls) marks the first message delivered
        callback = urlsplit(first.status_callback)
        await post_twilio(stack, f"{callback.path}?{callback.query}", {
            "MessageSid": first.sid, "MessageStatus": "delivered", "SmsStatus": "delivered",
            "AccountSid": first.resource()["account_sid"], "From": "+15005550006", "To": phone,
            "ApiVersion": "2010-04-01"})
        row = stack.deps.outbox.messages_by_id(f"{case_id}-step0")
        assert row and row[0]["status"] == "delivered"
        assert "message_delivered" in [e.type for e in stack.deps.ledger.events(case_id)]
        assert len(twilio.calls("POST", "/Messages.json")) == 3  # nothing sent twice


# ---------------------------------------------------------------------------- 2. Calendly + SendGrid


async def test_calendly_no_show_emails_through_sendgrid_and_an_unsubscribe_blocks_later_sends(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        sendgrid: SendGridFake) -> None:
    _, zone = daytime_contact()
    email = f"jane-{uuid.uuid4().hex[:8]}@example.com"
    start, end = slot_around_now()
    invitee = calendly_invitee_uri()
    env = {**inbound_env(), **sendgrid_env(sendgrid)}
    async with provider_stack(client, task_queue, tmp_path, monkeypatch, env) as stack:
        case_id = case_of(await post_calendly(stack, calendly_invitee_created(invitee, email, zone, start, end)))
        assert case_of(await post_calendly(stack, calendly_no_show(invitee))) == case_id

        await polled(lambda: sendgrid.mails, lambda m: len(m) >= 1)
        await stack.reach(case_id, "recovering")
        [mail] = sendgrid.mails
        [personalization] = mail["personalizations"]
        assert personalization["to"] == [{"email": email}]
        args = personalization["custom_args"]
        assert args == {"case_id": case_id, "message_id": f"{case_id}-step0"}

        # SendGrid reports the recipient unsubscribed, echoing our custom args, signed with its key
        events = [{"email": email, "timestamp": int(time.time()), "event": "unsubscribe",
                   "sg_event_id": uuid.uuid4().hex, "sg_message_id": f"{sendgrid.message_ids[0]}.filter0001.1.0",
                   **args}]
        body = dumps(events)
        r = await stack.http.post("/webhooks/sendgrid", content=body, headers=sendgrid_headers(body))
        assert r.status_code == 200, r.text
        contact_key = contact_key_for(f"calendly:{address_key_for(email)}", stack.deps.settings.auth.id_salt)
        assert "*" in stack.deps.consent.opted_out_channels(contact_key)
        assert stack.deps.consent.is_blocked(contact_key, "email")

        # a later booking by the same person, also missed: nothing more is sent to them
        second = calendly_invitee_uri()
        s2, e2 = slot_around_now()
        case2 = case_of(await post_calendly(stack, calendly_invitee_created(second, email, zone, s2, e2)))
        await post_calendly(stack, calendly_no_show(second))
        blocked = await stack.reach(case2, "opted_out")
        assert "opted out" in (blocked.close_reason or "")
        assert len(sendgrid.mails) == 1
        assert stack.deps.outbox.messages(case2) == []


# ---------------------------------------------------------------------------- 3. Slack review


async def test_slack_review_request_is_approved_from_a_signed_button_click(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slack: SlackFake) -> None:
    phone, zone = daytime_contact()
    email = f"sam-{uuid.uuid4().hex[:8]}@example.com"
    uid = uuid.uuid4().hex[:22]
    past = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    async with provider_stack(client, task_queue, tmp_path, monkeypatch, {**inbound_env(), **slack_env(slack)}
                              ) as stack:
        # a booking that ended with no attendance evidence either way: a human must decide
        case_id = case_of(await post_calcom(
            stack, calcom_booking(uid, email, phone, zone, past, past + timedelta(minutes=30))))
        waiting = await stack.reach(case_id, "awaiting_review")
        assert waiting.review is not None
        posts = await polled(lambda: slack.posts, lambda p: len(p) >= 1)
        [post] = posts
        assert post["channel"] == "C123ABC456" and case_id in post["text"]
        actions = next(b for b in post["blocks"] if b["type"] == "actions")
        approve = next(e for e in actions["elements"] if e["action_id"] == "review_approve")
        assert {e["action_id"] for e in actions["elements"]} == {"review_approve", "review_reject", "review_edit"}
        assert phone not in json.dumps(post) and email not in json.dumps(post)  # no PII in Slack
        assert stack.deps.outbox.messages(case_id) == []

        # a click by someone who is not an allowed reviewer is acknowledged and changes nothing
        value = json.loads(approve["value"])
        stranger = slack_click(value["case_id"], value["review_id"], user_id="U0STRANGER")
        r = await stack.http.post("/webhooks/slack", content=stranger, headers=slack_headers(stranger))
        assert r.status_code == 200, r.text

        # the allowed reviewer presses the very button that was posted
        click = slack_click(value["case_id"], value["review_id"])
        started = time.monotonic()
        r = await stack.http.post("/webhooks/slack", content=click, headers=slack_headers(click))
        assert r.status_code == 200 and time.monotonic() - started < 3, r.text
        await stack.reach(case_id, "recovering", "offering", "unrecovered", timeout=15)
        audit = await polled(lambda: stack.deps.reviews.audit_log(case_id), lambda a: len(a) >= 1)
        [row] = audit
        assert row["actor"] == f"slack:{SLACK_REVIEWER} (frontdesk)" and row["action"] == "review.approve"
        await polled(lambda: stack.deps.outbox.messages(case_id), lambda m: len(m) >= 1)


# ---------------------------------------------------------------------------- 4. forged and stale signatures


async def test_forged_or_stale_signatures_get_401_and_start_nothing(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        twilio: TwilioFake, sendgrid: SendGridFake, slack: SlackFake) -> None:
    phone, zone = daytime_contact()
    email = f"eve-{uuid.uuid4().hex[:8]}@example.com"
    start, end = slot_around_now()
    old = int(time.time()) - 3600
    env = {**inbound_env(), **twilio_env(twilio), **sendgrid_env(sendgrid), **slack_env(slack)}
    async with provider_stack(client, task_queue, tmp_path, monkeypatch, env) as stack:
        calcom = dumps(calcom_booking(uuid.uuid4().hex[:22], email, phone, zone, start, end))
        calendly = dumps(calendly_invitee_created(calendly_invitee_uri(), email, zone, start, end))
        twilio_body, twilio_ok = twilio_signed("/webhooks/twilio", twilio_inbound(phone, "yes"))
        _, twilio_forged = twilio_signed("/webhooks/twilio", twilio_inbound(phone, "yes"), token="not-the-token")
        events = dumps([{"email": email, "timestamp": int(time.time()), "event": "unsubscribe",
                         "sg_event_id": uuid.uuid4().hex, "case_id": "case-x", "message_id": "case-x-step0"}])
        click = slack_click("case-x", "case-x-review-1")
        attempts = {
            "calcom forged": ("/webhooks/calcom", calcom, calcom_headers(calcom, secret="wrong-secret")),
            "calcom tampered": ("/webhooks/calcom", calcom.replace(b"ACCEPTED", b"PENDING"), calcom_headers(calcom)),
            "calcom no-secret": ("/webhooks/calcom", calcom, {"content-type": "application/json",
                                                              "x-cal-signature-256": "no-secret-provided"}),
            "calcom unsigned": ("/webhooks/calcom", calcom, {"content-type": "application/json"}),
            "calendly forged": ("/webhooks/calendly", calendly, calendly_headers(calendly, key="wrong-key")),
            "calendly stale": ("/webhooks/calendly", calendly, calendly_headers(calendly, t=old)),
            "calendly future": ("/webhooks/calendly", calendly, calendly_headers(calendly, t=int(time.time()) + 3600)),
            "twilio forged": ("/webhooks/twilio", twilio_body, twilio_forged),
            "twilio tampered": ("/webhooks/twilio", twilio_body.replace(b"Body=yes", b"Body=no"), twilio_ok),
            "twilio other url": ("/webhooks/twilio?x=1", twilio_body, twilio_ok),
            "sendgrid forged": ("/webhooks/sendgrid", events,
                                sendgrid_headers(events, key=ec.generate_private_key(ec.SECP256R1()))),
            "sendgrid stale": ("/webhooks/sendgrid", events, sendgrid_headers(events, ts=old)),
            "slack forged": ("/webhooks/slack", click, slack_headers(click, secret="wrong-secret")),
            "slack stale": ("/webhooks/slack", click, slack_headers(click, ts=old)),
        }
        for name, (path, body, headers) in attempts.items():
            r = await stack.http.post(path, content=body, headers=headers)
            assert r.status_code == 401, (name, r.status_code, r.text)
        assert await stack.workflow_count() == 0
        assert stack.deps.outbox.messages() == []
        assert stack.deps.reviews.audit_log() == []
        with stack.deps.db.connect() as conn:
            assert conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0] == 0
        assert twilio.requests == [] and sendgrid.requests == [] and slack.requests == []

        # the same deliveries correctly signed are accepted: the 401s were about the signatures alone
        ok = await stack.http.post("/webhooks/calcom", content=calcom, headers=calcom_headers(calcom))
        assert ok.status_code == 200, ok.text
        assert await stack.workflow_count() == 1
