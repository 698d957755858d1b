"""Customer addresses in one canonical form, decided once at the edge.

Consent, caps and reply routing compare addresses, so every address is normalised where it enters the engine
(an appointment event's contact, an inbound message's sender): phones to E.164 with `phonenumbers` (a national
number is read in the deployment's default region), emails trimmed and case-folded (SendGrid Inbound Parse
lower-cases senders; a CRM may store capitals), WhatsApp ids as `whatsapp:+E164`. An address that cannot be
read is refused there with `AddressError`, whose message never carries the address itself.

Pure: no I/O, importable by workflows.
"""

from __future__ import annotations

import re

import phonenumbers

from domain.ids import address_key_for
from domain.models import AppointmentEvent, Channel, Contact

DEFAULT_REGION = "US"
# one @, something on both sides, a dot in the domain, no spaces or angle brackets (RFC 5322 display names are
# taken off by the parser that reads the header)
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_WHATSAPP_PREFIX = "whatsapp:"


class AddressError(ValueError):
    """An address that cannot be normalised. The message names the field, never the value."""


def normalise_phone(raw: str, region: str = DEFAULT_REGION, field: str = "phone") -> str:
    """'+61 2 9374 0304', '(212) 555-0100' (region US), 'tel:+1-212-555-0100' -> E.164."""
    text = raw.strip().removeprefix("tel:").strip()
    if not text:
        raise AddressError(f"{field} is empty")
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region.upper())
    except phonenumbers.NumberParseException:
        raise AddressError(f"{field} is not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise AddressError(f"{field} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str, field: str = "email") -> str:
    text = raw.strip().casefold()
    if len(text) > 254 or not _EMAIL.fullmatch(text):
        raise AddressError(f"{field} is not an email address")
    return text


def normalise_whatsapp(raw: str, region: str = DEFAULT_REGION, field: str = "whatsapp id") -> str:
    """'whatsapp:+14155550100' or a bare number -> 'whatsapp:+14155550100'."""
    text = raw.strip()
    if text.lower().startswith(_WHATSAPP_PREFIX):
        text = text[len(_WHATSAPP_PREFIX):]
    return _WHATSAPP_PREFIX + normalise_phone(text, region, field)


def normalise(channel: Channel, raw: str, region: str = DEFAULT_REGION, field: str = "sender") -> str:
    """The canonical address of `raw` on `channel`."""
    if channel == Channel.email:
        return normalise_email(raw, field)
    if channel == Channel.whatsapp:
        return normalise_whatsapp(raw, region, field)
    return normalise_phone(raw, region, field)


def subject(address: str) -> str:
    """What consent and caps are kept for: the phone number behind an SMS or WhatsApp address (a STOP by SMS
    also stops WhatsApp to that number), or the email address."""
    return address.removeprefix(_WHATSAPP_PREFIX)


def address_key(address: str, salt: str) -> str:
    """The opaque key of a normalised address: what the stores, ids and logs carry instead of it."""
    return address_key_for(subject(address), salt)


def normalise_contact(contact: Contact, region: str = DEFAULT_REGION) -> Contact:
    """The contact with its phone in E.164 and its email case-folded; an unreadable one raises AddressError."""
    phone = normalise_phone(contact.phone, region, "contact phone") if contact.phone else None
    email = normalise_email(contact.email, "contact email") if contact.email else None
    if phone == contact.phone and email == contact.email:
        return contact
    return contact.model_copy(update={"phone": phone, "email": email})


def normalise_event(event: AppointmentEvent, region: str = DEFAULT_REGION) -> AppointmentEvent:
    appt = event.appointment
    contact = normalise_contact(appt.contact, region)
    if contact is appt.contact:
        return event
    return event.model_copy(update={"appointment": appt.model_copy(update={"contact": contact})})


def contact_addresses(contact: Contact) -> list[str]:
    """The (already normalised) addresses a contact can be reached at, one per subject."""
    return [a for a in (contact.phone, contact.email) if a]
