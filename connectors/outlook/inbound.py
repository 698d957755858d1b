"""Microsoft Graph change notifications for Outlook events
(https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks).

Validation handshake: a POST with `?validationToken=...` is answered 200 text/plain with the (URL-decoded)
token verbatim; `parse` returns it as `response` with media type text/plain. Notifications: every item's
`clientState` must equal our secret (constant time) or the request is rejected. Graph's only authenticity token
lives inside the JSON body, so `verify` reads the body after checking it is JSON (there is no header to check
first). A notification names the changed event but carries no details: `parse` returns no events and
`changes(request)` lists what changed; the API triggers the incremental (delta) sync for that mailbox, which
produces the canonical events: `parse` names the reconcile source in `sync_sources` for changes and `missed`.
Lifecycle notifications (`reauthorizationRequired`, `subscriptionRemoved`, `missed`) are listed by
`lifecycle(request)`; `connectors.outlook.subscriptions` flags the subscription so the renewal run reauthorizes
(PATCH) or recreates it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from connectors.contract import RawRequest, SignatureError, WebhookResult
from connectors.inbound import InboundBase, PayloadError, dict_at, load_json
from connectors.signatures import ReplayCache, constant_time_equals, fingerprint, require

LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")


class GraphChange(BaseModel):
    subscription_id: str
    change_type: str | None = None  # created / updated / deleted
    lifecycle_event: str | None = None  # reauthorizationRequired / subscriptionRemoved / missed
    resource: str | None = None
    resource_id: str | None = None
    etag: str | None = None


def _items(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise PayloadError("notification body has no value list")
    return [n for n in body["value"] if isinstance(n, dict)]


class OutlookInbound(InboundBase):
    """`client_states` = the clientState secret(s) set on our subscriptions; several allow rotation
    (env NOSHOW_GRAPH_CLIENT_STATE, ≤128 characters)."""

    name = "outlook"

    def __init__(self, client_states: str | list[str], replay: ReplayCache | None = None,
                 source: str = "outlook") -> None:
        states = [client_states] if isinstance(client_states, str) else list(client_states)
        if not states or not all(states):
            raise ValueError("a Graph clientState secret is required")
        if any(len(s) > 128 for s in states):
            raise ValueError("clientState must be at most 128 characters")
        super().__init__(replay)
        self.client_states = states
        self.source = source  # the reconcile source (Schedule `reconcile-<source>`) that syncs the mailbox

    @staticmethod
    def validation_token(request: RawRequest) -> str | None:
        return request.query.get("validationToken")

    def signature_value(self, request: RawRequest) -> str | None:
        return self.validation_token(request)

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        if self.validation_token(request) is not None:
            return  # the handshake only echoes Graph's own token back; nothing to authenticate
        try:
            items = _items(load_json(request.body))
        except PayloadError as exc:
            raise SignatureError("not a Graph notification") from exc
        require(bool(items), "empty notification")
        for item in items:
            given = item.get("clientState")
            ok = any(constant_time_equals(s, given if isinstance(given, str) else None) for s in self.client_states)
            require(ok, "clientState mismatch")

    def dedupe_key(self, request: RawRequest) -> str | None:
        token = self.validation_token(request)
        if token is not None:
            return f"outlook:validation:{fingerprint(token)}"
        parts = sorted(
            f"{c.subscription_id}|{c.resource_id}|{c.change_type or c.lifecycle_event}|{c.etag}"
            for c in self.changes(request)
        )
        return f"outlook:{fingerprint(*parts)}"

    def changes(self, request: RawRequest) -> list[GraphChange]:
        out: list[GraphChange] = []
        for n in _items(load_json(request.body)):
            data = dict_at(n, "resourceData")
            out.append(GraphChange(
                subscription_id=str(n.get("subscriptionId") or ""), change_type=n.get("changeType"),
                lifecycle_event=n.get("lifecycleEvent"), resource=n.get("resource"),
                resource_id=data.get("id"), etag=data.get("@odata.etag"),
            ))
        return out

    def parse(self, request: RawRequest) -> WebhookResult:
        token = self.validation_token(request)
        if token is not None:
            return WebhookResult(dedupe_key=None, response=token, response_media_type="text/plain")
        result = WebhookResult(dedupe_key=self.dedupe_key(request))
        for change in self.changes(request):
            kind = change.change_type or change.lifecycle_event
            if kind is None:
                result.unknown_types.append("notification without changeType")
            elif change.lifecycle_event is not None and change.lifecycle_event not in LIFECYCLE_EVENTS:
                result.unknown_types.append(change.lifecycle_event)
        if self.sync_needed(request):
            result.sync_sources = [self.source]
        return result

    def lifecycle(self, request: RawRequest) -> list[GraphChange]:
        """The lifecycle notifications in the request (reauthorizationRequired, subscriptionRemoved, missed)."""
        if self.validation_token(request) is not None:
            return []
        return [c for c in self.changes(request) if c.lifecycle_event in LIFECYCLE_EVENTS]

    def sync_needed(self, request: RawRequest) -> list[str]:
        """Subscription ids whose mailbox should be synced now (all changes and `missed` lifecycle events)."""
        if self.validation_token(request) is not None:
            return []
        return sorted({c.subscription_id for c in self.changes(request)
                       if c.change_type or c.lifecycle_event == "missed"})
