"""The pre-send decision and the reservation of the message are one transaction: concurrent sends never pass a
cap together, and nothing is sent to an address or a contact after its opt-out was recorded. A property test
drives interleavings of STOPs, STARTs and sends over two cases of one address and two addresses of one contact."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activities.messaging import MessagingActivities
from connectors.local.consent import ConsentLedger
from connectors.local.db import LocalDb
from connectors.local.outbox import LocalOutbox
from connectors.local.send_intents import SendIntents
from domain.addresses import address_key
from domain.case import SendRequest
from domain.ids import contact_key_for
from domain.models import Appointment, Channel
from tests.helpers import appointment, fast_policy, resolved_of
from workers.dev.demo import daytime_contact

SALT = "test-salt"
RESOLVED = resolved_of(fast_policy())


class NoLedger:
    def append(self, _: object) -> bool:
        return True

    def append_many(self, events: object) -> int:
        return 0


def stores(target: Path | str) -> tuple[MessagingActivities, ConsentLedger, SendIntents, LocalOutbox]:
    """The send path's stores on a new SQLite file in a folder, or on the database at a URL."""
    db = LocalDb(target / f"{uuid.uuid4().hex}.db" if isinstance(target, Path) else target)
    outbox, consent, intents = LocalOutbox(db), ConsentLedger(db), SendIntents(db)
    channels = {c: outbox for c in Channel}
    return MessagingActivities(channels, outbox, consent, NoLedger(), intents=intents, salt=SALT), consent, \
        intents, outbox  # type: ignore[arg-type]


def request(appt: Appointment, step: str) -> SendRequest:
    case_id = f"case-{uuid.uuid4().hex[:24]}"
    return SendRequest(message_id=f"{case_id}-{step}", case_id=case_id,
                       contact_key=contact_key_for(appt.contact.contact_id, SALT), appointment=appt,
                       resolved=RESOLVED, template_id="missed_first", channels=[Channel.sms], first_message=True,
                       created_at=datetime.now(UTC))


def test_concurrent_sends_of_one_contact_never_pass_three_a_day(db_url: str) -> None:
    messaging, _, _, outbox = stores(db_url)
    phone, zone = daytime_contact()
    requests = [request(appointment(contact_id="c-race", phone=phone, timezone=zone, email=None), "step0")
                for _ in range(12)]
    results: list[str] = []
    start = threading.Barrier(len(requests))

    def send(req: SendRequest) -> None:
        start.wait()
        results.append(messaging.send_message(req).status)

    threads = [threading.Thread(target=send, args=(r,)) for r in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("sent") == 3, results
    assert results.count("deferred") == 9
    assert len(outbox.messages()) == 3


def test_one_phone_under_two_contacts_and_a_stop_under_either(db_url: str) -> None:
    messaging, consent, _, outbox = stores(db_url)
    phone, zone = daytime_contact()
    consent.opt_out("stop-1", address_key(phone, SALT))  # STOP from the number, no contact known
    for contact_id in ("c-a", "c-b"):
        appt = appointment(contact_id=contact_id, phone=phone, timezone=zone, email=None)
        out = messaging.send_message(request(appt, "step0"))
        assert out.status == "blocked" and "opted out" in out.reason
    assert outbox.messages() == []


# one operation of the interleaving: (kind, which contact, which address)
OPS = st.lists(st.tuples(st.sampled_from(["send", "send", "send", "stop_address", "stop_contact", "start"]),
                         st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=25)


# the broader interleavings (both stores, threads, routing) run in tests/engine/test_consent_interleavings.py
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_no_message_after_an_opt_out_and_no_cap_exceeded(tmp_path: Path, ops: list[tuple[str, int, int]]) -> None:
    """Two contacts share phone 0; contact 0 also has phone 1. Whatever the order of sends, STOPs (by address
    or by contact) and STARTs, a send goes only while neither its contact nor its address is opted out, and
    never more than three a day to one contact or one address."""
    messaging, consent, intents, outbox = stores(tmp_path)
    base, zone = daytime_contact()
    phones = [base, base[:-4] + ("0199" if base[-4:] != "0199" else "0198")]
    contacts = ["c-0", "c-1"]
    out_contacts: set[int] = set()
    out_addresses: set[int] = set()
    sent_to: list[tuple[int, int]] = []
    for n, (kind, who, which) in enumerate(ops):
        phone_index = which if who == 0 else 0
        if kind == "stop_address":
            consent.opt_out(f"e{n}", address_key(phones[phone_index], SALT))
            out_addresses.add(phone_index)
        elif kind == "stop_contact":
            consent.opt_out(f"e{n}", contact_key_for(contacts[who], SALT))
            out_contacts.add(who)
        elif kind == "start":
            consent.opt_in(f"e{n}", address_key(phones[phone_index], SALT))
            consent.opt_in(f"e{n}-c", contact_key_for(contacts[who], SALT))
            out_addresses.discard(phone_index)
            out_contacts.discard(who)
        else:
            appt = appointment(contact_id=contacts[who], phone=phones[phone_index], timezone=zone, email=None)
            status = messaging.send_message(request(appt, f"s{n}")).status
            if status == "sent":
                assert who not in out_contacts and phone_index not in out_addresses
                sent_to.append((who, phone_index))
            elif who not in out_contacts and phone_index not in out_addresses:
                assert status == "deferred"  # only a cap holds it back
    for who in (0, 1):
        assert sum(1 for w, _ in sent_to if w == who) <= 3
    for index in (0, 1):
        assert sum(1 for _, p in sent_to if p == index) <= 3
    assert len(outbox.messages()) == len(sent_to) == len([r for r in intents.rows() if r["status"] == "sent"])
    assert all(datetime.fromisoformat(str(m["created_at"])) > datetime.now(UTC) - timedelta(minutes=5)
               for m in outbox.messages())
