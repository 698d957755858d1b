"""Helpers for the provider end-to-end tests: the in-process API + real worker with providers switched on by
environment variables, payload builders shaped like the providers' own webhooks (per each provider's webhook
reference), and signers that compute each provider's signature exactly as the provider would."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from temporalio.client import Client
from twilio.request_validator import RequestValidator

from connectors.slack.interactivity import slack_signature
from domain.case import CaseState
from policies.schema import PolicyFile
from tests.engine.conftest import settings_for
from tests.fakes import sendgrid_fake, slack_fake, twilio_fake
from tests.helpers import default_program, eventually, fast_policy
from workers.api.app import create_app
from workers.dependencies import Dependencies, build_dependencies
from workers.providers.sources import reconcile_sources
from workers.temporal.schedules import ensure_schedules, remove_schedules
from workers.worker import build_worker
from workflows.case import RecoveryCaseWorkflow

PUBLIC_BASE_URL = "https://noshow.example.test"
ADMIN = {"Authorization": "Bearer dev-admin-token"}
CALCOM_SECRET = "calcom-e2e-webhook-secret"
CALENDLY_KEY = "calendly-e2e-signing-key"
SLACK_SECRET = "slack-e2e-signing-secret"
SLACK_REVIEWER = "U0REVIEWER"
TWILIO_FROM = "+15005550006"

# the SendGrid Event Webhook is ECDSA P-256: the test holds the private half, the API gets the public key
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
SENDGRID_PUBLIC_KEY = base64.b64encode(SENDGRID_KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()

# every variable a provider reads: cleared first, so the developer's shell cannot switch a provider on
PROVIDER_ENV = (
    "NOSHOW_CALCOM_WEBHOOK_SECRET", "NOSHOW_CALENDLY_SIGNING_KEY", "NOSHOW_GRAPH_CLIENT_STATE",
    "NOSHOW_HUBSPOT_CLIENT_SECRET", "NOSHOW_ZOOM_SECRET_TOKEN", "NOSHOW_GOOGLE_CHANNELS", "NOSHOW_SMS_PROVIDER",
    "NOSHOW_EMAIL_PROVIDER", "NOSHOW_REVIEW_NOTIFIER", "NOSHOW_SLACK_REVIEWERS", "NOSHOW_PUBLIC_BASE_URL",
    "NOSHOW_CALCOM_API_KEY", "NOSHOW_CALENDLY_TOKEN", "NOSHOW_HUBSPOT_ACCESS_TOKEN", "NOSHOW_GOOGLE_ACCESS_TOKEN",
    "NOSHOW_GRAPH_ACCESS_TOKEN", "NOSHOW_SETTINGS_FILE", "NOSHOW_FHIR_BASE_URL", "NOSHOW_FHIR_PRIVATE_KEY",
    "NOSHOW_FHIR_ACCESS_TOKEN", "NOSHOW_FHIR_SUBSCRIPTION_TOKEN",
    "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER", "TWILIO_WHATSAPP_FROM",
    "TWILIO_MESSAGING_SERVICE_SID", "TWILIO_STATUS_CALLBACK_URL", "TWILIO_PUBLIC_BASE_URL", "TWILIO_API_BASE_URL",
    "TWILIO_WEBHOOK_SHARED_KEY",
    "SENDGRID_API_KEY", "SENDGRID_FROM_EMAIL", "SENDGRID_API_HOST", "SENDGRID_EVENT_VERIFICATION_KEY",
    "SENDGRID_PARSE_TOKEN", "SENDGRID_PARSE_BASIC_AUTH", "SENDGRID_REPLY_TO", "SENDGRID_ASM_GROUP_ID",
    "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_REVIEW_CHANNEL", "SLACK_API_BASE_URL",
    "SLACK_REVIEW_URL_TEMPLATE",
    "NOSHOW_CALENDAR_PROVIDER", "NOSHOW_CRM_PROVIDER", "NOSHOW_CALCOM_BASE_URL", "NOSHOW_CALCOM_EVENT_TYPE_ID",
    "NOSHOW_CALCOM_TIME_ZONE", "NOSHOW_CALENDLY_BASE_URL", "NOSHOW_CALENDLY_EVENT_TYPE", "NOSHOW_CALENDLY_USER_URI",
    "NOSHOW_CALENDLY_ORGANIZATION_URI", "NOSHOW_GOOGLE_BASE_URL", "NOSHOW_GOOGLE_CALENDAR_ID",
    "NOSHOW_GOOGLE_SEND_UPDATES", "NOSHOW_GRAPH_BASE_URL", "NOSHOW_GRAPH_USER", "NOSHOW_HUBSPOT_BASE_URL",
    "NOSHOW_HUBSPOT_OWNER_ID", "NOSHOW_HUBSPOT_CREATE_CONTACTS", "NOSHOW_RECONCILE_EVERY_MINUTES",
    "NOSHOW_RECONCILE_MAX_AGE_DAYS",
    "NOSHOW_ZENDESK_WEBHOOK_SECRET", "NOSHOW_ZENDESK_API_TOKEN", "NOSHOW_ZENDESK_OAUTH_TOKEN",
    "NOSHOW_FRESHDESK_WEBHOOK_TOKEN", "NOSHOW_FRESHDESK_WEBHOOK_PASSWORD", "NOSHOW_FRESHDESK_API_KEY",
)


# ---------------------------------------------------------------------------- environments


def inbound_env() -> dict[str, str]:
    """Every signed webhook route this module exercises: Cal.com, Calendly, Twilio, SendGrid events, Slack."""
    return {
        "NOSHOW_CALCOM_WEBHOOK_SECRET": CALCOM_SECRET,
        "NOSHOW_CALENDLY_SIGNING_KEY": CALENDLY_KEY,
        "TWILIO_AUTH_TOKEN": twilio_fake.AUTH_TOKEN,
        "SENDGRID_EVENT_VERIFICATION_KEY": SENDGRID_PUBLIC_KEY,
        "SLACK_SIGNING_SECRET": SLACK_SECRET,
        "NOSHOW_SLACK_REVIEWERS": SLACK_REVIEWER,
    }


def twilio_env(fake: twilio_fake.TwilioFake) -> dict[str, str]:
    return {
        "NOSHOW_SMS_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": twilio_fake.ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": twilio_fake.AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": TWILIO_FROM,
        "TWILIO_API_BASE_URL": fake.base_url,
        "TWILIO_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
    }


def sendgrid_env(fake: sendgrid_fake.SendGridFake) -> dict[str, str]:
    return {
        "NOSHOW_EMAIL_PROVIDER": "sendgrid",
        "SENDGRID_API_KEY": sendgrid_fake.API_KEY,
        "SENDGRID_FROM_EMAIL": "bookings@example.com",
        "SENDGRID_API_HOST": fake.base_url,
    }


def slack_env(fake: slack_fake.SlackFake) -> dict[str, str]:
    return {
        "NOSHOW_REVIEW_NOTIFIER": "slack",
        "SLACK_BOT_TOKEN": slack_fake.BOT_TOKEN,
        "SLACK_REVIEW_CHANNEL": slack_fake.CHANNEL,
        "SLACK_API_BASE_URL": fake.api_url,
    }


def e2e_policy() -> PolicyFile:
    """The fast test policy; a booked slot ends the case instead of following the new appointment."""
    policy = fast_policy()
    default_program(policy).rebooking.follow_new_appointment = False
    return policy


# ---------------------------------------------------------------------------- the stack


@dataclass
class ProviderStack:
    http: httpx.AsyncClient
    client: Client
    deps: Dependencies
    task_queue: str
    app: FastAPI

    def connector(self, name: str) -> Any:
        """The API's inbound connector for /webhooks/<name> (e.g. to reach the Google channel store)."""
        return self.app.state.noshow.connectors[name]

    async def reply(self, case_id: str, text: str) -> dict[str, Any]:
        """The customer answers on the local channel (the embedded default's stand-in for an SMS or email)."""
        r = await self.http.post("/inbound/local", headers=ADMIN, json={"case_id": case_id, "text": text})
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def approve(self, case_id: str) -> None:
        """A reviewer confirms the no-show through the API (the case had no attendance evidence either way)."""
        waiting = await self.reach(case_id, "awaiting_review")
        assert waiting.review is not None
        r = await self.http.post(f"/reviews/{case_id}/decision", headers=ADMIN,
                                 json={"review_id": waiting.review.review_id, "decision": "approve"})
        assert r.status_code == 200, r.text

    async def state(self, case_id: str) -> CaseState:
        handle = self.client.get_workflow_handle_for(RecoveryCaseWorkflow.run, case_id)  # type: ignore[arg-type]
        return await handle.query(RecoveryCaseWorkflow.state_query)  # type: ignore[no-any-return]

    async def reach(self, case_id: str, *stages: str, timeout: float = 30) -> CaseState:
        return await eventually(lambda: self.state(case_id), lambda s: s.stage.value in stages, timeout=timeout)

    async def workflow_count(self) -> int:
        return len([w async for w in self.client.list_workflows(f"TaskQueue = '{self.task_queue}'")])


@asynccontextmanager
async def provider_stack(client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         env: dict[str, str], policy: PolicyFile | None = None) -> AsyncIterator[ProviderStack]:
    """API + worker with `env` in place BEFORE the dependencies and the app are built, so the provider
    registry (workers.providers) picks the providers the way a real deployment's environment would."""
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = settings_for(tmp_path, task_queue, policy or e2e_policy())
    settings = settings.model_copy(update={"api": settings.api.model_copy(update={"public_base_url": PUBLIC_BASE_URL})})
    deps = build_dependencies(settings)
    worker = build_worker(client, deps, task_queue=task_queue)
    task = asyncio.create_task(worker.run())
    app = create_app(settings, client=client, deps=deps)
    # the reconcile schedules the worker process creates at start-up (a Google / Graph ping triggers them)
    sources = list(reconcile_sources(settings))
    await ensure_schedules(client, sources, task_queue, settings.reconcile.every)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC_BASE_URL) as http:
            yield ProviderStack(http, client, deps, task_queue, app)
    finally:
        # let Slack decisions acknowledged in the background finish before the worker goes
        await asyncio.gather(*list(app.state.noshow.intake.background), return_exceptions=True)
        await remove_schedules(client, sources)  # schedule ids are per namespace: leave none behind
        await worker.shutdown()
        await asyncio.gather(task, return_exceptions=True)


# ---------------------------------------------------------------------------- payloads


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def slot_around_now() -> tuple[datetime, datetime]:
    """An appointment that began ten minutes ago and has not ended: a no-show mark is decisive at once, and
    nothing is decided before the mark arrives (no race between the booking and the no-show webhook)."""
    now = datetime.now(UTC).replace(microsecond=0)
    return now - timedelta(minutes=10), now + timedelta(minutes=20)


def calcom_booking(uid: str, email: str, phone: str | None, timezone: str, start: datetime, end: datetime,
                   price_cents: int = 0) -> dict[str, Any]:
    """BOOKING_CREATED as Cal.com sends it (https://cal.com/docs/developing/guides/automation/webhooks); the phone
    is the SMS reminder number."""
    payload: dict[str, Any] = {
        "uid": uid, "bookingId": 91, "eventTypeId": 7, "type": "30min",
        "title": "30min between Pro Example and Pat Example",
        "startTime": iso(start), "endTime": iso(end), "status": "ACCEPTED",
        "organizer": {"id": 5, "name": "Pro Example", "email": "pro@example.com", "username": "pro",
                      "timeZone": "America/New_York", "language": {"locale": "en"}},
        "attendees": [{"name": "Pat Example", "email": email, "timeZone": timezone, "language": {"locale": "en"}}],
        "responses": {"name": {"label": "your_name", "value": "Pat Example"},
                      "email": {"label": "email_address", "value": email}},
        "location": "integrations:daily",
        "metadata": {"videoCallUrl": f"https://app.cal.com/video/{uid}"},
    }
    if phone:
        payload["smsReminderNumber"] = phone
    if price_cents:
        payload.update(price=price_cents, currency="USD")
    return {"triggerEvent": "BOOKING_CREATED", "createdAt": iso(datetime.now(UTC)), "payload": payload}


def calcom_no_show(uid: str, email: str) -> dict[str, Any]:
    return {"triggerEvent": "BOOKING_NO_SHOW_UPDATED", "createdAt": iso(datetime.now(UTC)), "payload": {
        "message": "x no-show updated", "bookingUid": uid, "bookingId": 91,
        "attendees": [{"email": email, "noShow": True}]}}


def calendly_invitee_uri() -> str:
    return f"https://api.calendly.com/scheduled_events/EVT{uuid.uuid4().hex[:8]}/invitees/INV{uuid.uuid4().hex[:8]}"


def calendly_invitee_created(invitee_uri: str, email: str, timezone: str, start: datetime,
                             end: datetime) -> dict[str, Any]:
    """invitee.created (the Invitee resource,
    https://developer.calendly.com/api-docs/calendly-api/scheduled-events/get-event-invitee) without a text reminder
    number: email is the only channel."""
    event_uri = invitee_uri.split("/invitees/")[0]
    return {"event": "invitee.created", "created_at": iso(datetime.now(UTC)),
            "created_by": "https://api.calendly.com/users/AAAA", "payload": {
                "uri": invitee_uri, "email": email, "name": "Jane Example", "status": "active",
                "timezone": timezone, "text_reminder_number": None, "rescheduled": False, "old_invitee": None,
                "new_invitee": None, "no_show": None,
                "tracking": {"utm_source": None, "utm_campaign": None, "salesforce_uuid": None},
                "questions_and_answers": [],
                "scheduled_event": {"uri": event_uri, "name": "consultation", "status": "active",
                                    "start_time": iso(start), "end_time": iso(end),
                                    "event_type": "https://api.calendly.com/event_types/ET789",
                                    "location": {"type": "zoom", "join_url": "https://zoom.us/j/123"}}}}


def calendly_no_show(invitee_uri: str) -> dict[str, Any]:
    """invitee_no_show.created as the InviteeNoShow resource {uri, invitee, created_at}."""
    now = iso(datetime.now(UTC))
    return {"event": "invitee_no_show.created", "created_at": now,
            "created_by": "https://api.calendly.com/users/AAAA",
            "payload": {"uri": f"https://api.calendly.com/invitee_no_shows/NS{uuid.uuid4().hex[:8]}",
                        "invitee": invitee_uri, "created_at": now}}


def slack_click(case_id: str, review_id: str, user_id: str = SLACK_REVIEWER,
                action_id: str = "review_approve") -> bytes:
    """A block_actions interactivity payload for one of the posted review buttons."""
    payload = {
        "type": "block_actions",
        "user": {"id": user_id, "username": "frontdesk", "team_id": "T123"},
        "api_app_id": "A123", "team": {"id": "T123", "domain": "acme"},
        "container": {"type": "message", "message_ts": f"{time.time():.6f}", "channel_id": slack_fake.CHANNEL,
                      "is_ephemeral": False},
        "channel": {"id": slack_fake.CHANNEL, "name": "no-shows"},
        "trigger_id": "123.456.abc", "response_url": "https://hooks.slack.com/actions/T123/456/xyz",
        "actions": [{"type": "button", "action_id": action_id, "block_id": f"review:{review_id}",
                     "value": json.dumps({"case_id": case_id, "review_id": review_id}, separators=(",", ":")),
                     "action_ts": f"{time.time():.6f}"}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


# ---------------------------------------------------------------------------- signatures


def calcom_headers(body: bytes, secret: str = CALCOM_SECRET) -> dict[str, str]:
    return {"content-type": "application/json",
            "x-cal-signature-256": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def calendly_headers(body: bytes, key: str = CALENDLY_KEY, t: int | None = None) -> dict[str, str]:
    t = int(time.time()) if t is None else t
    v1 = hmac.new(key.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"content-type": "application/json", "calendly-webhook-signature": f"t={t},v1={v1}"}


def twilio_signed(path: str, params: dict[str, str], token: str = twilio_fake.AUTH_TOKEN
                  ) -> tuple[bytes, dict[str, str]]:
    """A form POST signed for the URL Twilio would call: the public base URL + path (+ query)."""
    signature = RequestValidator(token).compute_signature(PUBLIC_BASE_URL + path, params)
    return urlencode(params).encode(), {"content-type": "application/x-www-form-urlencoded",
                                        "x-twilio-signature": signature}


def twilio_inbound(sender: str, text: str) -> dict[str, str]:
    return {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": twilio_fake.ACCOUNT_SID, "From": sender,
            "To": TWILIO_FROM, "Body": text, "NumMedia": "0", "NumSegments": "1", "SmsStatus": "received",
            "ApiVersion": "2010-04-01"}


def sendgrid_headers(body: bytes, key: ec.EllipticCurvePrivateKey = SENDGRID_KEY,
                     ts: int | None = None) -> dict[str, str]:
    timestamp = str(int(time.time()) if ts is None else ts)
    signature = base64.b64encode(key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
    return {"content-type": "application/json", "x-twilio-email-event-webhook-signature": signature,
            "x-twilio-email-event-webhook-timestamp": timestamp}


def slack_headers(body: bytes, secret: str = SLACK_SECRET, ts: int | None = None) -> dict[str, str]:
    timestamp = str(int(time.time()) if ts is None else ts)
    return {"content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": timestamp,
            "x-slack-signature": slack_signature(secret, timestamp, body)}


def dumps(payload: object) -> bytes:
    return json.dumps(payload).encode()


# ---------------------------------------------------------------------------- calendar and CRM write-back

HUBSPOT_SECRET = "hubspot-e2e-client-secret"
GRAPH_STATE = "graph-e2e-client-state"
ZOOM_SECRET = "zoom-e2e-secret-token"
PARSE_TOKEN = "sendgrid-e2e-parse-token"
GOOGLE_CALENDAR = "ops@example.org"
GRAPH_USER = "ops@example.org"
CALENDLY_EVENT_TYPE = "https://api.calendly.com/event_types/ET789"


def calcom_api_env(base_url: str) -> dict[str, str]:
    return {"NOSHOW_CALCOM_API_KEY": "cal_live_e2e", "NOSHOW_CALCOM_BASE_URL": base_url + "/v2"}


def calendly_api_env(base_url: str) -> dict[str, str]:
    return {"NOSHOW_CALENDLY_TOKEN": "calendly-e2e-pat", "NOSHOW_CALENDLY_BASE_URL": base_url}


def google_api_env(base_url: str) -> dict[str, str]:
    return {"NOSHOW_GOOGLE_CHANNELS": "true", "NOSHOW_GOOGLE_ACCESS_TOKEN": "ya29.e2e",
            "NOSHOW_GOOGLE_BASE_URL": base_url + "/calendar/v3", "NOSHOW_GOOGLE_CALENDAR_ID": GOOGLE_CALENDAR}


def graph_api_env(base_url: str) -> dict[str, str]:
    return {"NOSHOW_GRAPH_CLIENT_STATE": GRAPH_STATE, "NOSHOW_GRAPH_ACCESS_TOKEN": "eyJ.e2e",
            "NOSHOW_GRAPH_BASE_URL": base_url + "/v1.0", "NOSHOW_GRAPH_USER": GRAPH_USER}


def hubspot_api_env(base_url: str) -> dict[str, str]:
    return {"NOSHOW_HUBSPOT_CLIENT_SECRET": HUBSPOT_SECRET, "NOSHOW_HUBSPOT_ACCESS_TOKEN": "pat-e2e",
            "NOSHOW_HUBSPOT_BASE_URL": base_url, "NOSHOW_HUBSPOT_OWNER_ID": "42"}


def writeback_policy(zone: str) -> PolicyFile:
    """e2e_policy, with the customer's zone as the default: Graph and HubSpot events carry no time zone, and the
    send windows (kept as the law requires) must be open while the test runs."""
    policy = e2e_policy()
    default_program(policy).send.default_timezone = zone
    return policy


def future_hours(count: int, first_in_hours: int = 3) -> list[datetime]:
    """Back-to-back half hours from a whole hour a few hours ahead: the bookable times a scheduler fake reports.
    Contiguous, because the policy's buffer (15 min either side) never fits a lone 30-minute gap."""
    top = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return [top + timedelta(hours=first_in_hours, minutes=30 * i) for i in range(count)]


def calcom_guest_no_show(uid: str, email: str, start: datetime, end: datetime) -> dict[str, Any]:
    """AFTER_GUESTS_CAL_VIDEO_NO_SHOW: Cal Video saw no guest join
    (https://cal.com/docs/developing/guides/automation/webhooks)."""
    return {"triggerEvent": "AFTER_GUESTS_CAL_VIDEO_NO_SHOW", "createdAt": iso(datetime.now(UTC)), "payload": {
        "title": "30min between Pro Example and Pat Example", "bookingId": 91, "bookingUid": uid,
        "startTime": iso(start), "endTime": iso(end), "attendees": [{"email": email, "noShow": True}],
        "eventType": {"id": 7}, "message": "Guest didn't join the call"}}


def hubspot_headers(body: bytes, path: str = "/webhooks/hubspot", secret: str = HUBSPOT_SECRET,
                    ts_ms: int | None = None) -> dict[str, str]:
    """X-HubSpot-Signature-v3 over method + the URI HubSpot called + body + timestamp
    (https://developers.hubspot.com/docs/api/webhooks/validating-requests)."""
    ts = str(int(time.time() * 1000) if ts_ms is None else ts_ms)
    source = f"POST{PUBLIC_BASE_URL}{path}{body.decode()}{ts}".encode()
    sig = base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()
    return {"content-type": "application/json", "x-hubspot-signature-v3": sig, "x-hubspot-request-timestamp": ts}


def hubspot_meeting_outcome(meeting_id: str, outcome: str = "NO_SHOW") -> list[dict[str, Any]]:
    return [{"eventId": int(time.time() * 1000) % 10**9, "subscriptionId": 22, "portalId": 62515, "appId": 1160452,
             "occurredAt": int(time.time() * 1000), "subscriptionType": "object.propertyChange",
             "objectTypeId": "0-47", "attemptNumber": 0, "objectId": int(meeting_id), "changeSource": "CRM_UI",
             "propertyName": "hs_meeting_outcome", "propertyValue": outcome}]


def google_ping_headers(channel_id: str, token: str, number: int, state: str = "exists") -> dict[str, str]:
    """A Google push notification: no body, the channel's id and token in headers
    (https://developers.google.com/calendar/api/guides/push)."""
    return {"x-goog-channel-id": channel_id, "x-goog-channel-token": token, "x-goog-resource-state": state,
            "x-goog-message-number": str(number), "x-goog-resource-id": "res-e2e",
            "x-goog-resource-uri": "https://www.googleapis.com/calendar/v3/calendars/ops%40example.org/events"}


def graph_notification(subscription_id: str, event_id: str, state: str | None = GRAPH_STATE) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": uuid.uuid4().hex, "subscriptionId": subscription_id,
        "subscriptionExpirationDateTime": iso(datetime.now(UTC) + timedelta(days=2)), "changeType": "created",
        "resource": f"Users/{GRAPH_USER}/Events/{event_id}", "tenantId": "84bd8158-6d4d-4958-8b9f-9d6445542f95",
        "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": f"Users/{GRAPH_USER}/Events/{event_id}",
                         "@odata.etag": f'W/"{uuid.uuid4().hex[:12]}"', "id": event_id}}
    if state is not None:
        item["clientState"] = state
    return {"value": [item]}


def zoom_headers(body: bytes, secret: str = ZOOM_SECRET, ts: int | None = None) -> dict[str, str]:
    timestamp = str(int(time.time()) if ts is None else ts)
    sig = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"content-type": "application/json", "x-zm-signature": f"v0={sig}", "x-zm-request-timestamp": timestamp}
