"""`noshow demo --source quickbooks`: a customer and a service invoice on the company, then voided, which the
QuickBooks poll reports as a cancellation for a program with `invoices: {voided: case}`."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.contract import PermanentProviderError
from policies.loader import load_policy
from workers.dev.demo_customer import Customer
from workers.providers.quickbooks import quickbooks_client
from workers.settings import Settings


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
