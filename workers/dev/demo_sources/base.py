"""What every demo source is made of: the demo customer, a signed delivery, and the registry entry's shape."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urlparse

from workers.settings import Settings

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def is_local(url: str | None) -> bool:
    """A provider URL on this machine: a local fake, where the demo may create records without asking."""
    return (urlparse(url or "").hostname or "") in LOCAL_HOSTS


def remote_refusal(title: str, creates: str, urls: list[str | None], yes_create: bool) -> str | None:
    """The one-line refusal to write demo records into a real provider account without --yes-create."""
    remote = [u for u in urls if not is_local(u)]
    if not remote or yes_create:
        return None
    host = urlparse(remote[0] or "").hostname or remote[0] or "its default address"
    return (f"this would create {creates} in the {title} account at {host} (real records, which its automation "
            f"may act on and the demo does not delete); pass --yes-create to go ahead")


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    phone: str
    zone: str
    ref: str  # the provider's id for the booking / deal / activity
    contact_ref: str = ""  # the provider's id for the person, when the provider holds one

    def at(self, ref: str | None = None, contact_ref: str | None = None) -> Person:
        return replace(self, ref=self.ref if ref is None else ref,
                       contact_ref=self.contact_ref if contact_ref is None else contact_ref)


Signed = tuple[bytes, dict[str, str], str]  # body, headers, query
Sign = Callable[[Settings, str, Person, datetime, datetime], Signed]
# creates what the provider must hold before its webhook can name it (a person, a meeting); blocking I/O
Prepare = Callable[[Settings, Person, datetime, datetime], Person]


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Delivery:
    """One webhook the demo posts: `after_stage` is a stage the case must reach first (evidence that only counts
    for a case already watching its appointment)."""

    step: str
    route: str
    signed: Signed
    after_stage: str | None = None


def no_booking(settings: Settings, key: str, p: Person, start: datetime, end: datetime) -> Signed | None:
    return None


@dataclass(frozen=True)
class DemoSource:
    """`secret` reads the value the demo signs with; `needs` names, in one line, anything else the demo needs
    (None when the stack has it); `source` is the appointments' source when it is not the route (Standard
    Webhooks events name their own); `ref` makes the booking's id the provider would give it."""

    route: str
    secret_env: str
    secret: Callable[[Settings], str | None]
    calendar_id: Callable[[Settings], str]
    appointment_type: str
    missed: Sign
    booked: Callable[[Settings, str, Person, datetime, datetime], Signed | None] = no_booking
    prepare: Prepare | None = None
    needs: Callable[[Settings], str | None] = lambda _: None
    source: str | None = None
    ref: Callable[[], str] = lambda: uuid.uuid4().hex[:22]  # the booking's id before `prepare` names one
    # the deliveries, when they are not one booked and one missed on the source's own route
    steps: Callable[[Settings, str, Person, datetime, datetime], list[Delivery]] | None = None
    # where `prepare` writes, and what: a provider that is not a local fake needs the user's --yes-create
    provider_urls: Callable[[Settings], list[str | None]] = lambda _: []
    creates: str = ""

    def appointment_source(self, name: str) -> str:
        return self.source or name

    def deliveries(self, settings: Settings, key: str, p: Person, start: datetime, end: datetime) -> list[Delivery]:
        if self.steps is not None:
            return self.steps(settings, key, p, start, end)
        booked = self.booked(settings, key, p, start, end)
        return ([Delivery("booked", self.route, booked)] if booked else []) + [
            Delivery("missed", self.route, self.missed(settings, key, p, start, end))]
