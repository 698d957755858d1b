"""QuickBooks Online specifics beyond the kit: both webhook formats asking for the change-data-capture poll (other
companies and entities listed, never raised), OAuth with the app in HTTP Basic and the refresh token Intuit
rotates, `minorversion` on every call, Intuit's fault codes, and the poll: only voided invoices whose service the
covering program lists, as a staff task or a case per program, with a cursor that moves on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from activities.reconcile import ReconcileActivities
from connectors.contract import PermanentProviderError, SignatureError
from connectors.inbound import PayloadError
from connectors.oauth import BasicClientRefreshGrant, MemoryTokenStore, TokenManager
from connectors.quickbooks.client import QuickBooksClient
from connectors.quickbooks.inbound import QuickBooksWebhook
from connectors.quickbooks.source import STAFF_REASON, QuickBooksSource
from domain.reconcile import ReconcileInput, ReconcileResult
from policies.schema import InvoiceRules, PolicyFile
from tests.connectors.cases_quickbooks import REALM, VERIFIER, quickbooks_request, sign
from tests.fakes.quickbooks_fake import FakeQuickBooks, signed_notification
from tests.helpers import default_program, fast_policy

NOW = datetime(2026, 1, 6, 16, 0, tzinfo=UTC)
COMPANY = "9130357766900456"


def test_a_forged_signature_is_refused_before_the_body_is_read() -> None:
    request = quickbooks_request(b"{not json", NOW, sign(b"{not json", "other-token"))
    with pytest.raises(SignatureError):
        QuickBooksWebhook(VERIFIER).verify(request, NOW)
    with pytest.raises(ValueError):
        QuickBooksWebhook("")


@pytest.mark.parametrize("body", [b"{not json", b'{"other": 1}', b'[{"type": "invoice.updated"}]', b"42"])
def test_an_unusable_authentic_body_is_a_payload_error(body: bytes) -> None:
    request = quickbooks_request(body, NOW)
    hook = QuickBooksWebhook(VERIFIER)
    hook.check_signature(request, NOW)
    with pytest.raises(PayloadError):
        hook.parse(request)


def test_another_companys_changes_and_other_entities_are_listed_not_acted_on() -> None:
    body, signature = signed_notification(VERIFIER, [("Invoice", "7", "Void")], realm="555")
    result = QuickBooksWebhook(VERIFIER, realm_id=REALM).parse(quickbooks_request(body, NOW, signature))
    assert result.sync_sources == [] and result.unknown_types == ["other_company"]
    body, signature = signed_notification(VERIFIER, [("Payment", "8", "Create"), ("Estimate", "9", "Delete"),
                                                     ("Invoice", "10", "Delete")], realm=REALM)
    result = QuickBooksWebhook(VERIFIER, realm_id=REALM).parse(quickbooks_request(body, NOW, signature))
    assert result.sync_sources == ["quickbooks"] and result.unknown_types == ["Payment.Create", "Estimate.Delete"]


def _tokens(fake: FakeQuickBooks) -> TokenManager:
    return TokenManager("quickbooks", "qb-client", f"{fake.base_url}/oauth2/v1/tokens/bearer",
                        BasicClientRefreshGrant("qb-client", "qb-secret", "AB11-refresh-0"), MemoryTokenStore())


def test_oauth_keeps_up_with_the_rotated_refresh_token_and_sends_minorversion() -> None:
    with FakeQuickBooks() as fake:
        tokens = _tokens(fake)
        client = QuickBooksClient(tokens, COMPANY, base_url=f"{fake.base_url}/v3", minorversion=75)
        assert client.company_info()["Id"] == COMPANY
        fake.revoke_bearer()  # the access token dies before its hour: a 401, one refresh with the rotated token
        assert client.company_info()["Id"] == COMPANY
        token_calls = fake.calls("POST", "/oauth2/v1/tokens/bearer")
        assert [c.form()["refresh_token"] for c in token_calls] == ["AB11-refresh-0", "AB11-refresh-100"]
        assert all(c.headers["authorization"].startswith("Basic ") for c in token_calls)
        api_calls = fake.calls("GET", "/v3/company/")
        assert len(api_calls) == 3 and {c.query.get("minorversion") for c in api_calls} == {"75"}


def test_an_unknown_object_is_permanent_with_intuits_code() -> None:
    with FakeQuickBooks(access_token="static") as fake:
        client = QuickBooksClient("static", COMPANY, base_url=f"{fake.base_url}/v3")
        with pytest.raises(PermanentProviderError) as missing:
            client.entity("Invoice", "404404")
        assert missing.value.code == "610"
        with pytest.raises(PermanentProviderError) as elsewhere:
            QuickBooksClient("static", "1", base_url=f"{fake.base_url}/v3").company_info()
        assert elsewhere.value.code == "3100"


def _policy(voided: str, services: list[str] | None = None) -> PolicyFile:
    policy = fast_policy()
    default_program(policy).invoices = InvoiceRules(services=services or ["Cleaning*"], voided=voided)  # type: ignore[arg-type]
    return policy


def _company(fake: FakeQuickBooks, day: str) -> dict[str, str]:
    pat = fake.add_customer("Pat Doe", "pat@example.com", "+1 212 555 0142")
    ids = {"cleaning": fake.add_invoice(pat, ["Cleaning (60 min)"], day),
           "product": fake.add_invoice(pat, ["Toothbrush"], day),
           "paid": fake.add_invoice(pat, ["Cleaning (30 min)"], day),
           "deleted": fake.add_invoice(pat, ["Cleaning (60 min)"], day)}
    fake.void(ids["cleaning"])
    fake.void(ids["product"])
    fake.delete(ids["deleted"])
    return ids


def _source(fake: FakeQuickBooks, voided: str, services: list[str] | None = None) -> QuickBooksSource:
    client = QuickBooksClient("static", COMPANY, base_url=f"{fake.base_url}/v3")
    return QuickBooksSource(client, lambda: _policy(voided, services))


def _reconcile(source: QuickBooksSource, now: datetime) -> ReconcileResult:
    return ReconcileActivities({"quickbooks": source}).reconcile_source(
        ReconcileInput(source="quickbooks", cursor=(now - timedelta(hours=1)).isoformat()))


def test_a_voided_service_invoice_starts_a_case_when_the_program_says_so() -> None:
    now = datetime.now(UTC)
    with FakeQuickBooks(access_token="static") as fake:
        ids = _company(fake, now.date().isoformat())
        source = _source(fake, "case")
        page = source.poll((now - timedelta(hours=1)).isoformat(), now)
        (snap,) = page.snapshots
        appt = snap.appointment
        assert snap.status == "cancelled" and appt.appointment_id == ids["cleaning"]
        assert appt.appointment_type == "Cleaning (60 min)" and appt.start.date() == now.date()
        assert appt.contact.contact_id.startswith("quickbooks:") and "@" not in appt.contact.contact_id
        assert (appt.contact.email, appt.contact.phone) == ("pat@example.com", "+1 212 555 0142")
        assert page.contact_problems == {}
        assert page.cursor is not None and datetime.fromisoformat(page.cursor) > now - timedelta(minutes=1)
        assert fake.calls("GET", "/cdc")[0].query["entities"] == "Invoice"

        source.poll(page.cursor, now)  # the next poll asks for changes from the latest one seen
        cursor = datetime.fromisoformat(page.cursor).replace(microsecond=0)
        assert datetime.fromisoformat(fake.calls("GET", "/cdc")[-1].query["changedSince"]) == cursor

        result = _reconcile(source, now)
        assert [e.type.value for e in result.events] == ["appointment.cancelled"] and result.needs_review == []


def test_a_voided_service_invoice_asks_staff_when_the_program_says_so() -> None:
    now = datetime.now(UTC)
    with FakeQuickBooks(access_token="static") as fake:
        ids = _company(fake, now.date().isoformat())
        result = _reconcile(_source(fake, "staff_task"), now)
        assert result.events == []
        (review,) = result.needs_review
        assert review.appointment_id == ids["cleaning"] and review.reason == STAFF_REASON
        assert fake.calls("GET", "/customer/") == []  # nobody is contacted: the customer is not even read


def test_no_program_listing_the_service_reports_nothing() -> None:
    now = datetime.now(UTC)
    with FakeQuickBooks(access_token="static") as fake:
        _company(fake, now.date().isoformat())
        page = _source(fake, "case", ["Whitening"]).poll(None, now)
        assert page.snapshots == [] and page.contact_problems == {}


def test_the_cloudevents_body_is_read_like_the_legacy_one() -> None:
    body = json.dumps([{"specversion": "1.0", "id": "e-1", "source": "intuit.source", "type": "qbo.invoice.voided.v1",
                        "time": "2026-01-06T15:00:00Z", "intuitentityid": "133", "intuitaccountid": REALM,
                        "data": {}}]).encode()
    result = QuickBooksWebhook(VERIFIER, realm_id=REALM).parse(quickbooks_request(body, NOW))
    assert result.sync_sources == ["quickbooks"] and result.dedupe_key
