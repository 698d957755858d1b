"""Mailchimp Marketing audience webhooks (https://mailchimp.com/developer/marketing/guides/sync-audience-data-with-webhooks/).

Format: `application/x-www-form-urlencoded` with `type` (`subscribe`, `unsubscribe`, `profile`, `upemail`,
`cleaned`, `campaign`), `fired_at` (`Y-m-d H:i:s`) and `data[...]` (`data[id]`, `data[list_id]`,
`data[email]`; `upemail`: `data[old_email]`, `data[new_email]`, `data[new_id]`; `cleaned`: `data[reason]`).
Mailchimp sends a GET to the URL when the webhook is saved and expects a 200; that ping carries nothing.
A failed delivery is retried at increasing intervals over 75 minutes.

Authentication: Mailchimp signs nothing. The webhook's URL carries a long secret (`?secret=`), compared in
constant time before the body is read. Nothing signed carries a time (`signs_timestamp = False`): a captured
request can only be replayed as a duplicate.

Effects: `unsubscribe` and `cleaned` opt the address out of email (`WebhookResult.consent`); `profile`,
`upemail` and `subscribe` change nothing the engine holds (a marketing subscribe is no consent to appointment
messages); `campaign` and anything else is an unknown type.
UNVERIFIED: the field list and the `fired_at` time zone (read as UTC) come from third-party summaries of the
vendor guide; the retry count within the 75 minutes is not published.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from connectors.contract import ConsentNotice, RawRequest, WebhookResult
from connectors.inbound import InboundBase, PayloadError, digest
from connectors.signatures import ReplayCache, constant_time_equals, require
from domain.models import Channel

OPT_OUT_TYPES = frozenset({"unsubscribe", "cleaned"})
NO_EFFECT_TYPES = frozenset({"subscribe", "profile", "upemail"})


def fired_at(text: str | None) -> datetime:
    try:
        return datetime.strptime(text or "", "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise PayloadError("fired_at is not Y-m-d H:i:s") from None


class MailchimpWebhook(InboundBase):
    name = "mailchimp"
    signs_timestamp = False
    answers_validation_get = True  # the GET Mailchimp sends when the webhook is saved gets a 200

    def __init__(self, secret: str, replay: ReplayCache | None = None) -> None:
        if not secret:
            raise ValueError("the Mailchimp webhook secret is required")
        super().__init__(replay)
        self.secret = secret

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        given = request.query.get("secret")
        require(bool(given), "missing secret in the webhook URL")
        require(constant_time_equals(self.secret, given), "wrong webhook secret")

    def form(self, request: RawRequest) -> dict[str, str]:
        try:
            return dict(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
        except (UnicodeDecodeError, ValueError):
            raise PayloadError("body is not a form") from None

    def dedupe_key(self, request: RawRequest) -> str | None:
        f = self.form(request)
        if not f.get("type"):
            raise PayloadError("missing type")
        # Mailchimp names no delivery id: the event's own fields identify it across retries. `cleaned` carries no
        # member id, so the address is part of it, keyed with the secret so the key cannot be traced back to it
        address = (f.get("data[email]") or f.get("data[old_email]") or "").strip().lower()
        keyed = hmac.new(self.secret.encode(), address.encode(), hashlib.sha256).hexdigest()
        return f"mailchimp:{digest(f['type'], f.get('fired_at'), f.get('data[list_id]'), f.get('data[id]'), keyed)}"

    def parse(self, request: RawRequest) -> WebhookResult:
        f = self.form(request)
        kind = f.get("type", "")
        dedupe = self.dedupe_key(request)
        result = WebhookResult(dedupe_key=dedupe)
        if kind in NO_EFFECT_TYPES:
            return result
        if kind not in OPT_OUT_TYPES:
            result.unknown_types.append(f"mailchimp.{kind[:40]}")
            return result
        email = f.get("data[email]", "").strip()
        if not email:
            raise PayloadError("missing data[email]")
        result.consent.append(ConsentNotice(notice_id=f"{dedupe}:{kind}", channel=Channel.email, address=email,
                                            reason=f"mailchimp {kind}", at=fired_at(f.get("fired_at"))))
        return result
