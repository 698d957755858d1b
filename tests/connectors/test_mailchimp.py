"""Mailchimp specifics beyond the kit: the data centre and subscriber hash, the secret in the webhook URL checked
before the body is read (the GET ping excepted), unsubscribe / cleaned deliveries turned into email opt-outs of
the address in the consent ledger, the tag and journey calls shaped as documented against the fake account, and
the reactivation audience refusing anyone who opted out anywhere."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from activities.audience import ReactivationAudience
from connectors.contract import PermanentProviderError, RawRequest, SignatureError
from connectors.inbound import PayloadError
from connectors.local.consent import ConsentLedger
from connectors.local.db import LocalDb
from connectors.mailchimp.client import MailchimpClient, data_centre, subscriber_hash
from connectors.mailchimp.inbound import MailchimpWebhook
from domain import addresses
from domain.case import CrmUpdate
from domain.ids import contact_key_for
from policies.schema import MailchimpAudience, ReactivationRules
from tests.connectors.cases_mailchimp import KEY, SECRET, mailchimp_request
from tests.connectors.kit import fixture_bytes
from tests.fakes.mailchimp_fake import FakeMailchimp, audience_webhook
from tests.helpers import appointment, fast_policy, local_settings, resolved_of
from workers.dependencies import build_dependencies
from workers.intake.consent_notices import record_consent_notice

NOW = datetime(2026, 1, 6, 16, 0, tzinfo=UTC)
LIST = "a6b5da1054"
SALT = "noshow"


def test_subscriber_hash_and_data_centre_follow_the_documented_rules() -> None:
    assert subscriber_hash("Urist.McVankab@Example.com") == "cb63c7306d1853af527b11f0cb244d45"
    assert data_centre("0123abcd-us6") == "us6"
    assert MailchimpClient("0123abcd-us21").base_url == "https://us21.api.mailchimp.com/3.0"
    with pytest.raises(ValueError):
        MailchimpClient("no-data-centre-")


def test_the_secret_is_checked_in_constant_time_before_the_body_and_a_get_ping_needs_none() -> None:
    hook = MailchimpWebhook(SECRET)
    with pytest.raises(SignatureError):
        hook.verify(mailchimp_request(b"\xff not a form", NOW, SECRET + "x"), NOW)
    with pytest.raises(SignatureError):
        hook.verify(mailchimp_request(b"type=unsubscribe", NOW, None), NOW)
    assert hook.answers_validation_get
    with pytest.raises(ValueError):
        MailchimpWebhook("")


@pytest.mark.parametrize("body", [b"fired_at=2026-01-06+15%3A30%3A00",  # no type
                                  b"type=unsubscribe&fired_at=2026-01-06T15%3A30%3A00Z&data%5Bemail%5D=a%40b.co",
                                  b"type=cleaned&fired_at=2026-01-06+15%3A30%3A00",  # no address
                                  b"\xff\xfe"])
def test_an_unusable_authentic_delivery_is_a_payload_error(body: bytes) -> None:
    request = mailchimp_request(body, NOW)
    hook = MailchimpWebhook(SECRET)
    hook.verify(request, NOW)
    with pytest.raises(PayloadError):
        hook.parse(request)


def test_a_retried_delivery_is_a_duplicate_and_another_event_is_not() -> None:
    hook = MailchimpWebhook(SECRET)
    first = mailchimp_request(fixture_bytes("mailchimp", "unsubscribe.txt"), NOW)
    hook.verify(first, NOW)
    with pytest.raises(SignatureError):
        hook.verify(first, NOW)
    hook.verify(mailchimp_request(audience_webhook("unsubscribe", "user@example.com",
                                                   fired_at="2026-01-07 09:00:00"), NOW), NOW)
    # two addresses cleaned in the same second (`cleaned` names no member id) are two deliveries
    one, two = (mailchimp_request(f"type=cleaned&fired_at=2026-01-06+15%3A31%3A00&data%5Blist_id%5D=a6b5da1054"
                                  f"&data%5Breason%5D=hard&data%5Bemail%5D={who}%40example.com".encode(), NOW)
                for who in ("one", "two"))
    hook.verify(one, NOW)
    hook.verify(two, NOW)
    assert hook.dedupe_key(one) != hook.dedupe_key(two)
    assert "example" not in (hook.dedupe_key(one) or "")


def test_an_unsubscribe_opts_the_address_out_of_email_only_and_once(tmp_path: Path) -> None:
    deps = build_dependencies(local_settings(tmp_path))
    request = mailchimp_request(audience_webhook("unsubscribe", " Pat.Doe@Example.com "), NOW)
    (notice,) = MailchimpWebhook(SECRET).parse(request).consent
    record_consent_notice(deps, notice)
    record_consent_notice(deps, notice)  # the hand-off applying the delivery again
    key = addresses.address_key("pat.doe@example.com", deps.settings.auth.id_salt)
    assert deps.consent.opted_out_channels(key) == {"email"}
    assert deps.consent.is_blocked(key, "email") and not deps.consent.is_blocked(key, "sms")


def test_an_unreadable_address_records_nothing(tmp_path: Path) -> None:
    deps = build_dependencies(local_settings(tmp_path))
    (notice,) = MailchimpWebhook(SECRET).parse(mailchimp_request(audience_webhook("cleaned", "not-an-email"),
                                                                 NOW)).consent
    record_consent_notice(deps, notice)
    assert deps.consent.opted_out_channels(addresses.address_key("not-an-email", SALT)) == set()


def test_tag_and_journey_calls_are_shaped_as_documented() -> None:
    with FakeMailchimp(KEY) as fake:
        fake.add_member(LIST, "pat@example.com")
        fake.journeys[("77", "31")] = {"pat@example.com"}
        client = MailchimpClient(KEY, base_url=f"{fake.base_url}/3.0")
        client.add_tag(LIST, "Pat@Example.com", "missed-appointment")
        client.trigger_journey("77", "31", "pat@example.com")
        (tag_call,) = fake.calls("POST", "/tags")
        assert tag_call.path == f"/3.0/lists/{LIST}/members/{subscriber_hash('pat@example.com')}/tags"
        assert tag_call.json() == {"tags": [{"name": "missed-appointment", "status": "active"}], "is_syncing": False}
        assert tag_call.headers["authorization"].startswith("Basic ")
        assert fake.tags(LIST, "pat@example.com") == ["missed-appointment"]
        assert fake.triggered == [("77", "31", "pat@example.com")]
        with pytest.raises(PermanentProviderError) as refused:
            client.trigger_journey("77", "31", "stranger@example.com")
        assert refused.value.code == "Bad Request"
        with pytest.raises(PermanentProviderError) as unknown:
            MailchimpClient("wrong-us6", base_url=f"{fake.base_url}/3.0").ping()
        assert unknown.value.code == "API Key Invalid"


def _rules(target: MailchimpAudience) -> ReactivationRules:
    return ReactivationRules(crm_field="reactivation_list", crm_value="reactivation", mailchimp=target)


def _close(email: str | None, phone: str | None = None, listed: bool = True,
           target: MailchimpAudience | None = None) -> CrmUpdate:
    policy = fast_policy()
    resolved = resolved_of(policy)
    resolved.program.reactivation = _rules(target or MailchimpAudience(list_id=LIST, tag="missed-appointment"))
    appt = appointment(email=email, phone=phone, timezone="America/New_York" if phone else None)
    fields = {"recovery_status": "unrecovered", **({"reactivation_list": "reactivation"} if listed else {})}
    return CrmUpdate(case_id="case-0123456789abcdef01234567", step="closed", appointment=appt, resolved=resolved,
                     fields=fields)


@pytest.fixture
def consent(tmp_path: Path) -> ConsentLedger:
    return ConsentLedger(LocalDb(tmp_path / "engine.db"))


def test_a_consenting_contact_is_tagged_and_one_who_opted_out_anywhere_is_not(consent: ConsentLedger) -> None:
    with FakeMailchimp(KEY) as fake:
        audience = ReactivationAudience(MailchimpClient(KEY, base_url=f"{fake.base_url}/3.0"), consent, SALT, "US")
        for who in ("yes@example.com", "email-out@example.com", "sms-out@example.com", "unsub@example.com"):
            fake.add_member(LIST, who, status="unsubscribed" if who.startswith("unsub") else "subscribed")
        consent.opt_out("mc-1", addresses.address_key("email-out@example.com", SALT), channel="email")
        sms_out = _close("sms-out@example.com", phone="+12125550142")
        consent.opt_out("stop-1", addresses.address_key("+12125550142", SALT), channel="sms")
        consenting = _close("yes@example.com")
        keyed = _close("yes@example.com")
        consent.opt_out("stop-2", contact_key_for(keyed.appointment.contact.contact_id, SALT))

        assert audience.enrol(_close("email-out@example.com")) == "opted_out"
        assert audience.enrol(sms_out) == "opted_out"
        assert audience.enrol(keyed) == "opted_out"
        assert audience.enrol(_close("unsub@example.com")) == "opted_out"  # Mailchimp's own status
        assert audience.enrol(_close("yes@example.com", listed=False)) == "not_listed"
        assert audience.enrol(_close(None, phone="+12125550143")) == "no_email"
        assert fake.calls("POST", "/tags") == []
        assert audience.enrol(consenting) == "added"
        assert [fake.tags(LIST, w) for w in ("yes@example.com", "email-out@example.com", "sms-out@example.com",
                                             "unsub@example.com")] == [["missed-appointment"], [], [], []]


def test_a_journey_step_is_triggered_and_a_refusal_does_not_fail_the_close(consent: ConsentLedger) -> None:
    target = MailchimpAudience(journey_id="77", step_id="31")
    with FakeMailchimp(KEY) as fake:
        fake.journeys[("77", "31")] = {"in@example.com"}
        audience = ReactivationAudience(MailchimpClient(KEY, base_url=f"{fake.base_url}/3.0"), consent, SALT, "US")
        assert audience.enrol(_close("in@example.com", target=target)) == "added"
        assert audience.enrol(_close("out@example.com", target=target)) == "refused"
        assert audience.enrol(_close("absent@example.com")) == "refused"  # tagging a non-member: 404
        assert fake.triggered == [("77", "31", "in@example.com")]
        fake.fail_next(503, {"title": "Service Unavailable"})
        assert audience.enrol(_close("in@example.com", target=target)) == "unavailable"


@pytest.mark.parametrize("target", [{"list_id": LIST}, {"tag": "x"}, {"list_id": LIST, "tag": "x", "journey_id": "1",
                                                                      "step_id": "2"},
                                    {"journey_id": "1"}, {}, {"list_id": "../x", "tag": "t"}])
def test_the_policy_names_a_tag_or_a_journey_step(target: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        MailchimpAudience(**target)


def test_the_mailchimp_list_follows_the_crm_reactivation_field() -> None:
    with pytest.raises(ValidationError):
        ReactivationRules(mailchimp=MailchimpAudience(list_id=LIST, tag="t"))


def test_a_raw_request_without_query_is_refused() -> None:
    bare = RawRequest(method="POST", url="https://example.com/webhooks/mailchimp", headers={}, body=b"type=profile")
    with pytest.raises(SignatureError):
        MailchimpWebhook(SECRET).verify(bare, NOW)
