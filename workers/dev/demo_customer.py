"""The made-up customer a polled demo writes to a provider (`noshow demo --source salesforce|zoho|...`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Customer:
    first: str
    last: str
    email: str
    phone: str
    ref: str  # marks the demo's records
