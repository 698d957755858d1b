"""Bad input on every provider's webhook route, validly signed: never a 5xx (compliance-and-reliability.md §7.3).

Every inbound connector is configured (Cal.com, Calendly, Outlook, HubSpot, Zoom, Google, Twilio, SendGrid events
and Inbound Parse, Slack, Standard Webhooks) and requests are signed exactly as each provider signs them, so the
bytes get past authentication and into the parsers. Bodies are the recorded provider fixtures with values swapped
for hostile ones (wrong JSON types, 10**400, dates at datetime's limits, deep nesting, lone surrogate escapes) or
keys removed; headers carry overflowing, negative, fractional and non-ASCII timestamps. An authentic request the
parser cannot use is a 4xx with a `detail`; a forged one a 401.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st
from temporalio.client import Client
from twilio.request_validator import RequestValidator

from connectors.airtable.inbound import content_mac
from connectors.signatures import hmac_sha256_b64, hmac_sha256_hex
from connectors.slack.interactivity import slack_signature
from connectors.standard_webhooks import decode_secret
from tests.connectors.cases_gohighlevel import KEY as GHL_KEY
from tests.connectors.cases_gohighlevel import PUBLIC_PEM as GHL_PUBLIC_PEM
from tests.connectors.cases_mindbody import KEY as MINDBODY_KEY
from tests.connectors.kit import fixture_bytes
from tests.engine.conftest import settings_for
from tests.fuzz.conftest import fuzz_settings
from tests.fuzz.payloads import GRAPH_STATE, hostile_values, mutated_json, short_id
from tests.helpers import fast_policy, unique_task_queue
from workers.api.app import create_app
from workers.dependencies import build_dependencies
from workers.worker import build_worker

CALCOM, CALENDLY, HUBSPOT, ZOOM = "calcom-secret-01", "calendly-key-01", "hubspot-secret-01", "zoom-secret-01"
TWILIO, SLACK, PARSE_TOKEN = "twilio-token-01", "slack-secret-01", "parse-token-01"
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
SENDGRID_PUBLIC = base64.b64encode(SENDGRID_KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()

PIPEDRIVE_USER, PIPEDRIVE_PASSWORD = "hookuser", "pipedrive-hook-password"
AC_TOKEN = "activecampaign-url-token-0123456789"
ZENDESK, FRESHDESK = "zendesk-signing-secret-01", "freshdesk-rule-token-0123456789"
ACUITY_KEY, SQUARE_KEY = "acuity-api-key-0123", "square-signature-key-0123"
FHIR_TOKEN = "fhir-subscription-token-0123"
JOBBER = "jobber-client-secret-01"
AIRTABLE_MAC = base64.b64encode(b"airtable-mac-secret-01").decode()
PROVIDER_ENV = {
    "NOSHOW_SETTINGS_FILE": "/nonexistent/.env",
    "NOSHOW_CALCOM_WEBHOOK_SECRET": CALCOM, "NOSHOW_CALENDLY_SIGNING_KEY": CALENDLY,
    "NOSHOW_GRAPH_CLIENT_STATE": GRAPH_STATE, "NOSHOW_HUBSPOT_CLIENT_SECRET": HUBSPOT,
    "NOSHOW_ZOOM_SECRET_TOKEN": ZOOM, "NOSHOW_GOOGLE_CHANNELS": "true",
    "TWILIO_AUTH_TOKEN": TWILIO, "SENDGRID_EVENT_VERIFICATION_KEY": SENDGRID_PUBLIC,
    "SENDGRID_PARSE_TOKEN": PARSE_TOKEN, "SLACK_SIGNING_SECRET": SLACK,
    "NOSHOW_PIPEDRIVE_WEBHOOK_USER": PIPEDRIVE_USER, "NOSHOW_PIPEDRIVE_WEBHOOK_PASSWORD": PIPEDRIVE_PASSWORD,
    "NOSHOW_ACTIVECAMPAIGN_WEBHOOK_TOKEN": AC_TOKEN, "NOSHOW_GOHIGHLEVEL_WEBHOOK_PUBLIC_KEY": GHL_PUBLIC_PEM,
    "NOSHOW_ZENDESK_WEBHOOK_SECRET": ZENDESK, "NOSHOW_FRESHDESK_WEBHOOK_TOKEN": FRESHDESK,
    "NOSHOW_MINDBODY_SIGNATURE_KEY": MINDBODY_KEY,
    # Acuity's route reads each pinged appointment back: a closed local port, so a read fails at once
    "NOSHOW_ACUITY_USER_ID": "11145481", "NOSHOW_ACUITY_API_KEY": ACUITY_KEY,
    "NOSHOW_ACUITY_BASE_URL": "http://127.0.0.1:9/api/v1", "NOSHOW_SQUARE_SIGNATURE_KEY": SQUARE_KEY,
    "NOSHOW_FHIR_SUBSCRIPTION_TOKEN": FHIR_TOKEN,
    "NOSHOW_JOBBER_CLIENT_SECRET": JOBBER,
    "NOSHOW_AIRTABLE_MAC_SECRET": AIRTABLE_MAC, "NOSHOW_AIRTABLE_BASE_ID": "app00000000000000",
    "NOSHOW_AIRTABLE_WEBHOOK_ID": "ach00000000000000",
}
JSON_PROVIDERS = ["calcom", "calendly", "hubspot", "zoom", "outlook", "events", "sendgrid", "pipedrive",
                  "gohighlevel", "zendesk", "freshdesk", "mindbody", "square", "fhir", "jobber"]
ALL_PROVIDERS = [*JSON_PROVIDERS, "twilio", "slack", "sendgrid_parse", "google", "activecampaign", "acuity",
                 "airtable"]


# ------------------------------------------------------------------ the app, every provider on


@dataclass
class ProviderApi:
    http: httpx.AsyncClient
    base_url: str  # the public base URL providers sign against (Twilio and HubSpot sign the URL)
    events_secret: str
    responses: list[httpx.Response]

    async def post(self, provider: str, body: bytes, headers: list[tuple[str, str]] | dict[str, str],
                   query: str = "") -> httpx.Response:
        url = f"/webhooks/{provider}" + (f"?{query}" if query else "")
        response = await self.http.post(url, content=body, headers=headers)
        self.responses.append(response)
        return response

    def url(self, provider: str, query: str = "") -> str:
        return f"{self.base_url}/webhooks/{provider}" + (f"?{query}" if query else "")


@pytest_asyncio.fixture(scope="module")
async def module_provider_api(client: Client, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ProviderApi]:
    """One app with every provider on, and its worker, for the whole module."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in PROVIDER_ENV.items():
            monkeypatch.setenv(name, value)
        task_queue = unique_task_queue()
        settings_ = settings_for(tmp_path_factory.mktemp("providers"), task_queue, fast_policy())
        deps = build_dependencies(settings_)
        worker = build_worker(client, deps, task_queue=task_queue)
        task = asyncio.create_task(worker.run())
        app = create_app(settings_, client=client, deps=deps)
        configured = set(app.state.noshow.connectors)
        assert set(ALL_PROVIDERS) <= configured, sorted(configured)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                yield ProviderApi(http, settings_.api.public_base_url.rstrip("/"),
                                  settings_.auth.webhook_secret.get_secret_value(), [])
        finally:
            await worker.shutdown()
            await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
def provider_api(module_provider_api: ProviderApi) -> ProviderApi:
    """The module's app, with a response log of this test's own."""
    return replace(module_provider_api, responses=[])


# ------------------------------------------------------------------ signing, as each provider does


class _Form(dict[str, list[str]]):
    def getlist(self, name: str) -> list[str]:
        return self[name]


def signed_headers(api: ProviderApi, provider: str, body: bytes, ts: str | None = None,
                   query: str = "") -> dict[str, str]:
    """Headers that authenticate `body` on `/webhooks/<provider>`; `ts` replaces the signed timestamp text."""
    now = str(int(time.time()))
    if provider == "calcom":
        return {"x-cal-signature-256": hmac_sha256_hex(CALCOM, body)}
    if provider == "calendly":
        t = ts or now
        return {"calendly-webhook-signature": f"t={t},v1={hmac_sha256_hex(CALENDLY, f'{t}.'.encode() + body)}"}
    if provider == "hubspot":
        t = ts or str(int(time.time() * 1000))
        text = body.decode("utf-8", "surrogateescape")
        signed = f"POST{api.url(provider, query)}{text}{t}".encode("utf-8", "surrogateescape")
        return {"x-hubspot-signature-v3": hmac_sha256_b64(HUBSPOT, signed), "x-hubspot-request-timestamp": t}
    if provider == "zoom":
        t = ts or now
        return {"x-zm-signature": "v0=" + hmac_sha256_hex(ZOOM, f"v0:{t}:".encode() + body),
                "x-zm-request-timestamp": t}
    if provider == "events":
        t = ts or now
        msg_id = f"msg_{uuid.uuid4().hex}"
        sig = hmac_sha256_b64(decode_secret(api.events_secret), f"{msg_id}.{t}.".encode() + body)
        return {"webhook-id": msg_id, "webhook-timestamp": t, "webhook-signature": f"v1,{sig}"}
    if provider == "sendgrid":
        t = ts or now
        sig = SENDGRID_KEY.sign(t.encode("latin-1") + body, ec.ECDSA(hashes.SHA256()))
        return {"x-twilio-email-event-webhook-signature": base64.b64encode(sig).decode(),
                "x-twilio-email-event-webhook-timestamp": t}
    if provider == "slack":
        t = ts or now
        return {"x-slack-request-timestamp": t, "x-slack-signature": slack_signature(SLACK, t, body)}
    if provider == "twilio":
        try:
            form = _Form(parse_qs(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            form = _Form()
        return {"x-twilio-signature": RequestValidator(TWILIO).compute_signature(api.url(provider, query), form)}
    if provider == "gohighlevel":
        return {"x-ghl-signature": base64.b64encode(GHL_KEY.sign(body)).decode()}
    if provider == "mindbody":
        return {"x-mindbody-signature": "sha256=" + hmac_sha256_b64(MINDBODY_KEY, body)}
    if provider == "acuity":
        return {"x-acuity-signature": hmac_sha256_b64(ACUITY_KEY, body)}
    if provider == "square":
        return {"x-square-hmacsha256-signature": hmac_sha256_b64(SQUARE_KEY, api.url(provider, query).encode() + body)}
    if provider == "jobber":
        return {"x-jobber-hmac-sha256": hmac_sha256_b64(JOBBER, body)}
    if provider == "pipedrive":
        pair = base64.b64encode(f"{PIPEDRIVE_USER}:{PIPEDRIVE_PASSWORD}".encode()).decode()
        return {"authorization": f"Basic {pair}"}
    if provider == "zendesk":
        t = ts or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return {"x-zendesk-webhook-signature": hmac_sha256_b64(ZENDESK, t.encode("latin-1") + body),
                "x-zendesk-webhook-signature-timestamp": t}
    if provider == "freshdesk":
        return {"x-noshow-token": FRESHDESK}
    if provider == "fhir":
        return {"authorization": f"Bearer {FHIR_TOKEN}"}
    if provider == "airtable":
        return {"x-airtable-content-mac": content_mac(AIRTABLE_MAC, body)}
    if provider in ("outlook", "sendgrid_parse", "activecampaign"):
        return {}  # the secret rides in the body (clientState) or the URL (?token=)
    if provider == "google":
        return {"x-goog-channel-id": "chan-unknown", "x-goog-channel-token": "tok", "x-goog-message-number": "1"}
    raise AssertionError(provider)


def query_for(provider: str) -> str:
    token = {"sendgrid_parse": PARSE_TOKEN, "activecampaign": AC_TOKEN}.get(provider)
    return urlencode({"token": token}) if token else ""


async def post_signed(api: ProviderApi, provider: str, body: bytes, content_type: str | None = "application/json",
                      ts: str | None = None) -> httpx.Response:
    query = query_for(provider)
    headers = signed_headers(api, provider, body, ts, query)
    if content_type is not None:
        headers["content-type"] = content_type
    return await api.post(provider, body, headers, query)


def assert_clean(r: httpx.Response, what: str) -> None:
    assert r.status_code < 500, f"{r.status_code} for {what}: {r.text[:300]}"
    if r.status_code >= 400:
        assert r.json()["detail"], r.text[:300]


# ------------------------------------------------------------------ properties


@pytest.mark.parametrize("provider", JSON_PROVIDERS)
@fuzz_settings(80)
@given(data=st.data())
async def test_signed_mutated_provider_payloads_never_get_a_5xx(provider_api: ProviderApi, provider: str,
                                                                data: st.DataObject) -> None:
    body = data.draw(mutated_json(provider), label="body")
    r = await post_signed(provider_api, provider, body)
    assert_clean(r, f"{provider} body {body[:200]!r}")


garbage = st.one_of(
    st.binary(max_size=512),
    st.sampled_from([b"", b"{", b"[]", b"null", b"\xff\xfe", b'"\\ud800"', b"[" * 50_000, b"1e999", b"NaN",
                     b"\xed\xa0\x80", b"payload=%7B%7D", b"payload=" + b"%5B" * 20_000, b"a=%ED%A0%80"]),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
)
content_types = st.sampled_from([None, "application/json", "application/x-www-form-urlencoded", "text/plain",
                                 "multipart/form-data; boundary=xYzZY", "multipart/form-data", "text/xml",
                                 "application/json; charset=latin-1", "", "multipart/form-data; boundary=\"\""])


@pytest.mark.parametrize("provider", ALL_PROVIDERS)
@fuzz_settings(40)
@given(body=garbage, content_type=content_types)
async def test_signed_garbage_on_every_provider_route_gets_4xx(provider_api: ProviderApi, provider: str,
                                                               body: bytes, content_type: str | None) -> None:
    r = await post_signed(provider_api, provider, body, content_type)
    assert_clean(r, f"{provider} body {body[:120]!r} as {content_type!r}")
    if r.status_code == 200:  # a handshake, an ignored type, or a form that happens to be a valid message
        assert provider in {"twilio", "slack", "sendgrid_parse", "events", "sendgrid", "hubspot", "outlook"}


@st.composite
def twilio_forms(draw: st.DrawFn) -> bytes:
    fields: dict[str, str] = {}
    for name in draw(st.lists(st.sampled_from(["MessageSid", "SmsSid", "From", "To", "Body", "MessageStatus",
                                               "ErrorCode", "OptOutType", "AccountSid", "NumMedia"]), max_size=8)):
        fields[name] = draw(st.one_of(st.text(max_size=40), st.sampled_from(
            ["delivered", "failed", "undelivered", "21610", "²", "9" * 5000, "whatsapp:", "whatsapp:+1555", "STOP",
             "", "\x00", "\ud800"])))
    return urlencode(fields, encoding="utf-8", errors="surrogatepass").encode()


@st.composite
def slack_forms(draw: st.DrawFn) -> bytes:
    action = {"type": "button", "action_id": draw(st.sampled_from(["review_approve", "review_reject", "other"])),
              "value": draw(st.one_of(st.just(json.dumps({"case_id": "case-1", "review_id": "rev-1"})),
                                      st.sampled_from(["", "[1]", '"x"', "1e999", "[" * 5000, '{"case_id": "\\ud800"}',
                                                       '{"case_id": 1, "review_id": []}', "null"]))),
              "action_ts": "1767603660.1"}
    payload: dict[str, Any] = {"type": "block_actions", "user": {"id": "U1", "username": "ops"},
                               "container": {"message_ts": "1.1"}, "actions": [action]}
    for key in draw(st.lists(st.sampled_from(["type", "user", "container", "actions"]), max_size=2)):
        payload[key] = draw(hostile_values)
    return urlencode({"payload": json.dumps(payload)}).encode()


@st.composite
def multipart_bodies(draw: st.DrawFn) -> bytes:
    parts = []
    for name in draw(st.lists(st.sampled_from(["from", "to", "text", "headers", "envelope", "email", "subject"]),
                              max_size=6)):
        charset = draw(st.sampled_from([None, "utf-8", "utf-16", "latin-1", "base64", "idna", "nope", "utf-7",
                                        "rot13", "hex"]))
        value = draw(st.one_of(st.binary(max_size=60), st.sampled_from([
            b"Jane <jane@example.com>", b"Message-ID: <a@b>\n", b'{"from": "\\ud800"}', b"[" * 5000,
            b"\x80\x81", b"=?utf-8?b?////?=", b"Content-Type: multipart/mixed; boundary=x\n\n--x\n",
            b"Content-Type: text/plain; charset=nope\n\nhello", b"Content-Type: text/plain; charset=idna\n\n\xff"])))
        head = f'Content-Disposition: form-data; name="{name}"'
        if charset:
            head += f"\r\nContent-Type: text/plain; charset={charset}"
        parts.append(f"--xYzZY\r\n{head}\r\n\r\n".encode() + value + b"\r\n")
    return b"".join(parts) + b"--xYzZY--\r\n"


@pytest.mark.parametrize(("provider", "bodies", "content_type"), [
    ("twilio", twilio_forms(), "application/x-www-form-urlencoded"),
    ("slack", slack_forms(), "application/x-www-form-urlencoded"),
    ("sendgrid_parse", multipart_bodies(), "multipart/form-data; boundary=xYzZY"),
])
@fuzz_settings(60)
@given(data=st.data())
async def test_signed_hostile_forms_never_get_a_5xx(provider_api: ProviderApi, provider: str,
                                                    bodies: st.SearchStrategy[bytes], content_type: str,
                                                    data: st.DataObject) -> None:
    body = data.draw(bodies, label="body")
    r = await post_signed(provider_api, provider, body, content_type)
    assert_clean(r, f"{provider} body {body[:200]!r}")


# ------------------------------------------------------------------ named cases


TIMESTAMPED = ["calendly", "hubspot", "zoom", "events", "sendgrid", "slack", "zendesk"]
BAD_TIMESTAMPS = ["9" * 400, "99999999999999999999", "-99999999999999999999", "-1", "0", "1.5", "1e9", "²",
                  "+1767603600", "0x69", " ", "1767603600 1767603600", "¹²³"]  # as the app sees them (latin-1)


@pytest.mark.parametrize("provider", TIMESTAMPED)
@pytest.mark.parametrize("ts", BAD_TIMESTAMPS, ids=short_id)
async def test_validly_signed_absurd_timestamps_get_401(provider_api: ProviderApi, provider: str, ts: str) -> None:
    """The signature is right over the absurd timestamp text: only the timestamp check can refuse it (10**400
    used to overflow the float arithmetic of the window check: OverflowError -> 500)."""
    body = b'{"type": "appointment.no_show", "data": {}}' if provider != "slack" else b"payload=%7B%7D"
    headers = signed_headers(provider_api, provider, body, ts=ts)
    headers["content-type"] = "application/json"
    r = await provider_api.http.post(f"/webhooks/{provider}", content=body,
                                     headers=[(k.encode(), v.encode("latin-1")) for k, v in headers.items()])
    assert r.status_code == 401, (r.status_code, r.text[:200])


@pytest.mark.parametrize("signature", ["v1,!!!!", "v1,", "v1", ",", "v1,=" * 1000, "v2,abc v1,@@@", "v1,é",
                                       "v1," + "A" * 100_000, " " * 50, "v1,AAAA " * 50_000], ids=short_id)
async def test_malformed_standard_signatures_get_401(provider_api: ProviderApi, signature: str) -> None:
    body = b'{"type": "x", "data": {}}'
    headers = signed_headers(provider_api, "events", body)
    headers["webhook-signature"] = signature
    r = await provider_api.http.post("/webhooks/events", content=body,
                                     headers=[(k.encode(), v.encode("utf-8")) for k, v in headers.items()])
    assert r.status_code == 401, (r.status_code, r.text[:200])


@pytest.mark.parametrize("signature", ["!!!!", "", "AAAA", "A" * 10_000, "MEUCIQ==", "é"], ids=short_id)
async def test_malformed_sendgrid_signatures_get_401(provider_api: ProviderApi, signature: str) -> None:
    body = b"[]"
    headers = signed_headers(provider_api, "sendgrid", body)
    headers["x-twilio-email-event-webhook-signature"] = signature
    r = await provider_api.http.post("/webhooks/sendgrid", content=body,
                                     headers=[(k.encode(), v.encode("utf-8")) for k, v in headers.items()])
    assert r.status_code == 401, (r.status_code, r.text[:200])


async def test_duplicate_signature_headers_are_not_a_5xx(provider_api: ProviderApi) -> None:
    body = b'{"type": "appointment.unknown_thing", "data": {}}'
    good = signed_headers(provider_api, "events", body)
    headers = [(k, v) for k, v in good.items()] + [("webhook-signature", "v1,forged"),
                                                     ("webhook-timestamp", "1"), ("content-type", "text/plain")]
    r = await provider_api.post("events", body, headers)
    assert r.status_code in (200, 401), (r.status_code, r.text[:200])


@pytest.mark.parametrize("doc", [
    {"type": "appointment.no_show", "timestamp": "2026-01-01T00:00:00Z", "data": {"x": "\ud800"}},
    {"type": "x\udfffy", "data": {}},
    {"\ud800": 1, "type": "appointment.created", "data": {}},
])
async def test_lone_surrogate_escapes_in_signed_json_get_422(provider_api: ProviderApi, doc: dict[str, Any]) -> None:
    body = json.dumps(doc).encode()  # ASCII on the wire: "\\ud800"
    r = await post_signed(provider_api, "events", body)
    assert r.status_code == 422 and "surrogate" in r.json()["detail"], r.text[:200]


@pytest.mark.parametrize("sid", ["9" * 5000, "SM" + "a" * 199, "SM 1", "SM\u00e91", "SM1/../2"], ids=short_id)
async def test_twilio_message_sids_the_engine_cannot_key_get_422(provider_api: ProviderApi, sid: str) -> None:
    """The reply is keyed by its MessageSid (at most 200 characters): a longer one failed validation in the
    API's dispatch, after parsing, as a 500."""
    body = urlencode({"MessageSid": sid, "From": "+15551234567", "To": "+15557654321", "Body": "1"}).encode()
    r = await post_signed(provider_api, "twilio", body, "application/x-www-form-urlencoded")
    assert r.status_code == 422 and "MessageSid" in r.json()["detail"], (r.status_code, r.text[:200])


async def test_nothing_invalid_answers_5xx_overall(provider_api: ProviderApi) -> None:
    """A mixed burst across every route on one stack (the module's, after every case above has used it)."""
    for provider in ALL_PROVIDERS:
        for body in (b"", b"[" * 100_000, b'{"a": 1e999}', b"\xff", b'"\\ud800"'):
            await post_signed(provider_api, provider, body)
    assert provider_api.responses and all(r.status_code < 500 for r in provider_api.responses), [
        (r.request.url.path, r.status_code) for r in provider_api.responses if r.status_code >= 500]


ROUTES: list[tuple[str, Callable[[str], str]]] = [
    ("GET", lambda v: f"/cases?limit={v}"), ("GET", lambda v: f"/cases?stage={v}"),
    ("GET", lambda v: f"/cases/{v}"), ("GET", lambda v: f"/book/{v}"), ("GET", lambda v: f"/dashboard?since={v}"),
    ("GET", lambda v: f"/dashboard/data.json?until={v}&by={v}"), ("GET", lambda v: f"/dashboard/export.csv?by={v}"),
    ("GET", lambda v: f"/backfills/backfill-{v}"), ("GET", lambda v: f"/waitlist?appointment_type={v}&calendar_id=c"),
]


@pytest.mark.parametrize(("method", "route"), ROUTES)
@pytest.mark.parametrize("value", ["%ED%A0%80", "%FF%FE", "99999999999999999999999999", "-1", "1e400", "%00",
                                   "..%2F..%2Fetc", "a" * 3000, "%C2%B2", "'%20OR%20'1'='1", "2026-13-45"],
                         ids=short_id)
async def test_query_and_path_values_never_get_a_5xx(provider_api: ProviderApi, method: str,
                                                     route: Callable[[str], str], value: str) -> None:
    r = await provider_api.http.request(method, route(value), headers={"authorization": "Bearer dev-admin-token"})
    assert r.status_code < 500, (route(value)[:120], r.status_code, r.text[:200])


async def test_pipedrive_answers_its_webhook_basic_credentials_and_refuses_others(provider_api: ProviderApi) -> None:
    body = fixture_bytes("pipedrive", "activity_no_show.json")
    wrong = base64.b64encode(f"{PIPEDRIVE_USER}:guess".encode()).decode()
    refused = await provider_api.post("pipedrive", body, {"authorization": f"Basic {wrong}",
                                                          "content-type": "application/json"})
    assert refused.status_code == 401
    accepted = await post_signed(provider_api, "pipedrive", body)
    assert accepted.status_code in (200, 202), accepted.text[:300]
    again = await post_signed(provider_api, "pipedrive", body)
    assert again.status_code == 200 and again.json().get("duplicate") is True, again.text[:300]


async def test_activecampaign_answers_its_url_token_and_refuses_others(provider_api: ProviderApi) -> None:
    body = fixture_bytes("activecampaign", "deal_update_missed.txt")
    form = {"content-type": "application/x-www-form-urlencoded"}
    refused = await provider_api.post("activecampaign", body, form, urlencode({"token": AC_TOKEN[:-1]}))
    assert refused.status_code == 401
    accepted = await post_signed(provider_api, "activecampaign", body, "application/x-www-form-urlencoded")
    assert accepted.status_code in (200, 202), accepted.text[:300]
    again = await post_signed(provider_api, "activecampaign", body, "application/x-www-form-urlencoded")
    assert again.status_code == 200 and again.json().get("duplicate") is True, again.text[:300]
