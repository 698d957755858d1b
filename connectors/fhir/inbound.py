"""FHIR R4 Subscription notifications (Subscriptions R5 Backport IG for R4,
https://hl7.org/fhir/uv/subscriptions-backport/), where a server offers them; polling is the default
(connectors/fhir/source.py).

Delivery: the server POSTs a `Bundle` of type `history` to the Subscription's `channel.endpoint`, sending every
`channel.header` value as an HTTP header (https://hl7.org/fhir/uv/subscriptions-backport/channels.html). Nothing
is signed: the Subscription this deployment registers carries `Authorization: Bearer <NOSHOW_FHIR_SUBSCRIPTION_TOKEN>`
in `channel.header`, compared in constant time before the body is read. No signed time: a captured request can be
replayed only as a duplicate (`signs_timestamp = False`).

Payload `id-only` (`backport-payload-content`): `entry[0]` is a `Parameters` resource (profile
`backport-subscription-status-r4`) with `subscription`, `topic`, `type` (`handshake`, `heartbeat`,
`event-notification`, `query-status`, `query-event`), `events-since-subscription-start` and
`notification-event` parts (`event-number`, `focus`). An event notification whose focus is an Appointment asks
for the `fhir` source's reconciliation, which reads the changed appointments (the read the id-only payload asks
for); handshakes and heartbeats are answered 200 and do nothing; other focus types are unknown types. The dedupe
key is the subscription and its highest `event-number`. UNVERIFIED: Epic's and Oracle Health's support for
Subscriptions on Appointment.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

from connectors.contract import RawRequest, SignatureError, WebhookResult
from connectors.fhir.resources import SOURCE
from connectors.inbound import InboundBase, PayloadError, as_dict, clip, digest, load_json
from connectors.signatures import ReplayCache, header

QUIET = frozenset({"handshake", "heartbeat", "query-status"})


def _status(bundle: dict[str, Any]) -> dict[str, Any]:
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "history":
        raise PayloadError("not a history Bundle")
    entries = bundle.get("entry")
    first = entries[0] if isinstance(entries, list) and entries and isinstance(entries[0], dict) else {}
    status = as_dict(first.get("resource"), "entry[0].resource")
    if status.get("resourceType") != "Parameters":
        raise PayloadError("entry[0] is not the subscription status")
    return status


def _params(parts: Any) -> list[dict[str, Any]]:
    return [p for p in parts if isinstance(p, dict) and isinstance(p.get("name"), str)] if isinstance(
        parts, list) else []


def _value(param: dict[str, Any]) -> Any:
    return next((v for k, v in param.items() if k.startswith("value")), None)


class FhirSubscriptionInbound(InboundBase):
    name = SOURCE
    signs_timestamp = False

    def __init__(self, token: str, replay: ReplayCache | None = None) -> None:
        if not token:
            raise ValueError("the FHIR subscription token is required")
        super().__init__(replay)
        self.expected = f"Bearer {token}".encode()

    def signature_value(self, request: RawRequest) -> str | None:
        return header(request.headers, "authorization")

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        given = (self.signature_value(request) or "").strip().encode()
        if not hmac.compare_digest(given, self.expected):
            raise SignatureError("missing or wrong subscription token")

    def _events(self, status: dict[str, Any]) -> tuple[str, str, list[tuple[str, str | None]]]:
        params = _params(status.get("parameter"))
        named = {p["name"]: _value(p) for p in params}
        reference = named.get("subscription")
        subscription = str(reference.get("reference") if isinstance(reference, dict) else "")[:200]
        kind = str(named.get("type") or "")[:40]
        events: list[tuple[str, str | None]] = []
        for event in (p for p in params if p["name"] == "notification-event"):
            parts = {q["name"]: _value(q) for q in _params(event.get("part"))}
            focus = parts.get("focus")
            events.append((str(parts.get("event-number") or "")[:20],
                           str(focus.get("reference")) if isinstance(focus, dict) and focus.get("reference") else None))
        return subscription, kind, events

    def dedupe_key(self, request: RawRequest) -> str | None:
        subscription, kind, events = self._events(_status(as_dict(load_json(request.body), "body")))
        numbers = [n for n, _ in events if n]
        if not numbers:
            return None
        return f"fhir:{digest(subscription)}:{kind}:{max(numbers, key=lambda n: (len(n), n))}"

    def parse(self, request: RawRequest) -> WebhookResult:
        status = _status(as_dict(load_json(request.body), "body"))
        _subscription, kind, events = self._events(status)
        if not kind:
            raise PayloadError("the subscription status names no type")
        result = WebhookResult(dedupe_key=self.dedupe_key(request))
        if kind in QUIET:
            return result
        if kind not in ("event-notification", "query-event"):
            result.unknown_types.append(f"subscription.{clip(kind, 40)}")
            return result
        focus_types = {(focus or "").split("/_history/")[0].rstrip("/").split("/")[-2:][0] for _, focus in events}
        if "Appointment" in focus_types or not events:
            # id-only (or empty) payload: the poll reads what changed
            result.sync_sources.append(SOURCE)
        for other in sorted(t for t in focus_types if t and t != "Appointment"):
            result.unknown_types.append(f"notification.{other[:40]}")
        return result
