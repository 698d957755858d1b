"""What every field-mapped CRM adapter shares: the engine's field names (outcome, missed date, ...) mapped onto
the provider's own field ids, the write rules checked before anything is sent, and the provider's record found
for an engine contact.

A protected field is refused as a `PermanentProviderError` (code `protected_field`) before any request, so a
plan that would touch one writes nothing at all; fields without a mapping stay in the engine's local audit copy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from connectors.contract import PermanentProviderError
from domain.models import Contact
from policies.crm_rules import FieldChange, plan_write
from policies.schema import CrmRules

UNKNOWN_CONTACT = "unknown_contact"  # the provider holds no record for this engine contact


def field_map(fields: Mapping[str, str] | None) -> dict[str, str]:
    """Engine field name (any case) -> the provider's field id or API name."""
    return {k.lower(): v for k, v in (fields or {}).items()}


def mapped_values(row: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, str | None]:
    """The engine's view of a provider record: each mapped field's value, blank read as unset."""
    return {name: (None if row.get(api) in (None, "") else str(row[api])) for name, api in fields.items()}


def allowed_changes(provider: str, rules: CrmRules, current: dict[str, str | None],
                    desired: dict[str, str | None]) -> list[FieldChange]:
    """The changes the write rules allow, or a permanent refusal naming every protected field asked for."""
    plan = plan_write(rules, current, desired)
    if plan.refused:
        raise PermanentProviderError(f"{provider}: refusing to write fields: " + ", ".join(sorted(plan.refused)),
                                     code="protected_field")
    return plan.changes


def mapped_changes(changes: list[FieldChange], fields: Mapping[str, str]) -> dict[str, str | None]:
    """Provider field id -> new value, for the changes whose field is mapped."""
    return {fields[c.field.lower()]: c.after for c in changes if c.field.lower() in fields}


def own_record(contact_id: str, source: str) -> str | None:
    """The provider's numeric record id when the contact came from that provider (`<source>:<id>`)."""
    own = contact_id.removeprefix(f"{source}:") if contact_id.startswith(f"{source}:") else ""
    return own if own.isdigit() else None


def provider_contact(provider: str, what: str, contact_id: str, source: str,
                     lookup: Callable[[str], Contact | None] | None,
                     by_email: Callable[[str], str | None]) -> str:
    """The provider's record for an engine contact: its own id, else found by the contact's email, else a
    permanent `unknown_contact` refusal (retrying cannot create the record)."""
    own = own_record(contact_id, source)
    if own is not None:
        return own
    local = lookup(contact_id) if lookup else None
    if local is not None and local.email:
        found = by_email(local.email)
        if found:
            return found
    raise PermanentProviderError(f"{provider}: no {what} for this contact", code=UNKNOWN_CONTACT)
