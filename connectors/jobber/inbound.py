"""Jobber webhooks https://developer.getjobber.com/docs/using_jobbers_api/setting_up_webhooks.

A delivery is `{"data": {"webHookEvent": {"topic", "appId", "accountId", "itemId", "occuredAt"}}}` (sic:
`occuredAt`, the `WebHookPayload` type of the 2022-03-10 schema in Jobber's app template,
https://github.com/GetJobber/Jobber-AppTemplate-RailsAPI) signed in `X-Jobber-Hmac-SHA256`: the base64 HMAC-SHA256
of the request body under the app's OAuth client secret (the template's `webhook_receiver_controller.rb`). The raw
bytes are verified, never a re-serialisation. Nothing signed carries a time, so the intake remembers accepted
deliveries long (`signs_timestamp = False`); deliveries are at least once, so the dedupe key is the topic, item,
account and `occuredAt`.

The payload names ids only: a visit or job topic (`VISIT_CREATE`, `VISIT_UPDATE`, `VISIT_COMPLETE`,
`VISIT_DESTROY`, `JOB_CREATE`, `JOB_UPDATE`, `JOB_DESTROY`) asks for the `jobber` source's reconciliation, which
reads the visits, their times and their client through GraphQL (connectors/jobber/source.py). Other topics are
listed as unknown types. UNVERIFIED: Jobber's retry schedule, and topics added after the 2022-03-10 schema.

Jobber has no cancelled status: a cancelled visit is deleted (`visitDelete`), and a deleted visit only leaves the
poll's listing, which says nothing. So `VISIT_DESTROY` is itself the cancellation: a cancelled event for the
visit its `itemId` names, at its `occuredAt` (the late-cancel window is measured from then). It carries the id
and the visits' type alone (the visit can no longer be read); the case already knows its time and contact.
Jobber records no reason: the office deletes the visit when the client calls off, so it reads as the client's
cancellation. UNVERIFIED: that `occuredAt` is the deletion time rather than the delivery's; a closed job
(`jobClose`) whose visits stay listed is not read as a cancellation.
"""

from __future__ import annotations

from datetime import datetime

from connectors.contract import RawRequest, SignatureError, WebhookResult
from connectors.inbound import (
    PayloadError,
    SecretInbound,
    as_dict,
    clip,
    contact_id_for,
    dict_at,
    event_id,
    load_json,
    parse_dt,
)
from connectors.jobber.source import APPOINTMENT_TYPE
from connectors.signatures import constant_time_equals, hmac_sha256_b64
from domain.models import Appointment, AppointmentEvent, Contact, EventType

SYNC_TOPICS = frozenset({"VISIT_CREATE", "VISIT_UPDATE", "VISIT_COMPLETE", "VISIT_DESTROY", "JOB_CREATE",
                         "JOB_UPDATE", "JOB_DESTROY"})


class JobberInbound(SecretInbound):
    name = "jobber"
    secret_label = "the Jobber app's client secret"
    signature_header = "x-jobber-hmac-sha256"
    signs_timestamp = False

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        given = self.given_signature(request)
        if not constant_time_equals(hmac_sha256_b64(self.secret, request.body), given.strip()):
            raise SignatureError("bad X-Jobber-Hmac-SHA256")

    def event(self, request: RawRequest) -> dict[str, object]:
        body = as_dict(load_json(request.body), "body")
        event = dict_at(dict_at(body, "data"), "webHookEvent")
        if not isinstance(event.get("topic"), str) or not event.get("itemId"):
            raise PayloadError("missing webHookEvent topic or itemId")
        return event

    def dedupe_key(self, request: RawRequest) -> str | None:
        e = self.event(request)
        return (f"jobber:{clip(e.get('accountId'), 80)}:{clip(e.get('topic'), 40)}:{clip(e.get('itemId'), 120)}:"
                f"{clip(e.get('occuredAt'), 40)}")

    def parse(self, request: RawRequest) -> WebhookResult:
        event = self.event(request)
        topic = str(event["topic"])
        result = WebhookResult(dedupe_key=self.dedupe_key(request))
        if topic not in SYNC_TOPICS:
            result.unknown_types.append(topic[:60])
            return result
        result.sync_sources.append(self.source)
        if topic == "VISIT_DESTROY":
            result.events.append(self._deleted(event, result.dedupe_key, request.body))
        return result

    def _deleted(self, event: dict[str, object], dedupe_key: str | None, body: bytes) -> AppointmentEvent:
        visit_id = clip(event.get("itemId"), 200)
        if visit_id is None:
            raise PayloadError("missing webHookEvent itemId")
        at = parse_dt(event.get("occuredAt"), "occuredAt")
        appt = Appointment(source=self.source, appointment_id=visit_id, appointment_type=APPOINTMENT_TYPE, start=at,
                           end=at, contact=Contact(contact_id=contact_id_for(self.source, None, fallback=visit_id)))
        return AppointmentEvent(event_id=event_id(self.source, dedupe_key, 0, body), type=EventType.cancelled,
                                occurred_at=at, appointment=appt, note="visit deleted in Jobber")
