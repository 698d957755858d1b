"""Replays against providers whose signatures carry no timestamp (Twilio, Cal.com).

A captured Twilio form re-split around its unseparated signature (`MessageSid=SMa1` + `To=+1...` becomes
`MessageSid=SMa1T` + `o=+1...`) keeps the signature and names a new message: refused. A captured request replayed
after the ordinary 7-day dedupe horizon is still a duplicate. A Cal.com body signed long ago is refused.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from tests.fuzz.test_provider_webhooks import (  # noqa: F401 (fixtures)
    ProviderApi,
    module_provider_api,
    post_signed,
    provider_api,
    signed_headers,
)
from workers.intake.webhooks import WebhookIntake


def intake(api: ProviderApi) -> WebhookIntake:
    app = api.http._transport.app  # type: ignore[attr-defined]
    return app.state.noshow.intake  # type: ignore[no-any-return]


def inbound_rows(api: ProviderApi) -> int:
    with intake(api).deps.db.connect() as conn:
        return int(conn.execute("SELECT (SELECT COUNT(*) FROM inbound) + (SELECT COUNT(*) FROM outbox)").fetchone()[0])


def twilio_help(sid: str) -> list[tuple[str, str]]:
    return [("AccountSid", "AC" + "1" * 32), ("Body", "HELP"), ("From", "+15557654321"), ("MessageSid", sid),
            ("To", "+15551230000")]


async def post_form(api: ProviderApi, fields: list[tuple[str, str]], signature: str | None = None) -> dict[str, object]:
    body = urlencode(fields).encode()
    headers = signed_headers(api, "twilio", body)
    if signature is not None:
        headers["x-twilio-signature"] = signature
    headers["content-type"] = "application/x-www-form-urlencoded"
    r = await api.post("twilio", body, headers)
    return {"status": r.status_code, "text": r.text}


async def test_a_twilio_form_re_split_under_the_same_signature_is_refused(provider_api: ProviderApi) -> None:  # noqa: F811
    sid = "SM" + uuid.uuid4().hex
    original = twilio_help(sid)
    signature = signed_headers(provider_api, "twilio", urlencode(original).encode())["x-twilio-signature"]
    before = inbound_rows(provider_api)
    first = await post_form(provider_api, original)
    assert first["status"] == 200 and inbound_rows(provider_api) > before, first
    # the same concatenation Twilio signs, split differently: a new MessageSid, the same HELP
    resplit = [*original[:-1], ("MessageSid", sid + "T"), ("o", "+15551230000")]
    resplit = [(k, v) for k, v in resplit if not (k == "MessageSid" and v == sid)]
    resplit = [p for p in resplit if p[0] != "To"]
    again = await post_form(provider_api, resplit, signature=signature)
    assert again["status"] == 401, again
    before = inbound_rows(provider_api)
    replay = await post_form(provider_api, original)
    assert replay["status"] == 200 and inbound_rows(provider_api) == before, replay


async def test_a_twilio_request_replayed_after_the_dedupe_horizon_is_still_a_duplicate(
        provider_api: ProviderApi) -> None:  # noqa: F811
    fields = twilio_help("SM" + uuid.uuid4().hex)
    assert (await post_form(provider_api, fields))["status"] == 200
    intake(provider_api).receipts.prune(datetime.now(UTC) + timedelta(days=30))
    before = inbound_rows(provider_api)
    replay = await post_form(provider_api, fields)
    assert replay["status"] == 200 and inbound_rows(provider_api) == before, replay


def calcom_body(created: datetime) -> bytes:
    return json.dumps({"triggerEvent": "BOOKING_NO_SHOW_UPDATED", "createdAt": created.isoformat(),
                       "payload": {"bookingUid": uuid.uuid4().hex, "bookingId": 91,
                                   "attendees": [{"email": "ann@example.com", "noShow": True}]}}).encode()


async def test_a_calcom_request_replayed_after_the_dedupe_horizon_is_still_a_duplicate(
        provider_api: ProviderApi) -> None:  # noqa: F811
    body = calcom_body(datetime.now(UTC))
    first = await post_signed(provider_api, "calcom", body)
    assert first.status_code == 200 and first.json()["duplicate"] is False, first.text
    intake(provider_api).receipts.prune(datetime.now(UTC) + timedelta(days=30))
    replay = await post_signed(provider_api, "calcom", body)
    assert replay.status_code == 200 and replay.json()["duplicate"] is True, replay.text


async def test_a_calcom_body_signed_beyond_the_replay_horizon_is_refused(provider_api: ProviderApi) -> None:  # noqa: F811
    r = await post_signed(provider_api, "calcom", calcom_body(datetime.now(UTC) - timedelta(days=500)))
    assert r.status_code == 401, r.text
