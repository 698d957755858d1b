"""QuickBooks Online built from settings: the OAuth token (Intuit's token endpoint authenticates the app with
HTTP Basic and may answer a new refresh token, which the token store keeps), the API client, its reconcile
source over change data capture, the webhook connector, the live probe and what `noshow demo --source quickbooks`
writes (a customer, an invoice for a service a program lists, voided). No network here, but in the demo."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from connectors.contract import PermanentProviderError
from connectors.oauth import BasicClientRefreshGrant, TokenManager
from connectors.quickbooks.client import QuickBooksClient
from connectors.quickbooks.inbound import QuickBooksWebhook
from connectors.quickbooks.source import QuickBooksSource
from connectors.settings import secret
from policies.loader import load_policy
from policies.schema import PolicyFile
from workers.providers.tokens import _manager
from workers.settings import Settings

if TYPE_CHECKING:
    from workers.dev.demo_polled import Customer


def quickbooks_token(s: Settings) -> TokenManager | None:
    q = s.quickbooks
    refresh = secret(q.refresh_token)
    if not (q.client_id and refresh):
        return None
    return _manager(s, "quickbooks", q.client_id, q.token_url,
                    BasicClientRefreshGrant(q.client_id, secret(q.client_secret) or "", refresh))


def quickbooks_client(s: Settings) -> QuickBooksClient:
    q = s.quickbooks
    return QuickBooksClient(quickbooks_token(s) or "", q.realm_id or "", base_url=q.base_url,
                            minorversion=q.minorversion, timeout=q.timeout_seconds)


def quickbooks_source(s: Settings) -> QuickBooksSource:
    def policy() -> PolicyFile:
        return load_policy(s.policy.file)

    return QuickBooksSource(quickbooks_client(s), policy)


def quickbooks_inbound(s: Settings) -> QuickBooksWebhook:
    return QuickBooksWebhook(secret(s.quickbooks.verifier_token) or "", realm_id=s.quickbooks.realm_id)


def quickbooks_probe(s: Settings) -> str:
    """Read-only: the company's info (`GET /company/{realmId}/companyinfo/{realmId}`)."""
    info = quickbooks_client(s).company_info()
    return f"company {info.get('Id') or s.quickbooks.realm_id} readable"


# ---------------------------------------------------------------------------- noshow demo --source quickbooks


def demo_service(s: Settings) -> str | None:
    """The service the demo bills and voids: the first plain name a program that starts cases for voided
    invoices lists."""
    for program in load_policy(s.policy.file).programs:
        rules = program.invoices
        if rules is not None and rules.voided == "case":
            plain = [name for name in rules.services if not any(c in name for c in "*?[")]
            if plain:
                return plain[0]
    return None


def demo_urls(s: Settings) -> list[str]:
    return [s.quickbooks.base_url, s.quickbooks.token_url]


def demo_problem(s: Settings) -> str | None:
    if demo_service(s) is None:
        return ("no program starts a case for a voided invoice: give one `invoices: {services: [<a service item "
                "name>], voided: case}`")
    return None


def demo_create(s: Settings, c: Customer, start: datetime, end: datetime) -> str:
    """A customer, an invoice for the demo service dated today, then voided: what the poll reports."""
    client = quickbooks_client(s)
    service = demo_service(s) or ""
    item = client.item_id(service)
    if item is None:
        raise PermanentProviderError("quickbooks: the demo service is not an item of the company", code="no_item")
    customer = client.create("Customer", {
        "DisplayName": f"{c.first} {c.last} (noshow demo {c.ref})", "GivenName": c.first, "FamilyName": c.last,
        "PrimaryEmailAddr": {"Address": c.email}, "Mobile": {"FreeFormNumber": c.phone}},
        f"noshow-demo-{c.ref}-customer")
    day = start.astimezone(UTC).date().isoformat()
    invoice = client.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "TxnDate": day, "Line": [{
        "Amount": 80.0, "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": item}, "ServiceDate": day}}]}, f"noshow-demo-{c.ref}-invoice")
    client.void_invoice(invoice, f"noshow-demo-{c.ref}-void")
    return str(invoice["Id"])
