"""QuickBooks Online invoices as reconcile snapshots, read by change data capture (`GET .../cdc?entities=Invoice&
changedSince=`) from a cursor (the latest `MetaData.LastUpdatedTime` seen), which the webhook asks to run at once
and the reconcile Schedule runs as Intuit's recommended safety net
(https://developer.intuit.com/app/developer/qbo/docs/develop/webhooks/best-practices).

Only a voided invoice is reported, and only when one of its lines names a service the program covering it lists
(`invoices.services`, item names; the program is matched with the item name as the appointment type): the
service did not happen as billed. The program then says what it does (`invoices.voided`): start a case as a
cancellation (a `cancelled` snapshot), or ask a person (the reconcile "needs review" task, which reaches the
staff inbox) and start nothing. The appointment id is the invoice id, the contact `quickbooks:<customer id>`
with the customer's name, email and phone read once per customer per poll; no text of the invoice goes into an
id. An invoice has a date, not a time: the appointment is the line's `ServiceDate` (else `TxnDate`) from 00:00
UTC for an hour.
UNVERIFIED: that a void shows as `TotalAmt` 0 with a `PrivateNote` starting "Voided" (standard v3 behaviour,
not a documented field); a deleted invoice comes back with only its id, so which services it held is unknown
and it is not reported (the `Delete` webhook asks for the same poll, which skips it).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from connectors.contract import ProviderError
from connectors.inbound import clip, dict_at, opt_dt
from connectors.quickbooks.client import QuickBooksClient
from connectors.sync import ReconcilePage, Snapshot
from domain.models import Appointment, Contact
from policies.loader import program_for
from policies.schema import InvoiceRules, PolicyFile

log = structlog.get_logger(__name__)

STAFF_REASON = "a service invoice was voided and the program hands voided invoices to staff"
CDC_LOOKBACK = timedelta(days=30)  # Intuit's change data capture reaches this far back


def is_voided(invoice: dict[str, Any]) -> bool:
    note = str(invoice.get("PrivateNote") or "")
    total = invoice.get("TotalAmt")
    return note.lower().startswith("voided") and isinstance(total, int | float) and float(total) == 0.0


def service_lines(invoice: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(item name, service date) of each sales line."""
    out: list[tuple[str, str | None]] = []
    for line in invoice.get("Line") or []:
        if not isinstance(line, dict) or line.get("DetailType") != "SalesItemLineDetail":
            continue
        detail = dict_at(line, "SalesItemLineDetail")
        name = clip(dict_at(detail, "ItemRef").get("name"), 100)
        if name:
            out.append((name, clip(detail.get("ServiceDate"), 10)))
    return out


def covers(rules: InvoiceRules, item: str) -> bool:
    return any(fnmatch.fnmatch(item.lower(), pattern.lower()) for pattern in rules.services)


class QuickBooksSource:
    def __init__(self, client: QuickBooksClient, policy: Callable[[], PolicyFile], source: str = "quickbooks",
                 first_lookback: timedelta = timedelta(days=1)) -> None:
        self.client, self.policy, self.source, self.first_lookback = client, policy, source, first_lookback

    def poll(self, cursor: str | None, now: datetime) -> ReconcilePage:
        since = max((opt_dt(cursor) if cursor else None) or now - self.first_lookback, now - CDC_LOOKBACK)
        invoices = self.client.changed(["Invoice"], since)["Invoice"]
        policy = self.policy()
        people: dict[str, dict[str, Any]] = {}
        page = ReconcilePage(cursor=since.astimezone(UTC).isoformat())
        latest = since
        for invoice in invoices:
            changed = opt_dt(dict_at(invoice, "MetaData").get("LastUpdatedTime"))
            latest = max(latest, changed or latest)
            if invoice.get("status") == "Deleted" or not is_voided(invoice) or not invoice.get("Id"):
                continue
            found = self._covered(policy, invoice, changed or now)
            if found is None:
                continue
            appointment, rules = found
            if rules.voided == "staff_task":
                page.contact_problems[appointment.appointment_id] = STAFF_REASON
            else:
                appointment = self._with_customer(appointment, invoice, people, page)
            page.snapshots.append(Snapshot(appointment=appointment, status="cancelled",
                                           changed_at=changed or now, note="QuickBooks invoice voided"))
        page.cursor = latest.astimezone(UTC).isoformat()
        return page

    def _covered(self, policy: PolicyFile, invoice: dict[str, Any], at: datetime
                 ) -> tuple[Appointment, InvoiceRules] | None:
        """The appointment of the first line whose item the program covering it lists, with that program's rules."""
        customer = clip(dict_at(invoice, "CustomerRef").get("value"), 100) or "unknown"
        for item, served in service_lines(invoice):
            day = opt_dt(f"{served or invoice.get('TxnDate') or ''}T00:00:00+00:00") or at
            appointment = Appointment(
                source=self.source, appointment_id=str(invoice["Id"])[:200], appointment_type=item,
                calendar_id="invoices", start=day, end=day + timedelta(hours=1),
                contact=Contact(contact_id=f"{self.source}:{_safe(customer)}"))
            program = program_for(policy, appointment)
            if program is not None and program.invoices is not None and covers(program.invoices, item):
                return appointment, program.invoices
        return None

    def _with_customer(self, appointment: Appointment, invoice: dict[str, Any], people: dict[str, dict[str, Any]],
                       page: ReconcilePage) -> Appointment:
        customer = str(dict_at(invoice, "CustomerRef").get("value") or "")
        if customer and customer not in people:
            try:
                people[customer] = self.client.entity("Customer", customer)
            except ProviderError as exc:
                log.info("quickbooks_customer_unreadable", error=type(exc).__name__)
                people[customer] = {}
        row = people.get(customer, {})
        email = clip(dict_at(row, "PrimaryEmailAddr").get("Address") or dict_at(invoice, "BillEmail").get("Address"),
                     254)
        phone = clip(dict_at(row, "Mobile").get("FreeFormNumber") or dict_at(row, "PrimaryPhone").get(
            "FreeFormNumber"), 32)
        if not (email or phone):
            page.contact_problems[appointment.appointment_id] = "the customer has no email or phone"
        contact = appointment.contact.model_copy(update={"name": clip(row.get("DisplayName"), 200), "email": email,
                                                         "phone": phone})
        return appointment.model_copy(update={"contact": contact})


def _safe(value: str) -> str:
    return "".join(c if c.isalnum() or c in "._:-" else "-" for c in value)[:100]
