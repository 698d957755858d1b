"""ServiceTitan through the conformance kit: no webhook case (the V2 webhook signature scheme is unpublished, so
no route exists), and the REST client's error mapping against the fake tenant (the spec's `ApiErrorResponse`)."""

from __future__ import annotations

from connectors.servicetitan.client import ServiceTitanClient
from tests.connectors.kit import OutboundCase
from tests.fakes.servicetitan_fake import FakeServiceTitan, st_error

TENANT, APP_KEY = "123456", "ak1.st-app-key"


def outbound_cases() -> list[OutboundCase]:
    return [OutboundCase(
        name="servicetitan", fake=lambda: FakeServiceTitan(access_token="st-static"),
        call=lambda url, t: ServiceTitanClient("st-static", APP_KEY, TENANT, base_url=url, timeout=t).probe(),
        path_contains=f"/jpm/v2/tenant/{TENANT}/appointments",
        error_body=lambda s: st_error(s, "refused"),
        expected_code=lambda s: "bad_request" if s == 400 else "not_found",
    )]
