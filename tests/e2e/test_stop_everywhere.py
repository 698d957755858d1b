"""A STOP or an unsubscribe through any channel, end to end on the real Temporal server with the in-process API
and worker: the person misses a Cal.com booking (email and phone) and gets the first recovery message, opts out
through one channel's own provider route, then misses a second booking. The shipped default's rule is read from
what it does and says: a STOP reply or a provider unsubscribe withdraws consent on every channel ("You are
unsubscribed and will receive no more messages"), so the second case sends nothing anywhere; a Mailchimp audience
unsubscribe names an email address on a mailing list and stops email only, so the second case's message falls
back to SMS. Last, the same person misses a booking in another system that carries only their email: every
opt-out of every channel reaches it, a phone's STOP through the address the first booking carried with the phone."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client

from domain.models import Channel
from policies.schema import PolicyFile
from tests.connectors.cases_mailchimp import SECRET as MAILCHIMP_SECRET
from tests.e2e.provider_helpers import (
    TWILIO_FROM,
    ProviderStack,
    calcom_booking,
    calcom_no_show,
    calendly_invitee_created,
    calendly_invitee_uri,
    calendly_no_show,
    dumps,
    e2e_policy,
    inbound_env,
    provider_stack,
    sendgrid_env,
    sendgrid_headers,
    slot_around_now,
    twilio_env,
    twilio_inbound,
)
from tests.e2e.test_gmail_e2e import AUDIENCE, gmail_env
from tests.e2e.test_providers_e2e import case_of, polled, post_calcom, post_calendly, post_twilio
from tests.fakes.gmail_fake import GmailFake
from tests.fakes.mailchimp_fake import audience_webhook
from tests.fakes.sendgrid_fake import SendGridFake
from tests.fakes.twilio_fake import TwilioFake
from workers.dev.demo import daytime_contact

pytestmark = [pytest.mark.timeout(180)]
PARSE_TOKEN = "parse-e2e-token-5b1f0c"


@dataclass
class Person:
    phone: str
    email: str
    zone: str


@dataclass
class Fakes:
    twilio: TwilioFake
    sendgrid: SendGridFake
    gmail: GmailFake

    def emails(self) -> int:
        return len(self.sendgrid.mails) + len(self.gmail.sent())


@dataclass(frozen=True)
class Door:
    """One way a person opts out: which email provider the stack sends with, the order of channels the
    recovery steps try (the channel the person opts out on first, so their first message came through it),
    and the channels the opt-out must stop."""
    name: str
    email_provider: str
    channels: tuple[Channel, ...]
    stops: frozenset[Channel]


EVERY = frozenset({Channel.sms, Channel.email})  # the channels this person has an address on
DOORS = [
    Door("twilio_sms_stop", "sendgrid", (Channel.sms, Channel.email), EVERY),
    Door("twilio_whatsapp_stop", "sendgrid", (Channel.sms, Channel.email), EVERY),
    Door("sendgrid_unsubscribe_event", "sendgrid", (Channel.email, Channel.sms), EVERY),
    Door("sendgrid_parse_reply_unsubscribe", "sendgrid", (Channel.email, Channel.sms), EVERY),
    Door("gmail_reply_stop", "gmail", (Channel.email, Channel.sms), EVERY),
    Door("gmail_reply_unsubscribe", "gmail", (Channel.email, Channel.sms), EVERY),
    Door("mailchimp_audience_unsubscribe", "sendgrid", (Channel.email, Channel.sms), frozenset({Channel.email})),
]


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    with TwilioFake() as twilio, SendGridFake() as sendgrid, GmailFake(mailbox="clinic@example.com") as gmail:
        yield Fakes(twilio, sendgrid, gmail)  # type: ignore[arg-type]


def policy_for(door: Door) -> PolicyFile:
    policy = e2e_policy()
    for program in policy.programs:
        for seq in program.sequences.values():
            seq.steps = seq.steps[:1]
            seq.steps[0].channels = list(door.channels)
    return policy


def env_for(door: Door, fakes: Fakes) -> dict[str, str]:
    email = sendgrid_env(fakes.sendgrid) if door.email_provider == "sendgrid" else gmail_env(fakes.gmail)
    return {**inbound_env(), **twilio_env(fakes.twilio), **email, "SENDGRID_PARSE_TOKEN": PARSE_TOKEN,
            "NOSHOW_MAILCHIMP_WEBHOOK_SECRET": MAILCHIMP_SECRET}


async def miss_a_booking(stack: ProviderStack, person: Person) -> str:
    uid = uuid.uuid4().hex[:22]
    start, end = slot_around_now()
    case_id = case_of(await post_calcom(stack, calcom_booking(uid, person.email, person.phone, person.zone,
                                                              start, end)))
    assert case_of(await post_calcom(stack, calcom_no_show(uid, person.email))) == case_id
    return case_id


def multipart(fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = "xYzZY" + uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    return ("".join(parts) + f"--{boundary}--\r\n").encode(), f"multipart/form-data; boundary={boundary}"


async def gmail_push(stack: ProviderStack, gmail: GmailFake, message_id: str) -> None:
    r = await stack.http.post("/webhooks/gmail", content=gmail.push_body(message_id),
                              headers={"authorization": f"Bearer {gmail.push_token(AUDIENCE)}",
                                       "content-type": "application/json"})
    assert r.status_code == 200, r.text


async def opt_out(door: Door, stack: ProviderStack, fakes: Fakes, person: Person) -> None:
    """The person opts out through `door`, the way that provider delivers it to the engine."""
    if door.name == "twilio_sms_stop":
        await post_twilio(stack, "/webhooks/twilio", twilio_inbound(person.phone, "STOP"))
    elif door.name == "twilio_whatsapp_stop":
        params = twilio_inbound(f"whatsapp:{person.phone}", "STOP")
        params["To"] = f"whatsapp:{TWILIO_FROM}"
        await post_twilio(stack, "/webhooks/twilio", params)
    elif door.name == "sendgrid_unsubscribe_event":
        [mail] = fakes.sendgrid.mails
        args = mail["personalizations"][0]["custom_args"]
        body = dumps([{"email": person.email, "timestamp": int(time.time()), "event": "unsubscribe",
                       "sg_event_id": uuid.uuid4().hex, "sg_message_id": f"{fakes.sendgrid.message_ids[0]}.f1.1.0",
                       **args}])
        r = await stack.http.post("/webhooks/sendgrid", content=body, headers=sendgrid_headers(body))
        assert r.status_code == 200, r.text
    elif door.name == "sendgrid_parse_reply_unsubscribe":
        body, content_type = multipart({
            "from": f"Pat Example <{person.email}>", "to": "bookings@example.com", "subject": "Re: We missed you",
            "text": "unsubscribe", "headers": f"Message-ID: <{uuid.uuid4().hex}@mail.example.com>\n"})
        r = await stack.http.post(f"/webhooks/sendgrid_parse?token={PARSE_TOKEN}", content=body,
                                  headers={"content-type": content_type})
        assert r.status_code == 200, r.text
    elif door.name in ("gmail_reply_stop", "gmail_reply_unsubscribe"):
        await gmail_push(stack, fakes.gmail, "pubsub-1")  # the watch's first push: history starts here
        word = "STOP" if door.name == "gmail_reply_stop" else "unsubscribe"
        fakes.gmail.deliver(f"Pat Example <{person.email}>", word, f"reply-{uuid.uuid4().hex[:8]}@mail.example.com")
        await gmail_push(stack, fakes.gmail, "pubsub-2")
    elif door.name == "mailchimp_audience_unsubscribe":
        r = await stack.http.post(f"/webhooks/mailchimp?secret={MAILCHIMP_SECRET}",
                                  content=audience_webhook("unsubscribe", person.email),
                                  headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 200, r.text
    else:
        raise AssertionError(door.name)


def sent_channels(stack: ProviderStack, case_id: str) -> set[str]:
    return {str(m["channel"]) for m in stack.deps.outbox.messages(case_id)}


@pytest.mark.parametrize("door", DOORS, ids=[d.name for d in DOORS])
async def test_an_opt_out_through_any_channel_stops_the_next_recovery_message(
        door: Door, client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        fakes: Fakes) -> None:
    phone, zone = daytime_contact()
    person = Person(phone=phone, email=f"pat-{uuid.uuid4().hex[:8]}@example.com", zone=zone)
    async with provider_stack(client, task_queue, tmp_path, monkeypatch, env_for(door, fakes),
                              policy_for(door)) as stack:
        first = await miss_a_booking(stack, person)
        first_channel = door.channels[0]
        # the first recovery message reached the person through the channel they are about to opt out on
        wait_for: Callable[[], int] = ((lambda: len(fakes.twilio.messages)) if first_channel == Channel.sms
                                       else fakes.emails)
        await polled(wait_for, lambda n: n >= 1)
        await stack.reach(first, "recovering")
        texts = len(fakes.twilio.messages)

        await opt_out(door, stack, fakes, person)

        second = await miss_a_booking(stack, person)
        if door.stops == EVERY:
            closed = await stack.reach(second, "opted_out")
            assert "opted out" in (closed.close_reason or "")
            assert sent_channels(stack, second) == set()
        else:
            # only the opted-out channel is stopped: the step's next channel carries the message
            await polled(lambda: len(fakes.twilio.messages), lambda n: n > texts)
            assert sent_channels(stack, second) == {Channel.sms.value}

        recovery_texts = [m for m in fakes.twilio.messages[texts:] if "missed you" in (m.body or "")]
        assert (Channel.sms in door.stops) == (recovery_texts == [])

        # the same person (by their email address) missing a booking in another scheduling system, where no
        # contact record links them to the first: the opt-out follows the person (a phone's STOP reaches the
        # email address the first booking carried with that phone), so nothing is emailed
        invitee = calendly_invitee_uri()
        start, end = slot_around_now()
        elsewhere = case_of(await post_calendly(stack, calendly_invitee_created(invitee, person.email, person.zone,
                                                                                start, end)))
        await post_calendly(stack, calendly_no_show(invitee))
        await stack.reach(elsewhere, "opted_out")
        assert stack.deps.outbox.messages(elsewhere) == []
