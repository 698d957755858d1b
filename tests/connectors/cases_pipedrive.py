"""Pipedrive through the conformance kit: webhooks v2 authenticated with the HTTP Basic credentials set on the
webhook (nothing signs the body, so the kit's body-tampering and staleness checks do not apply), and the REST
client's error mapping against the fake company. Fixtures and their sources: fixtures/pipedrive/SOURCES.md."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from connectors.contract import RawRequest, WebhookResult
from connectors.pipedrive.client import PipedriveClient
from connectors.pipedrive.inbound import PipedriveInbound
from tests.connectors.kit import FixtureCase, InboundCase, OutboundCase
from tests.fakes.pipedrive_fake import FakePipedrive, pd_error

USER, PASSWORD = "hookuser", "s3cret-pass"
NO_SHOW_OUTCOME = "3"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def pipedrive_request(body: bytes, at: datetime, password: str = PASSWORD) -> RawRequest:
    return RawRequest(method="POST", url="https://example.com/webhooks/pipedrive", body=body,
                      headers={"content-type": "application/json", "authorization": basic(USER, password)})


def make() -> PipedriveInbound:
    return PipedriveInbound(USER, PASSWORD, no_show_outcomes=[NO_SHOW_OUTCOME])


def _booked(result: WebhookResult) -> None:
    (event,) = result.events
    assert event.appointment.appointment_id == "8123" and event.appointment.appointment_type == "meeting"
    assert event.appointment.contact.contact_id == "pipedrive:77"
    assert event.appointment.start == datetime(2026, 1, 6, 14, tzinfo=UTC)
    assert event.appointment.end == datetime(2026, 1, 6, 14, 30, tzinfo=UTC)
    assert event.appointment.owner_id == "1234"
    assert result.dedupe_key == "pipedrive:5a1c5e0e-2f3f-4b49-9a43-1a2b3c4d5e01"


def _moved(result: WebhookResult) -> None:
    (event,) = result.events
    assert event.appointment.start == datetime(2026, 1, 6, 14, tzinfo=UTC)
    assert event.new_start == datetime(2026, 1, 8, 16, 30, tzinfo=UTC)
    assert event.new_end == datetime(2026, 1, 8, 17, tzinfo=UTC)


def _deleted(result: WebhookResult) -> None:
    (event,) = result.events
    assert event.appointment.appointment_id == "8123"  # read from `previous`: `data` is null on delete


def inbound_cases() -> list[InboundCase]:
    return [InboundCase(
        name="pipedrive", provider="pipedrive", make=make, sign=pipedrive_request,
        forge=lambda r: pipedrive_request(r.body, datetime.now(UTC), "guessed"),
        truncate=lambda r: r.model_copy(update={"headers": {**r.headers,
                                                            "authorization": r.headers["authorization"][:14]}}),
        unsign=lambda r: r.model_copy(update={"headers": {k: v for k, v in r.headers.items()
                                                          if k != "authorization"}}),
        tamper_body=False,
        fixtures=[FixtureCase("activity_create.json", ["appointment.booked"], check=_booked),
                  FixtureCase("activity_done.json", ["appointment.attended"]),
                  FixtureCase("activity_no_show.json", ["appointment.no_show"]),
                  FixtureCase("activity_rescheduled.json", ["appointment.rescheduled"], check=_moved),
                  FixtureCase("activity_deleted.json", ["appointment.cancelled"], check=_deleted),
                  FixtureCase("deal_change.json", [], unknown=["deal.change"])],
    )]


def _seeded() -> FakePipedrive:
    return FakePipedrive(api_token="pd-static")


def outbound_cases() -> list[OutboundCase]:
    return [OutboundCase(
        name="pipedrive", fake=_seeded,
        call=lambda url, t: PipedriveClient("pd-static", api_domain=url, timeout=t).me(),
        path_contains="/api/v1/users/me",
        error_body=lambda s: pd_error(s, "refused"),
        expected_code=lambda s: "bad_request" if s == 400 else "not_found",
    )]
