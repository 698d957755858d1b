"""`noshow demo --source NAME`: one missed appointment told to the running stack in a provider's own webhook
dialect, signed with the secret the stack is configured with, then recovered end to end: the customer answers,
is offered times from the engine's calendar (the provider itself when NOSHOW_CALENDAR_PROVIDER names it, e.g. a
Cal.com account or its fake), picks one and the case confirms; the outcome is written to the CRM the stack
writes to (NOSHOW_CRM_PROVIDER).

A source is one entry of `SOURCES` (one module each): its route, the variable holding its webhook secret, the
calendar id its appointments carry, what else it needs, what it creates on the provider first (a person the
webhook only names by id), and how it signs and phrases "booked" and "missed".
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

from connectors.settings import secret
from workers.dev.demo import DemoRefused, daytime_contact
from workers.dev.demo_sources import (
    activecampaign,
    acuity,
    calcom,
    calendly,
    events,
    freshdesk,
    gohighlevel,
    hubspot,
    mindbody,
    pipedrive,
    square,
    zendesk,
    zoom,
)
from workers.dev.demo_sources.base import DemoSource, Person, Signed, remote_refusal
from workers.settings import Settings

__all__ = ["SOURCES", "DemoSource", "Person", "Signed", "run_source_demo", "source_refusal"]

SOURCES: dict[str, DemoSource] = {s.route: s for s in (
    calcom.SOURCE, activecampaign.SOURCE, pipedrive.SOURCE, gohighlevel.SOURCE, hubspot.SOURCE, calendly.SOURCE,
    events.SOURCE, zoom.SOURCE, zendesk.SOURCE, freshdesk.SOURCE, mindbody.SOURCE, acuity.SOURCE, square.SOURCE)}


def source_refusal(settings: Settings, name: str, yes_create: bool = False) -> str | None:
    """Why the demo cannot run with this source, in one line, or None."""
    from domain.models import Appointment, Contact
    from policies.loader import PolicyError, load_policy, source_ignore_reason

    source = SOURCES.get(name)
    if source is None:
        return f"unknown demo source {name!r}; choose one of: {', '.join(sorted(SOURCES))}"
    if not source.secret(settings):
        return f"the stack has no {name} webhook: set {source.secret_env} (the same value for the stack and the demo)"
    needed = source.needs(settings)
    if needed:
        return needed
    try:
        policy = load_policy(settings.policy.file)
    except PolicyError as exc:
        return f"the policy does not load ({len(exc.problems)} problem(s)); run `noshow policy check`"
    now = datetime.now(UTC)
    own = source.appointment_source(name)
    probe = Appointment(source=own, appointment_id="demo-probe", appointment_type=source.appointment_type,
                        calendar_id=source.calendar_id(settings), start=now, end=now + timedelta(minutes=30),
                        contact=Contact(contact_id=f"{own}:demo-probe"))
    reason = source_ignore_reason(policy, probe)
    if reason:
        return f"the policy {policy.version!r} does not watch {own} appointments ({reason}); add the source to it"
    if source.prepare is not None:
        return remote_refusal(name, source.creates, source.provider_urls(settings), yes_create)
    return None


async def _stage(http: httpx.AsyncClient, admin: dict[str, str], case_id: str, stages: set[str],
                 timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        r = await http.get(f"/cases/{case_id}", headers=admin)
        stage = str(r.json().get("stage", "")) if r.status_code == 200 else ""
        if stage in stages or time.monotonic() > deadline:
            return stage
        await asyncio.sleep(0.3)


async def _prepared(settings: Settings, source: DemoSource, person: Person, start: datetime,
                    end: datetime) -> Person:
    if source.prepare is None:
        return person
    try:
        return await asyncio.to_thread(source.prepare, settings, person, start, end)
    except Exception as exc:  # the provider refused or is unreachable: one line, no traceback
        raise ConnectionError(f"{source.route} refused the demo's contact ({type(exc).__name__}: "
                              f"{str(exc)[:160]})") from None


async def run_source_demo(settings: Settings, name: str, echo: Callable[[str], None], timeout: float = 90,
                          http: httpx.AsyncClient | None = None, yes_create: bool = False) -> bool:
    """One missed appointment from `name`, recovered end to end. `http` is the API (default: the running one)."""
    refusal = source_refusal(settings, name, yes_create)
    if refusal:
        raise DemoRefused(refusal)
    source, key = SOURCES[name], SOURCES[name].secret(settings) or ""
    own = http is None
    api = http or httpx.AsyncClient(base_url=f"http://{settings.api.host}:{settings.api.port}", timeout=30)
    admin = {"Authorization": f"Bearer {secret(settings.auth.admin_token) or ''}"}
    try:
        try:
            await api.get("/health")
        except httpx.HTTPError:
            raise ConnectionError(f"cannot reach the API at {api.base_url}; start it with `make run` first") from None
        phone, zone = daytime_contact()
        now = datetime.now(UTC).replace(microsecond=0)
        start, end = now - timedelta(minutes=10), now + timedelta(minutes=20)
        person = await _prepared(settings, source, Person(
            "Pat Example", f"demo-{uuid.uuid4().hex[:8]}@example.com", phone, zone, source.ref()), start, end)
        case_id = ""
        for delivery in source.deliveries(settings, key, person, start, end):
            if delivery.after_stage and case_id:
                await _stage(api, admin, case_id, {delivery.after_stage}, timeout)
            body, headers, query = delivery.signed
            r = await api.post(f"/webhooks/{delivery.route}" + (f"?{query}" if query else ""), content=body,
                               headers={**headers, "prefer": "wait=30"})  # its case id is read from the answer
            events_ = r.json().get("events") if r.status_code in (200, 202) else None
            first = (events_ or [{}])[0]
            case_id = first.get("case_id") or case_id
            echo(f"  {name} {delivery.step:8} -> HTTP {r.status_code} {first.get('status', '')} {case_id}".rstrip())
        if not case_id:
            echo("the stack started no case")
            return False
        stages = [("recovering", "yes, can I come another day?"), ("offering", "1"), ("confirmed", None)]
        ok = True
        for stage, reply in stages:
            reached = await _stage(api, admin, case_id, {stage}, timeout)
            echo(f"  {stage:12} {'ok' if reached == stage else 'stuck at ' + (reached or '?')}")
            if reached != stage:
                ok = False
                break
            if reply:
                await api.post("/inbound/local", headers=admin, json={"case_id": case_id, "text": reply})
        return ok
    finally:
        if own:
            await api.aclose()
