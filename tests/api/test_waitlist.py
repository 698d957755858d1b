"""A cancellation frees a slot and the waitlist gets it, end to end through the HTTP API: signed cancellation in,
offers out, a waitlisted contact's "yes" books it, the others hear it is gone; opt-outs and strangers are honoured.
Real Temporal dev server and worker; only the customer's side is simulated (through /inbound/local)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from connectors.local.waitlist import LocalWaitlist
from domain.backfill import backfill_id_for
from domain.ids import contact_key_for
from domain.models import Contact, EventType
from tests.api.conftest import ADMIN, REVIEWER, Api, envelope
from tests.helpers import default_program, eventually, fast_policy
from workers.dev.demo import daytime_contact

TYPE = "consultation"


def waiting_contacts(api: Api, calendar_id: str, count: int) -> list[Contact]:
    phone, zone = daytime_contact()
    waitlist = LocalWaitlist(api.stack.deps.db)
    base = datetime.now(UTC) - timedelta(days=7)
    out = []
    for n in range(count):
        contact = Contact(contact_id=f"w-{uuid.uuid4().hex[:10]}", name=f"Waiting {n}",
                          phone=phone[:-2] + f"{n + 20:02d}", timezone=zone)
        api.stack.deps.crm.upsert_contact(contact)
        waitlist.add(contact.contact_id, TYPE, calendar_id, at=base + timedelta(hours=n))
        out.append(contact)
    return out


def future_start(hours: float = 4) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(second=0, microsecond=0)


def templates_to(api: Api, case_id: str, contact: Contact) -> list[str]:
    key = contact_key_for(contact.contact_id, api.stack.deps.settings.auth.id_salt)
    return sorted(str(m["template_id"]).split("@")[0] for m in api.stack.deps.outbox.messages(case_id=case_id)
                  if m["contact_key"] == key)


async def cancel(api: Api, calendar_id: str, start: datetime, appointment_id: str | None = None) -> dict[str, object]:
    payload = envelope(EventType.cancelled, appointment_id=appointment_id, start=start, calendar_id=calendar_id,
                       appointment_type=TYPE)
    response = await api.post_event(payload)
    assert response.status_code == 200, response.text
    outcome: dict[str, object] = response.json()["events"][0]
    return outcome


async def reply(api: Api, case_id: str, text: str, sender: str | None) -> httpx.Response:
    return await api.http.post("/inbound/local", headers=ADMIN,
                               json={"case_id": case_id, "text": text, "sender": sender})


async def backfill_state(api: Api, backfill_id: str) -> dict[str, object]:
    response = await api.http.get(f"/backfills/{backfill_id}", headers=REVIEWER)
    assert response.status_code == 200, response.text
    state: dict[str, object] = response.json()
    return state


async def test_a_cancellation_is_offered_to_the_waitlist_and_the_first_yes_books_it(api: Api) -> None:
    calendar_id = f"cal-{uuid.uuid4().hex[:8]}"
    first, second = waiting_contacts(api, calendar_id, 2)
    start = future_start()
    appointment_id = f"appt-{uuid.uuid4().hex[:8]}"
    calendar = api.stack.deps.calendar
    calendar.add_appointment(appointment_id, calendar_id, "owner-1", "c-gone", TYPE, start,
                             start + timedelta(minutes=30))

    outcome = await cancel(api, calendar_id, start, appointment_id)
    backfill_id = str(outcome["backfill_id"])
    assert outcome["status"] == "accepted" and backfill_id.startswith("backfill-")
    assert calendar.appointment(appointment_id)["status"] == "cancelled"  # type: ignore[index]
    await eventually(lambda: backfill_state(api, backfill_id), lambda s: len(s["offered"]) == 2)  # type: ignore[arg-type]
    assert templates_to(api, backfill_id, first) == ["waitlist_offer"]
    assert templates_to(api, backfill_id, second) == ["waitlist_offer"]

    answered = await reply(api, backfill_id, "Yes please!", sender=second.phone)
    assert answered.status_code == 200, answered.text
    assert answered.json()["routed"] == "waitlist_offer" and answered.json()["backfill"] == "signalled"
    done = await eventually(lambda: backfill_state(api, backfill_id), lambda s: s["stage"] != "backfilling")
    assert done["stage"] == "backfilled"
    assert done["winner"] == contact_key_for(second.contact_id, api.stack.deps.settings.auth.id_salt)
    assert templates_to(api, backfill_id, second) == ["confirm_booking", "waitlist_offer"]
    confirm = next(m for m in api.stack.deps.outbox.messages(case_id=backfill_id)
                   if str(m["template_id"]).startswith("confirm_booking"))
    local = start.astimezone(ZoneInfo(str(second.timezone)))
    # the customer's clock, as policies/times.py writes it, not ISO text
    assert f"{local.strftime('%a %b')} {local.day}, {local.strftime('%I:%M %p').lstrip('0')}" in str(confirm["body"])
    assert start.isoformat()[:16] not in str(confirm["body"])
    await eventually(lambda: _async(templates_to(api, backfill_id, first)), lambda t: "slot_gone" in t)

    with api.stack.deps.db.connect() as conn:
        booked = conn.execute("SELECT contact_id FROM appointments WHERE calendar_id = ? AND status = 'booked'",
                              (calendar_id,)).fetchall()
    assert [r[0] for r in booked] == [second.contact_id]  # exactly one booking, for the one who said yes
    # the winner leaves the waitlist; the other keeps their place
    assert [e.contact_id for e in LocalWaitlist(api.stack.deps.db).waiting(TYPE, calendar_id)] == [first.contact_id]
    types = {e.type for e in api.stack.deps.ledger.events(backfill_id)}
    assert {"backfill_opened", "backfilled"} <= types

    # a late yes from the other person cannot take it any more, and a human hears about it
    late = await reply(api, backfill_id, "yes", sender=first.phone)
    assert late.json()["backfill"] in ("signalled", "closed")
    await eventually(lambda: backfill_state(api, backfill_id), lambda s: s["stage"] == "backfilled")


async def test_stop_to_a_waitlist_offer_opts_out_everywhere_with_one_confirmation(api: Api) -> None:
    calendar_id = f"cal-{uuid.uuid4().hex[:8]}"
    (only,) = waiting_contacts(api, calendar_id, 1)
    backfill_id = str((await cancel(api, calendar_id, future_start()))["backfill_id"])
    await eventually(lambda: backfill_state(api, backfill_id), lambda s: len(s["offered"]) == 1)  # type: ignore[arg-type]

    for text in ("STOP", "stop texting me"):  # a second opt-out from someone already out gets no second note
        stopped = await reply(api, backfill_id, text, sender=only.phone)
        assert stopped.status_code == 200 and stopped.json()["opted_out"] is True
    key = contact_key_for(only.contact_id, api.stack.deps.settings.auth.id_salt)
    assert api.stack.deps.consent.is_blocked(key, "sms")
    confirmations = [m for m in api.stack.deps.outbox.messages(case_id=backfill_id)
                     if str(m["template_id"]).startswith("consent_")]
    assert len(confirmations) == 1 and confirmations[0]["recipient"] == only.phone
    # the opt-out is not a yes: nobody was booked
    with api.stack.deps.db.connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM appointments WHERE calendar_id = ? AND status = 'booked'",
                            (calendar_id,)).fetchone()[0] == 0


async def test_a_reply_to_a_waitlist_offer_without_a_sender_is_kept_for_a_human(api: Api) -> None:
    calendar_id = f"cal-{uuid.uuid4().hex[:8]}"
    waiting_contacts(api, calendar_id, 1)
    backfill_id = str((await cancel(api, calendar_id, future_start()))["backfill_id"])
    answered = await reply(api, backfill_id, "yes", sender=None)
    assert answered.status_code == 200
    assert answered.json()["backfill"] == "unknown_sender"
    with api.stack.deps.db.connect() as conn:
        routed = conn.execute("SELECT routed FROM inbound WHERE case_id = ?", (backfill_id,)).fetchall()
    assert [r[0] for r in routed] == ["waitlist_offer"]  # recorded, not lost
    state = await backfill_state(api, backfill_id)
    assert state["winner"] is None


async def test_no_backfill_without_a_waitlist_or_for_a_slot_already_past(api: Api) -> None:
    calendar_id = f"cal-{uuid.uuid4().hex[:8]}"
    assert (await cancel(api, calendar_id, future_start()))["backfill_id"] is None  # nobody waiting
    waiting_contacts(api, calendar_id, 1)
    past = (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)
    assert (await cancel(api, calendar_id, past))["backfill_id"] is None
    # too close to the slot for anyone to plan for it (policy: stop_before_minutes, 60 by default)
    assert (await cancel(api, calendar_id, future_start(hours=0.5)))["backfill_id"] is None
    assert not [w async for w in api.stack.client.list_workflows(
        f"TaskQueue = '{api.stack.deps.settings.temporal.task_queue}' AND WorkflowType = 'SlotBackfill'")]


async def test_a_reschedule_to_another_time_frees_the_old_one(api: Api) -> None:
    calendar_id = f"cal-{uuid.uuid4().hex[:8]}"
    waiting_contacts(api, calendar_id, 1)
    payload = envelope(EventType.rescheduled, start=future_start(), calendar_id=calendar_id, appointment_type=TYPE)
    response = await api.post_event(payload)
    assert response.status_code == 200, response.text
    assert str(response.json()["events"][0]["backfill_id"]).startswith("backfill-")


async def test_waitlist_endpoints_need_the_admin_token_and_keep_the_queue_order(api: Api) -> None:
    calendar_id = f"cal-{uuid.uuid4().hex[:8]}"
    phone, zone = daytime_contact()
    join = {"contact": {"contact_id": "wl-1", "phone": phone, "timezone": zone}, "appointment_type": TYPE,
            "calendar_id": calendar_id}
    assert (await api.http.post("/waitlist", json=join)).status_code == 401
    assert (await api.http.post("/waitlist", json=join, headers=REVIEWER)).status_code == 403
    first = await api.http.post("/waitlist", json=join, headers=ADMIN)
    assert first.status_code == 200 and first.json() == {"added": True, "position": 1}
    join2 = {**join, "contact": {"contact_id": "wl-2", "phone": phone}}
    assert (await api.http.post("/waitlist", json=join2, headers=ADMIN)).json() == {"added": True, "position": 2}
    again = await api.http.post("/waitlist", json=join, headers=ADMIN)
    assert again.json() == {"added": False, "position": 1}  # joining again keeps the place
    params = {"appointment_type": TYPE, "calendar_id": calendar_id}
    listed = await api.http.get("/waitlist", params=params, headers=ADMIN)
    assert [e["contact_id"] for e in listed.json()] == ["wl-1", "wl-2"]
    assert "phone" not in listed.text and phone not in listed.text
    removed = await api.http.delete("/waitlist/wl-1", params=params, headers=ADMIN)
    assert removed.json() == {"removed": True}
    assert [e["contact_id"] for e in (await api.http.get("/waitlist", params=params, headers=ADMIN)).json()] == ["wl-2"]
    bad = await api.http.post("/waitlist", json={**join, "contact": {"contact_id": "has space"}}, headers=ADMIN)
    assert bad.status_code == 422
    assert (await api.http.get("/backfills/backfill-nope", headers=REVIEWER)).status_code == 404
    assert (await api.http.get("/backfills/other", headers=REVIEWER)).status_code == 404


async def _async(value: list[str]) -> list[str]:
    return value


async def test_a_customer_cancelling_their_rebooked_appointment_frees_it_for_the_waitlist(api: Api) -> None:
    policy = fast_policy()
    default_program(policy).rebooking.lead_time_hours = 3  # the new appointment is far enough ahead to backfill
    api.stack.write_policy(policy)
    payload = envelope(EventType.no_show, appointment_type=TYPE)
    case_id = str((await api.post_event(payload)).json()["events"][0]["case_id"])
    calendar_id = payload["data"]["appointment"]["calendar_id"]  # type: ignore[index]
    (waiting,) = waiting_contacts(api, str(calendar_id), 1)

    await eventually(lambda: case_state(api, case_id), lambda s: s["stage"] == "recovering")
    await reply(api, case_id, "can we find another time?", sender=None)
    offered = await eventually(lambda: case_state(api, case_id), lambda s: s["stage"] == "offering")
    await reply(api, case_id, "1", sender=None)
    await eventually(lambda: case_state(api, case_id), lambda s: s["stage"] == "following")
    await reply(api, case_id, "never mind, I found someone else", sender=None)
    await eventually(lambda: case_state(api, case_id), lambda s: s["stage"] != "following")

    start = datetime.fromisoformat(str(offered["offered"][0]["start"]))  # type: ignore[index]
    backfill_id = backfill_id_for(str(calendar_id), start, api.stack.deps.settings.auth.id_salt)
    state = await eventually(lambda: backfill_state(api, backfill_id), lambda s: len(s["offered"]) == 1)  # type: ignore[arg-type]
    assert state["offered"] == [contact_key_for(waiting.contact_id, api.stack.deps.settings.auth.id_salt)]


async def case_state(api: Api, case_id: str) -> dict[str, object]:
    response = await api.http.get(f"/cases/{case_id}", headers=ADMIN)
    assert response.status_code == 200, response.text
    state: dict[str, object] = response.json()
    return state
