"""Addresses at the edge: normalised once, and an unreadable one refused with a clear 422 that starts nothing
and does not echo it."""

from __future__ import annotations

import pytest
from temporalio.service import RPCError

from domain import addresses
from domain.models import Channel
from tests.api.conftest import ADMIN, Api, envelope


@pytest.mark.parametrize(("channel", "raw", "region", "expected"), [
    (Channel.sms, "+61 2 9374 0304", "US", "+61293740304"),
    (Channel.sms, "(212) 555-0100", "US", "+12125550100"),
    (Channel.sms, "02 9374 0304", "AU", "+61293740304"),
    (Channel.sms, "tel:+1-212-555-0100", "US", "+12125550100"),
    (Channel.whatsapp, "whatsapp:+14155550100", "US", "whatsapp:+14155550100"),
    (Channel.whatsapp, "+1 415 555 0100", "US", "whatsapp:+14155550100"),
    (Channel.email, "  Pat.Example@Example.COM ", "US", "pat.example@example.com"),
])
def test_addresses_normalise_to_one_form(channel: Channel, raw: str, region: str, expected: str) -> None:
    assert addresses.normalise(channel, raw, region) == expected


@pytest.mark.parametrize(("channel", "raw"), [
    (Channel.sms, "12345"), (Channel.sms, "call the office"), (Channel.sms, ""), (Channel.sms, "+1"),
    (Channel.email, "pat@"), (Channel.email, "pat example@example.com"), (Channel.email, "no-at-sign"),
    (Channel.whatsapp, "whatsapp:"),
])
def test_unreadable_addresses_are_refused_without_echoing_them(channel: Channel, raw: str) -> None:
    with pytest.raises(addresses.AddressError) as err:
        addresses.normalise(channel, raw)
    assert not raw.strip() or raw.strip() not in str(err.value)


def test_sms_and_whatsapp_of_one_number_share_one_consent_subject() -> None:
    sms = addresses.normalise(Channel.sms, "+1 415 555 0100")
    wa = addresses.normalise(Channel.whatsapp, "whatsapp:+14155550100")
    assert addresses.address_key(sms, "s") == addresses.address_key(wa, "s")


async def test_an_event_with_an_unreadable_phone_gets_422_and_starts_nothing(api: Api) -> None:
    payload = envelope(phone="n/a (ask at desk)", timezone="America/New_York")
    r = await api.post_event(payload)
    assert r.status_code == 422
    assert "contact phone" in r.json()["detail"] and "ask at desk" not in r.text
    appt = payload["data"]["appointment"]  # type: ignore[index]
    case_id = api.stack.cases.case_id(appt["source"], appt["appointment_id"])
    with pytest.raises(RPCError):
        await api.stack.client.get_workflow_handle(case_id).describe()
    with api.stack.deps.db.connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM case_addresses").fetchone()[0] == 0


async def test_an_event_with_a_spaced_phone_is_stored_in_e164(api: Api) -> None:
    payload = envelope(phone="+1 (212) 555-0142", timezone="America/New_York", email="Mixed.Case@Example.com")
    r = await api.post_event(payload)
    assert r.status_code == 200, r.text
    contact_id = payload["data"]["appointment"]["contact"]["contact_id"]  # type: ignore[index]
    stored = api.stack.deps.crm.contact(contact_id)
    assert stored is not None and stored.phone == "+12125550142" and stored.email == "mixed.case@example.com"


async def test_a_reply_from_an_unreadable_sender_gets_422(api: Api) -> None:
    r = await api.http.post("/inbound/local", headers=ADMIN,
                            json={"case_id": "case-" + "0" * 24, "text": "STOP", "channel": "sms",
                                  "sender": "call me maybe"})
    assert r.status_code == 422 and "call me maybe" not in r.text
    with api.stack.deps.db.connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM consent_events").fetchone()[0] == 0


async def test_an_unroutable_reply_becomes_a_staff_task_in_the_api(api: Api) -> None:
    r = await api.http.post("/inbound/local", headers=ADMIN,
                            json={"case_id": "case-" + "0" * 24, "text": "is this the dentist?", "channel": "sms",
                                  "sender": "+12125550177"})
    assert r.status_code == 200 and r.json()["routed"] == "closed_case"
    assert (await api.http.get("/inbox/tasks")).status_code == 401
    tasks = (await api.http.get("/inbox/tasks", headers=ADMIN)).json()
    assert [(t["reply_id"], t["text"]) for t in tasks] == [(r.json()["reply_id"], "is this the dentist?")]
