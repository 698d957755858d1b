"""ActiveCampaign webhooks (https://developers.activecampaign.com/page/webhooks).

Authentication: ActiveCampaign signs nothing and documents no credential for webhooks. The webhook URL carries
a long random secret, `https://<your-host>/webhooks/activecampaign?token=<NOSHOW_ACTIVECAMPAIGN_WEBHOOK_TOKEN>`,
compared in constant time before the body is read: anyone who learns the URL can post to it, so it must be
treated as a secret and sent over HTTPS only. Nothing signed carries a time (`signs_timestamp = False`).

Body: `application/x-www-form-urlencoded`, bracketed keys (`type`, `date_time`, `deal[id]`, `deal[stageid]`,
`deal[stage_title]`, `deal[contactid]`, `deal[contact_email]`, `deal[contact_firstname]`,
`deal[contact_lastname]`, `deal[owner]`, `contact[phone]`; key names UNVERIFIED beyond the page's description of
"post data" and the webhook event list). Webhooks are never retried and may arrive more than once: the dedupe
key is the event type, deal id, stage and `date_time`.

Mapping: a `deal_update` or `deal_add` whose stage is one of the configured missed stages (title, case
insensitive, or stage id; default "Missed") -> no_show for appointment `deal-<id>`, contact
`activecampaign:<contactid>`. ActiveCampaign has no appointment object: the appointment's time is unknown, so
start and end are the webhook's `date_time`. Every other type is listed as unknown.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import parse_qsl

from connectors.contract import RawRequest, SignatureError, WebhookResult
from connectors.inbound import InboundBase, PayloadError, clip, contact_id_for, digest, event_id, parse_dt
from connectors.signatures import ReplayCache
from domain.models import Appointment, AppointmentEvent, Contact, EventType

DEAL_TYPES = ("deal_update", "deal_add")


def read_form(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body), max_num_fields=500)
    except (UnicodeDecodeError, ValueError):
        raise PayloadError("body is not a form") from None
    return dict(pairs)


class ActiveCampaignInbound(InboundBase):
    name = "activecampaign"
    signs_timestamp = False

    def __init__(self, url_token: str, missed_stages: Iterable[str] = ("Missed",), source: str = "activecampaign",
                 replay: ReplayCache | None = None) -> None:
        if len(url_token) < 16:
            raise ValueError("the ActiveCampaign webhook URL token must be at least 16 characters")
        super().__init__(replay)
        self.token, self.source = url_token.encode(), source
        self.missed = {s.strip().lower() for s in missed_stages if s.strip()}

    def signature_value(self, request: RawRequest) -> str | None:
        return None  # the token is not part of the replay key: it is the same on every delivery

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        given = request.query.get("token", "").encode()
        if not hmac.compare_digest(given, self.token):
            raise SignatureError("missing or bad URL token")

    def dedupe_key(self, request: RawRequest) -> str | None:
        form = read_form(request.body)
        key = digest(form.get("type"), form.get("deal[id]"), form.get("deal[stageid]"), form.get("date_time"))
        return f"activecampaign:{key}"

    def parse(self, request: RawRequest) -> WebhookResult:
        form = read_form(request.body)
        kind = form.get("type", "")
        if not kind:
            raise PayloadError("missing type")
        dedupe = self.dedupe_key(request)
        result = WebhookResult(dedupe_key=dedupe)
        stage = {form.get("deal[stage_title]", "").strip().lower(), form.get("deal[stageid]", "").strip().lower()}
        if kind not in DEAL_TYPES or not (stage & self.missed):
            result.unknown_types.append(kind[:60])
            return result
        deal = clip(form.get("deal[id]"), 100)
        if not deal:
            raise PayloadError("deal has no id")
        at = parse_dt(form.get("date_time"), "date_time")
        first, last = form.get("deal[contact_firstname]", ""), form.get("deal[contact_lastname]", "")
        contact = Contact(
            contact_id=contact_id_for(self.source, None, provider_id=clip(form.get("deal[contactid]"), 100),
                                      fallback=deal),
            name=clip(f"{first} {last}".strip(), 200), email=clip(form.get("deal[contact_email]"), 254),
            phone=clip(form.get("contact[phone]"), 32))
        appointment = Appointment(source=self.source, appointment_id=f"deal-{deal}", appointment_type="deal",
                                  calendar_id="deals", owner_id=clip(form.get("deal[owner]"), 200), start=at, end=at,
                                  contact=contact)
        result.events.append(AppointmentEvent(event_id=event_id(self.source, dedupe, 0, request.body),
                                              type=EventType.no_show, occurred_at=at, appointment=appointment,
                                              note="ActiveCampaign deal moved to a missed stage"))
        return result
