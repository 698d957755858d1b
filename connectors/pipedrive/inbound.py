"""Pipedrive webhooks v2 (https://pipedrive.readme.io/docs/guide-for-webhooks-v2).

Authentication: Pipedrive signs nothing. A webhook is created with `http_auth_user` and `http_auth_password`,
and Pipedrive sends them as HTTP Basic credentials (`Authorization: Basic base64(user:password)`, RFC 7617;
the exact header form is UNVERIFIED beyond the parameter names). Both are compared in constant time with the
configured pair before the body is read. Nothing signed carries a time, so the intake remembers accepted
deliveries long (`signs_timestamp = False`); a captured request can be replayed only as a duplicate.

Envelope: `meta` (`action` create / change / delete, `entity`, `entity_id`, `id` the event id, `attempt`,
`version` "2.0", `timestamp`), `data` (the object now; null on delete) and `previous` (the changed fields; the
last state on delete). A failed delivery is retried after 3, 30 and 150 s with the same `meta.id` and a larger
`attempt`: the dedupe key is `meta.id`. The reconcile poll covers deliveries lost to Pipedrive's 30-minute bans.

Mapping, for activities whose `type` is one of `types` (default meeting and call): create -> booked;
delete -> cancelled; change -> no_show when `outcome` is one of `no_show_outcomes` (the account's outcome ids,
configured), attended when `done` turned true, rescheduled when `due_date` / `due_time` changed, else booked
(an upsert). `due_time` is UTC; an activity without one is untimed and listed as an unknown type. Other entities
are listed as unknown types. Contact id `pipedrive:<person_id>`; appointment id the activity id.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from connectors.contract import RawRequest, SignatureError, WebhookResult
from connectors.inbound import (
    InboundBase,
    PayloadError,
    as_dict,
    clip,
    contact_id_for,
    dict_at,
    event_id,
    load_json,
    opt_dt,
)
from connectors.signatures import ReplayCache, header
from domain.models import Appointment, AppointmentEvent, Contact, EventType

DEFAULT_TYPES = ("meeting", "call")


def _duration(text: Any) -> timedelta:
    try:
        hours, minutes = str(text).split(":")[:2]
        return timedelta(hours=int(hours), minutes=int(minutes))
    except (ValueError, TypeError):
        return timedelta(minutes=30)


def activity_start(row: dict[str, Any]) -> datetime | None:
    """`due_date` + `due_time` (UTC), or None for an untimed activity."""
    day, time = row.get("due_date"), row.get("due_time")
    if not isinstance(day, str) or not isinstance(time, str) or not time:
        return None
    return opt_dt(f"{day}T{time[:5]}:00+00:00")


def activity_appointment(source: str, row: dict[str, Any]) -> Appointment | None:
    start = activity_start(row)
    if start is None or not row.get("id"):
        return None
    end = start + _duration(row.get("duration"))
    person = clip(row.get("person_id"), 100)
    return Appointment(source=source, appointment_id=str(row["id"])[:200],
                       appointment_type=clip(row.get("type"), 100) or "activity", calendar_id="activities",
                       owner_id=clip(row.get("owner_id"), 200), start=start, end=max(start, end),
                       contact=Contact(contact_id=contact_id_for(source, None, provider_id=person,
                                                                 fallback=str(row["id"]))))


class PipedriveInbound(InboundBase):
    name = "pipedrive"
    signs_timestamp = False

    def __init__(self, user: str, password: str, source: str = "pipedrive", types: Iterable[str] = DEFAULT_TYPES,
                 no_show_outcomes: Iterable[str] = (), replay: ReplayCache | None = None) -> None:
        if not user or not password:
            raise ValueError("a Pipedrive webhook user and password are required")
        super().__init__(replay)
        self.user, self.password, self.source = user.encode(), password.encode(), source
        self.types = {t.strip().lower() for t in types if t.strip()}
        self.no_show_outcomes = {str(o).strip() for o in no_show_outcomes if str(o).strip()}

    def signature_value(self, request: RawRequest) -> str | None:
        return header(request.headers, "authorization")

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        given = self.signature_value(request) or ""
        scheme, _, encoded = given.partition(" ")
        if scheme.lower() != "basic":
            raise SignatureError("missing HTTP Basic credentials")
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
        except (binascii.Error, ValueError):
            raise SignatureError("malformed HTTP Basic credentials") from None
        same_user = hmac.compare_digest(user, self.user)
        same_password = hmac.compare_digest(password, self.password)
        if not (sep and same_user and same_password):
            raise SignatureError("bad HTTP Basic credentials")

    def dedupe_key(self, request: RawRequest) -> str | None:
        meta = dict_at(as_dict(load_json(request.body), "body"), "meta")
        given = clip(meta.get("id"), 100)
        return f"pipedrive:{given}" if given else None

    def parse(self, request: RawRequest) -> WebhookResult:
        env = as_dict(load_json(request.body), "body")
        meta = as_dict(env.get("meta"), "meta")
        entity, action = meta.get("entity"), meta.get("action")
        if not isinstance(entity, str) or not isinstance(action, str):
            raise PayloadError("missing meta.entity or meta.action")
        dedupe = self.dedupe_key(request)
        result = WebhookResult(dedupe_key=dedupe)
        data, previous = dict_at(env, "data"), dict_at(env, "previous")
        row = data if action != "delete" else previous
        kind = str(row.get("type") or "").lower()
        if entity != "activity" or kind not in self.types:
            result.unknown_types.append(f"{entity}.{action}"[:60])
            return result
        appointment = activity_appointment(self.source, row)
        if appointment is None:
            result.unknown_types.append(f"activity.{action}.untimed")
            return result
        etype, new_start, new_end = self._event_type(action, data, previous), None, None
        if etype is EventType.rescheduled:
            old = activity_start({**data, **previous}) or appointment.start
            new_start, new_end = appointment.start, appointment.end
            appointment = appointment.model_copy(update={"start": old, "end": old + (new_end - new_start)})
        occurred = opt_dt(meta.get("timestamp")) or opt_dt(data.get("update_time")) or appointment.start
        result.events.append(AppointmentEvent(
            event_id=event_id(self.source, dedupe, 0, request.body), type=etype, occurred_at=occurred,
            appointment=appointment, new_start=new_start, new_end=new_end,
            note=f"Pipedrive {kind} {action}"))
        return result

    def _event_type(self, action: str, data: dict[str, Any], previous: dict[str, Any]) -> EventType:
        if action == "create":
            return EventType.booked
        if action == "delete":
            return EventType.cancelled
        if data.get("outcome") is not None and str(data["outcome"]) in self.no_show_outcomes:
            return EventType.no_show
        if data.get("done") is True and previous.get("done") is False:
            return EventType.attended
        if "due_date" in previous or "due_time" in previous:
            return EventType.rescheduled
        return EventType.booked
