"""HubSpot: the demo contact and a meeting with it are created through the CRM API and the meeting's outcome set
to NO_SHOW (the webhook carries only the meeting id and the stack reads the rest from HubSpot); then the
`hs_meeting_outcome` property-change delivery, signed `X-HubSpot-Signature-v3` = base64 HMAC-SHA256(client
secret, "POST" + the URL HubSpot called + body + timestamp in ms)
(https://developers.hubspot.com/docs/api/webhooks/validating-requests, https://developers.hubspot.com/docs/api/webhooks,
meetings https://developers.hubspot.com/docs/api/crm/meetings)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime

from connectors.hubspot.client import HubSpotClient
from connectors.inbound import UNKNOWN_TYPE
from connectors.settings import secret
from workers.dev.demo_sources.base import DemoSource, Person, Signed
from workers.settings import Settings

ROUTE = "/webhooks/hubspot"


def needs(settings: Settings) -> str | None:
    if not secret(settings.hubspot.access_token):
        return "the demo creates its contact and meeting in HubSpot: set NOSHOW_HUBSPOT_ACCESS_TOKEN"
    return None


def prepare(settings: Settings, p: Person, start: datetime, end: datetime) -> Person:
    h = settings.hubspot
    client = HubSpotClient(secret(h.access_token) or "", base_url=h.base_url)
    first, _, last = p.name.partition(" ")
    contact = client.create_object("contacts", {"email": p.email, "firstname": first, "lastname": last,
                                                "phone": p.phone})
    if not contact:
        raise ConnectionError("HubSpot created no contact for the demo")
    meeting = client.create_meeting(contact, "Consultation", start, end, owner_id=(h.owner_id or "").strip() or None)
    if not meeting:
        raise ConnectionError("HubSpot created no meeting for the demo")
    client.set_meeting_outcome(meeting, "NO_SHOW")
    return p.at(ref=meeting, contact_ref=contact)


def missed(settings: Settings, key: str, p: Person, start: datetime, end: datetime) -> Signed:
    now_ms = int(time.time() * 1000)
    body = json.dumps([{
        "eventId": now_ms % 10**9, "subscriptionId": 1, "portalId": 1, "appId": 1, "occurredAt": now_ms,
        "subscriptionType": "object.propertyChange", "objectTypeId": "0-47", "attemptNumber": 0,
        "objectId": int(p.ref), "changeSource": "CRM_UI", "propertyName": "hs_meeting_outcome",
        "propertyValue": "NO_SHOW"}]).encode()
    url = settings.api.public_base_url.rstrip("/") + ROUTE
    ts = str(now_ms)
    signature = base64.b64encode(hmac.new(key.encode(), f"POST{url}{body.decode()}{ts}".encode(),
                                          hashlib.sha256).digest()).decode()
    return body, {"content-type": "application/json", "x-hubspot-signature-v3": signature,
                  "x-hubspot-request-timestamp": ts}, ""


SOURCE = DemoSource("hubspot", "NOSHOW_HUBSPOT_CLIENT_SECRET", lambda s: secret(s.hubspot.client_secret),
                    lambda _: "default", UNKNOWN_TYPE, missed, prepare=prepare, needs=needs,
                    provider_urls=lambda s: [s.hubspot.base_url], creates="a contact and a meeting")
