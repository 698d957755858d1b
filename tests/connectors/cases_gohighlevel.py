"""GoHighLevel through the conformance kit: the inbound webhooks, and the outbound client against the fake location
(tests/fakes/gohighlevel_fake.py). Fixtures: `appointment_create.json` is the vendor's AppointmentCreate
example (https://marketplace.gohighlevel.com/docs/webhook/AppointmentCreate); `appointment_noshow.json` is an
AppointmentUpdate built from the same fields with the documented `noshow` status and the `timestamp` /
`webhookId` the authentication guide describes. GoHighLevel publishes no test key, so requests are signed with a
fixed Ed25519 key of ours (the scheme, Ed25519 over the raw body, is the official SDK's)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from connectors.contract import RawRequest, WebhookResult
from connectors.gohighlevel.client import GoHighLevelClient
from connectors.gohighlevel.inbound import GoHighLevelInbound
from tests.connectors.kit import FixtureCase, InboundCase, OutboundCase
from tests.fakes.gohighlevel_fake import FakeGoHighLevel, ghl_error

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUBLIC_PEM = KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
VECTOR_BODY = (b'{"type":"AppointmentUpdate","locationId":"0007BWpSzSwfiuSl0tR2",'
               b'"appointment":{"id":"ocQHyuzHvysMo5N5VsXc",'
               b'"calendarId":"BqTwX8QFwXzpegMve9EQ","contactId":"9NkT25Vor1v4aQatFsv2","appointmentStatus":"noshow",'
               b'"startTime":"2023-09-25T16:00:00+05:30","endTime":"2023-09-25T16:30:00+05:30"},'
               b'"timestamp":"2025-01-28T14:35:00Z","webhookId":"abc123xyz"}')


def ghl_request(body: bytes, at: datetime, key: Ed25519PrivateKey = KEY) -> RawRequest:
    return RawRequest(method="POST", url="https://example.com/webhooks/gohighlevel", body=body,
                      headers={"content-type": "application/json",
                               "x-ghl-signature": base64.b64encode(key.sign(body)).decode()})


def _no_show(result: WebhookResult) -> None:
    (event,) = result.events
    assert event.appointment.appointment_id == "ocQHyuzHvysMo5N5VsXc"
    assert event.appointment.contact.contact_id == "gohighlevel:9NkT25Vor1v4aQatFsv2"
    assert event.appointment.calendar_id == "BqTwX8QFwXzpegMve9EQ"
    assert result.dedupe_key == "gohighlevel:abc123xyz"


def inbound_cases() -> list[InboundCase]:
    return [InboundCase(
        name="gohighlevel", provider="gohighlevel", make=lambda: GoHighLevelInbound(PUBLIC_PEM), sign=ghl_request,
        forge=lambda r: ghl_request(r.body, datetime.now(UTC), OTHER),
        truncate=lambda r: r.model_copy(update={"headers": {**r.headers,
                                                            "x-ghl-signature": r.headers["x-ghl-signature"][:40]}}),
        unsign=lambda r: r.model_copy(update={"headers": {k: v for k, v in r.headers.items()
                                                          if k != "x-ghl-signature"}}),
        vector=ghl_request(VECTOR_BODY, datetime(2025, 1, 28, 14, 35, tzinfo=UTC)),
        vector_now=datetime(2025, 1, 28, 14, 36, tzinfo=UTC),
        fixtures=[FixtureCase("appointment_create.json", ["appointment.booked"]),
                  FixtureCase("appointment_noshow.json", ["appointment.no_show"], check=_no_show)],
    )]


def _seeded() -> FakeGoHighLevel:
    return FakeGoHighLevel("pit-static", LOCATION)


LOCATION = "ve9EPM428h8vShlRW1KT"


def outbound_cases() -> list[OutboundCase]:
    return [OutboundCase(
        name="gohighlevel", fake=_seeded,
        call=lambda url, t: GoHighLevelClient("pit-static", LOCATION, base_url=url, timeout=t).location(),
        path_contains=f"/locations/{LOCATION}",
        error_body=lambda s: ghl_error(s, "refused"), expected_code=lambda s: str(s),
    )]
