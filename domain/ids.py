"""Opaque identifiers. Workflow ids and search attributes must never carry PII, so they are hashes."""

from __future__ import annotations

import hashlib
import hmac
import re


def case_id_for(source: str, appointment_id: str, salt: str = "noshow") -> str:
    digest = hmac.new(salt.encode(), f"{source}\x1f{appointment_id}".encode(), hashlib.sha256).hexdigest()
    return f"case-{digest[:24]}"


_CASE_ID = re.compile(r"^case-[0-9a-f]{24}$")


def is_case_id(value: str) -> bool:
    """The shape case_id_for makes: anything else is not a case, whatever workflow may carry that id."""
    return bool(_CASE_ID.fullmatch(value))


def contact_key_for(contact_id: str, salt: str = "noshow") -> str:
    digest = hmac.new(salt.encode(), f"contact\x1f{contact_id}".encode(), hashlib.sha256).hexdigest()
    return f"ck-{digest[:24]}"


def address_key_for(address: str, salt: str = "noshow") -> str:
    """Key for a phone number or email address (normalised), for logs and routing tables."""
    norm = address.strip().lower().removeprefix("whatsapp:")
    digest = hmac.new(salt.encode(), f"addr\x1f{norm}".encode(), hashlib.sha256).hexdigest()
    return f"ak-{digest[:24]}"
