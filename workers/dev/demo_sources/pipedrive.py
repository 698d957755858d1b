"""Pipedrive: the demo person and a meeting activity are created through the API (the webhook names only their
ids), then webhooks v2 deliveries say the activity was added and then marked done with the no-show outcome,
authenticated with the webhook's HTTP Basic pair (https://pipedrive.readme.io/docs/guide-for-webhooks-v2; persons
https://developers.pipedrive.com/docs/api/v1/Persons, activities https://developers.pipedrive.com/docs/api/v1/Activities)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.settings import secret
from workers.dev.demo_sources.base import DemoSource, Person, Signed, iso
from workers.providers.sales_crms import pipedrive_client
from workers.settings import Settings

TYPE = "meeting"


def _due(at: datetime) -> tuple[str, str]:
    utc = at.astimezone(UTC)
    return utc.strftime("%Y-%m-%d"), utc.strftime("%H:%M")


def _activity(p: Person, start: datetime, end: datetime) -> dict[str, Any]:
    day, time = _due(start)
    minutes = max(1, int((end - start) / timedelta(minutes=1)))
    return {"subject": "Consultation", "type": TYPE, "person_id": int(p.contact_ref), "due_date": day,
            "due_time": time, "duration": f"{minutes // 60:02d}:{minutes % 60:02d}"}


def needs(settings: Settings) -> str | None:
    p = settings.pipedrive
    if not (p.webhook_user or "").strip():
        return "the Pipedrive webhook has no user: set NOSHOW_PIPEDRIVE_WEBHOOK_USER with the password"
    if not p.no_show_outcomes:
        return "the stack cannot tell a Pipedrive no-show: set NOSHOW_PIPEDRIVE_NO_SHOW_OUTCOMES (outcome ids)"
    if TYPE not in {t.strip().lower() for t in p.activity_types}:
        return "the stack does not watch Pipedrive meetings: add meeting to NOSHOW_PIPEDRIVE_ACTIVITY_TYPES"
    if not p.configured:
        return ("the demo creates its person in Pipedrive: set NOSHOW_PIPEDRIVE_API_TOKEN "
                "(and NOSHOW_PIPEDRIVE_API_DOMAIN)")
    return None


def prepare(settings: Settings, p: Person, start: datetime, end: datetime) -> Person:
    client = pipedrive_client(settings)
    person = client.create("/api/v2/persons", {
        "name": p.name, "emails": [{"value": p.email, "primary": True, "label": "work"}],
        "phones": [{"value": p.phone, "primary": True, "label": "mobile"}]})
    made = p.at(contact_ref=person)
    return made.at(ref=client.create("/api/v2/activities", _activity(made, start, end)))


def _delivery(settings: Settings, action: str, data: dict[str, Any], previous: dict[str, Any] | None) -> Signed:
    body = json.dumps({"meta": {
        "action": action, "entity": "activity", "entity_id": str(data["id"]), "id": str(uuid.uuid4()),
        "timestamp": iso(datetime.now(UTC)), "type": "general", "version": "2.0", "attempt": 1,
        "change_source": "app", "is_bulk_edit": False}, "data": data, "previous": previous}).encode()
    pair = f"{(settings.pipedrive.webhook_user or '').strip()}:{secret(settings.pipedrive.webhook_password) or ''}"
    return body, {"content-type": "application/json",
                  "authorization": "Basic " + base64.b64encode(pair.encode()).decode()}, ""


def _row(p: Person, start: datetime, end: datetime, **changed: Any) -> dict[str, Any]:
    now = iso(datetime.now(UTC))
    return {"id": int(p.ref), **_activity(p, start, end), "owner_id": None, "done": False, "outcome": None,
            "is_deleted": False, "busy": True, "add_time": now, "update_time": now, **changed}


def booked(settings: Settings, key: str, p: Person, start: datetime, end: datetime) -> Signed | None:
    return _delivery(settings, "create", _row(p, start, end), None)


def missed(settings: Settings, key: str, p: Person, start: datetime, end: datetime) -> Signed:
    outcome = settings.pipedrive.no_show_outcomes[0]
    row = _row(p, start, end, done=True, outcome=int(outcome) if outcome.isdigit() else outcome,
               marked_as_done_time=iso(datetime.now(UTC)))
    return _delivery(settings, "change", row, {"done": False, "outcome": None})


SOURCE = DemoSource("pipedrive", "NOSHOW_PIPEDRIVE_WEBHOOK_PASSWORD", lambda s: secret(s.pipedrive.webhook_password),
                    lambda _: "activities", TYPE, missed, booked, prepare=prepare, needs=needs,
                    provider_urls=lambda s: [s.pipedrive.api_domain or "https://api.pipedrive.com"],
                    creates="a person and a meeting activity")
