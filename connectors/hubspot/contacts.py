"""A HubSpot meeting's customer: exactly one associated contact, copied only from what HubSpot holds.

Shared by the webhook path (a meeting event carries no contact) and the reconcile poll.
"""

from __future__ import annotations

import re
from typing import Any

from connectors.contract import PermanentProviderError
from connectors.hubspot.client import HubSpotClient
from connectors.inbound import clip, contact_id_for
from domain.models import Contact
from policies.zones import zone_of

HUBSPOT_CONTACT_PROPERTIES = ["firstname", "email", "phone", "mobilephone", "hs_timezone", "hs_language",
                              "hs_email_optout"]
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?$")


def _hubspot_timezone(value: Any) -> str | None:
    """HubSpot's `hs_timezone` (e.g. "america_slash_new_york") or an IANA name, as a zone we know, else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if "_slash_" in text:
        text = text.replace("_slash_", "/").replace("_hyphen_", "-")
        text = "/".join("_".join(w.capitalize() for w in part.split("_")) for part in text.split("/"))
    return text if zone_of(text) is not None else None


def hubspot_contact(record_id: str, props: dict[str, Any], source: str = "hubspot") -> Contact | None:
    """A HubSpot contact record as our Contact, or None when it has no phone and no email we may use. Only what
    HubSpot holds is copied (never invented); an email the contact unsubscribed from (`hs_email_optout`) is left
    out so nothing is ever emailed to it."""

    def text(name: str) -> str | None:
        value = props.get(name)
        return value.strip() if isinstance(value, str) and value.strip() else None

    email = text("email") if text("email") and "@" in (text("email") or "") else None
    if str(props.get("hs_email_optout") or "").strip().lower() == "true":
        email = None
    phone = text("phone") or text("mobilephone")
    if not email and not phone:
        return None
    language = text("hs_language")
    return Contact(contact_id=contact_id_for(source, None, provider_id=record_id), name=clip(text("firstname"), 200),
                   email=clip(email, 254), phone=clip(phone, 32), timezone=_hubspot_timezone(props.get("hs_timezone")),
                   locale=language.lower().replace("_", "-")[:16] if language and _LANGUAGE.match(language) else "en")


class HubSpotContacts:
    """Resolves a meeting's contact: `GET /crm/v4/objects/meetings/{id}/associations/contacts`, then the contact's
    properties (`GET /crm/v3/objects/contacts/{id}`). The associations endpoint and its shape (`results[].toObjectId`)
    come from HubSpot's v4 associations reference
    (https://developers.hubspot.com/docs/api-reference/crm-associations-v4/guide). Returns the Contact or
    the reason there is none. Exactly one associated contact is required: with several, picking one would be a
    guess about who the customer is. 404s mean "gone"; any other error is raised (a missing scope must fail the
    run loudly, not send every meeting to review)."""

    def __init__(self, client: HubSpotClient, source: str = "hubspot") -> None:
        self.client, self.source = client, source

    def for_meeting(self, meeting_id: str) -> Contact | str:
        if not meeting_id.isdigit():
            return "the meeting id is not a HubSpot record id"
        try:
            body = self.client.call("GET", f"/crm/v4/objects/meetings/{meeting_id}/associations/contacts",
                                    params={"limit": 100}) or {}
        except PermanentProviderError as exc:
            if exc.code in ("404", "OBJECT_NOT_FOUND"):
                return "the meeting no longer exists in HubSpot"
            raise
        ids = sorted({str(r.get("toObjectId")) for r in body.get("results") or []
                      if isinstance(r, dict) and str(r.get("toObjectId") or "").isdigit()})
        if not ids:
            return "no contact is associated with the meeting"
        if len(ids) > 1 or (body.get("paging") or {}).get("next"):
            return "several contacts are associated with the meeting"
        try:
            props = self.client.get_object("contacts", ids[0], HUBSPOT_CONTACT_PROPERTIES)
        except PermanentProviderError as exc:
            if exc.code in ("404", "OBJECT_NOT_FOUND"):
                return "the associated contact no longer exists in HubSpot"
            raise
        return hubspot_contact(ids[0], props, self.source) or "the contact has no phone or email we may use"
