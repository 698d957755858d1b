"""A made-up household for the consent and cap properties, the engine's own code acting for it on a real store,
and an independent model of what consent and the frequency cap allow.

The household: contact A with one phone number (written two ways by two of its cases) and an email address;
contact B with the same phone number (written a third way) and a second phone of its own. STOPs, STARTs, HELPs
and replies reach the engine through the API's reply router; sends go through the send activity, which decides
consent and the cap in the transaction that reserves the message."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import phonenumbers
from temporalio.client import Client

from activities.messaging import MessagingActivities
from domain import addresses
from domain.case import SendRequest, SendResult
from domain.ids import case_id_for, contact_key_for
from domain.intake import ReplyOutcome
from domain.models import Appointment, Channel, Reply
from tests.helpers import appointment, distinct_phone, resolved_of
from workers.dependencies import Dependencies
from workers.intake.replies import ReplyRouter

STOP_WORDS = ("STOP", "stop", "Unsubscribe")
START_WORDS = ("START", "unstop")
OTHER_REPLIES = ("HELP", "yes please, can we find another time?")
ANSWER_TEMPLATES = ("consent_", "help")  # the engine's answers to a customer's own message


def spaced(e164: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def tel_uri(e164: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.RFC3966)


@dataclass(frozen=True)
class Case:
    case_id: str
    contact: str  # the contact id
    appointment: Appointment  # as intake keeps it: addresses normalised at the edge

    def address(self, channel: Channel) -> str | None:
        contact = self.appointment.contact
        return contact.email if channel == Channel.email else contact.phone

    def channels(self) -> list[Channel]:
        """What a send may go by: SMS, and email where the contact has one (the policy approves no WhatsApp
        template for outreach; WhatsApp is a way the customer writes in)."""
        return [c for c in (Channel.sms, Channel.email) if self.address(c)]


class Household:
    """Fresh ids and addresses for every example, so examples sharing one store never see each other's rows."""

    def __init__(self, base_phone: str, zone: str, salt: str) -> None:
        tag = uuid.uuid4().hex[:10]
        phone, second = distinct_phone(base_phone), distinct_phone(base_phone)
        email_raw = f"Pat.{tag}@Example.COM"  # the capitals a CRM keeps; the engine compares it case-folded
        self.salt = salt
        self.contacts = (f"c-{tag}-a", f"c-{tag}-b")
        # every way the customer may write from: the same number three ways, the second phone, the email
        self.senders: list[tuple[Channel, str]] = [
            (Channel.sms, phone), (Channel.sms, spaced(phone)), (Channel.whatsapp, f"whatsapp:{phone}"),
            (Channel.sms, second), (Channel.email, email_raw.lower()),
        ]
        stored = [  # (contact, phone as its CRM stores it, email)
            (0, spaced(phone), email_raw), (0, tel_uri(phone), email_raw),
            (1, phone.replace("+", "+ "), None), (1, tel_uri(second), None),
        ]
        self.cases = [self._case(tag, n, self.contacts[who], raw_phone, email, zone)
                      for n, (who, raw_phone, email) in enumerate(stored)]

    def _case(self, tag: str, n: int, contact_id: str, phone: str, email: str | None, zone: str) -> Case:
        raw = appointment(f"appt-{tag}-{n}", contact_id=contact_id, phone=phone, email=email, timezone=zone)
        normalised = addresses.normalise_contact(raw.contact)
        appt = raw.model_copy(update={"contact": normalised})
        return Case(case_id=case_id_for(appt.source, appt.appointment_id, self.salt), contact=contact_id,
                    appointment=appt)

    def contact_key(self, contact_id: str) -> str:
        return contact_key_for(contact_id, self.salt)

    def address_key(self, address: str) -> str:
        return addresses.address_key(address, self.salt)


class Engine:
    """The engine's code paths for one store: intake's address book, the API's reply router, the send activity."""

    def __init__(self, deps: Dependencies, client: Client, clock: Callable[[], datetime]) -> None:
        self.deps = deps
        self.router = ReplyRouter(client, deps)
        self.clock = clock
        self.messaging = MessagingActivities(deps.channels, deps.outbox, deps.consent, deps.ledger, clock=clock,
                                             verdicts=deps.verdicts, intents=deps.intents,
                                             salt=deps.settings.auth.id_salt)
        self.resolved = resolved_of(deps.policy())

    def open_case(self, case: Case) -> None:
        """What intake writes before it starts a case: the case knows its contact's addresses."""
        salt = self.deps.settings.auth.id_salt
        keys = [addresses.address_key(a, salt) for a in addresses.contact_addresses(case.appointment.contact)]
        self.deps.addresses.remember(case.case_id, contact_key_for(case.contact, salt), keys, at=self.clock())

    async def reply(self, channel: Channel, sender: str, text: str) -> ReplyOutcome:
        reply = Reply(reply_id=f"SM{uuid.uuid4().hex}", channel=channel, text=text, received_at=self.clock())
        return await self.router.submit(reply, sender)

    def request(self, case: Case, channel: Channel, step: str) -> SendRequest:
        """The first message of `case` by `channel`, as the case workflow asks for it."""
        salt = self.deps.settings.auth.id_salt
        return SendRequest(message_id=f"{case.case_id}-{step}", case_id=case.case_id,
                           contact_key=contact_key_for(case.contact, salt), appointment=case.appointment,
                           resolved=self.resolved, template_id="missed_first", channels=[channel],
                           first_message=True, created_at=self.clock())

    def send(self, case: Case, channel: Channel, step: str) -> SendResult:
        return self.messaging.send_message(self.request(case, channel, step))

    def reservations(self, household: Household) -> list[dict[str, object]]:
        """Every message reserved for the household and not refused by the provider, as the store has them."""
        keys = {household.contact_key(c) for c in household.contacts}
        return [r for r in self.deps.intents.rows() if r["contact_key"] in keys and r["status"] != "failed"]

    def answers(self, household: Household) -> int:
        """Consent and HELP answers the engine wrote to the household (they count towards caps too)."""
        keys = {household.contact_key(c) for c in household.contacts}
        keys |= {household.address_key(addresses.normalise(ch, s)) for ch, s in household.senders}
        return sum(1 for m in self.deps.outbox.messages()
                   if m["contact_key"] in keys and str(m["template_id"]).startswith(ANSWER_TEMPLATES))


@dataclass
class Model:
    """What must hold, kept apart from the engine: who is out since when, and what was sent when.

    The rules modelled: a STOP from an address opts that address out of every channel, and every contact with a
    case that knows the address; START undoes it for the same subjects. A send is to one contact at one address;
    it may go only while neither is out, and the cap counts every earlier send to the same contact or the same
    address in the rolling window."""

    cap: int
    span: timedelta
    contacts_of: dict[str, set[str]] = field(default_factory=dict)  # address -> contacts with a case knowing it
    out: dict[str, list[list[datetime | None]]] = field(default_factory=dict)  # subject -> [[from, until]]
    sent: list[tuple[datetime, str, str]] = field(default_factory=list)  # (when, contact, address)

    def open(self, contact: str, known: list[str]) -> None:
        for address in known:
            self.contacts_of.setdefault(address, set()).add(contact)

    def _subjects(self, address: str) -> list[str]:
        return [f"addr:{address}", *(f"contact:{c}" for c in sorted(self.contacts_of.get(address, ())))]

    def stop(self, address: str, at: datetime) -> None:
        for subject in self._subjects(address):
            spans = self.out.setdefault(subject, [])
            if not spans or spans[-1][1] is not None:
                spans.append([at, None])

    def start(self, address: str, at: datetime) -> None:
        for subject in self._subjects(address):
            spans = self.out.get(subject, [])
            if spans and spans[-1][1] is None:
                spans[-1][1] = at

    def is_out(self, subject: str, at: datetime) -> bool:
        return any(begin <= at and (until is None or at < until)  # type: ignore[operator]
                   for begin, until in self.out.get(subject, []))

    def may_send(self, contact: str, address: str, at: datetime) -> bool:
        return not self.is_out(f"contact:{contact}", at) and not self.is_out(f"addr:{address}", at)

    def related(self, contact: str, address: str, at: datetime) -> int:
        return sum(1 for when, c, a in self.sent if (c == contact or a == address) and at - self.span < when <= at)


def over_cap(sends: list[tuple[datetime, str]], cap: int, span: timedelta) -> list[str]:
    """The subjects (contact or address) with more than `cap` sends in some rolling window of `span`."""
    by_subject: dict[str, list[datetime]] = {}
    for when, subject in sends:
        by_subject.setdefault(subject, []).append(when)
    return [subject for subject, times in by_subject.items()
            if any(sum(1 for t in times if x - span < t <= x) > cap for x in times)]


def utc(value: object) -> datetime:
    return datetime.fromisoformat(str(value)).astimezone(UTC)
