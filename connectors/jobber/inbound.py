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
"""

from __future__ import annotations

from datetime import datetime

from connectors.contract import RawRequest, SignatureError, WebhookResult
from connectors.inbound import PayloadError, SecretInbound, as_dict, clip, dict_at, load_json
from connectors.signatures import constant_time_equals, hmac_sha256_b64

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
        topic = str(self.event(request)["topic"])
        result = WebhookResult(dedupe_key=self.dedupe_key(request))
        if topic in SYNC_TOPICS:
            result.sync_sources.append(self.source)
        else:
            result.unknown_types.append(topic[:60])
        return result
