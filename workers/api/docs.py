"""API documentation that works with no internet: Swagger UI at `/docs` and ReDoc at `/redoc`, their scripts and
styles served from the installed `fastapi-offline` package (MIT; Swagger UI Apache-2.0, ReDoc MIT), never a CDN.

The OpenAPI document also says how every route authenticates: bearer or session cookie on the people's routes
(declared by their dependencies), and on `/webhooks/{provider}` each provider's signature headers, scheme and
body (`x-signature-schemes`).
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = "/docs-static"

# provider: (signature headers, signed content and scheme, body media type, body summary). Facts from each
# provider's public documentation, as linked in the connector's module docstring.
WEBHOOKS: dict[str, tuple[list[str], str, str, str]] = {
    "events": (["webhook-id", "webhook-timestamp", "webhook-signature"],
               "Standard Webhooks v1 (https://www.standardwebhooks.com/): `v1,<base64 HMAC-SHA256(secret, "
               "id.timestamp.body)>`, ±5 min", "application/json",
               '{"type": "appointment.no_show" | "phone.booking" | "phone.cancellation" | "phone.call_missed", '
               '"timestamp": ISO-8601, "data": ...}; one JSON Schema per type at /schemas/events/{type}.json'),
    "calcom": (["x-cal-signature-256"], "hex HMAC-SHA256(webhook secret, raw body); no timestamp is signed",
               "application/json", '{"triggerEvent": "BOOKING_CREATED", "createdAt", "payload": {...}}'),
    "calendly": (["calendly-webhook-signature"], "`t=<unix>,v1=<hex HMAC-SHA256(signing key, t.body)>`, ±3 min",
                 "application/json", '{"event": "invitee.created", "created_at", "payload": {...}}'),
    "google": (["x-goog-channel-id", "x-goog-channel-token", "x-goog-resource-state", "x-goog-message-number"],
               "channel token (our secret per push channel) compared in constant time; no body",
               "application/json", "empty"),
    "outlook": ([], "`clientState` in each notification equals NOSHOW_GRAPH_CLIENT_STATE; `validationToken` query "
                    "answered as text/plain", "application/json",
                '{"value": [{"subscriptionId", "clientState", ...}]}'),
    "hubspot": (["x-hubspot-signature-v3", "x-hubspot-request-timestamp"],
                "base64 HMAC-SHA256(app client secret, method + uri + body + timestamp), ±5 min",
                "application/json", '[{"eventId", "subscriptionType", "objectId", "propertyName", ...}]'),
    "zoom": (["x-zm-signature", "x-zm-request-timestamp"],
             "`v0=<hex HMAC-SHA256(secret token, v0:timestamp:body)>`, ±5 min; `endpoint.url_validation` answered",
             "application/json", '{"event": "meeting.ended", "event_ts", "payload": {...}}'),
    "twilio": (["x-twilio-signature"],
               "base64 HMAC-SHA1(auth token, URL + sorted form params), checked with Twilio's RequestValidator",
               "application/x-www-form-urlencoded",
               "MessageSid, From, To, Body, MessageStatus, ...; Voice: CallSid, From, CallStatus / DialCallStatus"),
    "sendgrid": (["x-twilio-email-event-webhook-signature", "x-twilio-email-event-webhook-timestamp"],
                 "ECDSA P-256 / SHA-256 over timestamp + body with the Event Webhook verification key",
                 "application/json", '[{"event": "delivered", "sg_message_id", "timestamp", ...}]'),
    "sendgrid_parse": (["authorization"], "`?token=` (SENDGRID_PARSE_TOKEN) or HTTP Basic (SENDGRID_PARSE_BASIC_AUTH)",
                       "multipart/form-data", "from, to, subject, text, html, headers, ..."),
    "zoho": ([], "the channel `token` and `channel_id` in the body (and `?token=` when the notify URL carries it) "
                 "equal NOSHOW_ZOHO_CHANNEL_TOKEN and the channel id, compared in constant time; nothing is signed",
             "application/json", '{"channel_id", "token", "module": "Events", "operation", "ids": [...], ...}'),
    "pipedrive": (["authorization"],
                  "HTTP Basic credentials set on the webhook (`http_auth_user` / `http_auth_password`) compared in "
                  "constant time before the body is read; Pipedrive signs nothing", "application/json",
                  '{"meta": {"action", "entity": "activity", "id", "attempt", "version": "2.0"}, "data", '
                  '"previous"}'),
    "activecampaign": ([], "`?token=` in the webhook URL equals NOSHOW_ACTIVECAMPAIGN_WEBHOOK_TOKEN, compared in "
                           "constant time before the body is read; ActiveCampaign signs nothing and documents no "
                           "other credential", "application/x-www-form-urlencoded",
                       "type=deal_update&date_time=...&deal[id]=...&deal[stage_title]=Missed&deal[contactid]=..."),
    "gohighlevel": (["x-ghl-signature"], "base64 Ed25519 signature over the raw body with the Marketplace app's "
                                         "public key; the body's `timestamp` within 5 min, dedupe on `webhookId`",
                    "application/json", '{"type": "AppointmentUpdate", "locationId", "appointment": {...}, '
                                        '"timestamp", "webhookId"}'),
    "zendesk": (["x-zendesk-webhook-signature", "x-zendesk-webhook-signature-timestamp"],
                "base64 HMAC-SHA256(webhook signing secret, timestamp + body), ±5 min "
                "(NOSHOW_ZENDESK_TOLERANCE_SECONDS)",
                "application/json", '{"ticket_id", "appointment_status", "requester_id", "appointment_id", '
                                    '"appointment_start", "created_at", "updated_at"} (the trigger\'s template)'),
    "freshdesk": (["x-noshow-token", "authorization"],
                  "the automation rule's custom header (NOSHOW_FRESHDESK_WEBHOOK_HEADER) equal to "
                  "NOSHOW_FRESHDESK_WEBHOOK_TOKEN, or its HTTP Basic pair, compared in constant time before the "
                  "body is read; Freshdesk signs nothing", "application/json",
                  '{"ticket_id", "status", "appointment_status", "requester_id", "created_at", "updated_at"} '
                  "(the rule's template)"),
    "mindbody": (["x-mindbody-signature"], "`sha256=<base64 HMAC-SHA256(messageSignatureKey, body)>` (the "
                                           "subscription's key as given; no timestamp: dedupe on `messageId`)",
                 "application/json", '{"messageId", "eventId": "appointmentBooking.updated", "eventSchemaVersion", '
                                     '"eventInstanceOriginationDateTime", "eventData": {...}}'),
    "acuity": (["x-acuity-signature"], "base64 HMAC-SHA256(API key, body); nothing signed is a timestamp: dedupe on "
                                       "action + appointment id + body", "application/x-www-form-urlencoded",
               "action=scheduled&id=...&calendarID=...&appointmentTypeID=..."),
    "square": (["x-square-hmacsha256-signature"], "base64 HMAC-SHA256(signature key, notification URL + body); "
                                                  "dedupe on `event_id`", "application/json",
               '{"type": "booking.updated", "event_id", "created_at", "data": {"object": {"booking": {...}}}}'),
    "fhir": (["authorization"], "`Bearer <NOSHOW_FHIR_SUBSCRIPTION_TOKEN>`, the value the Subscription's "
                                "`channel.header` sends, compared in constant time before the body is read; FHIR "
                                "signs nothing", "application/fhir+json",
             '{"resourceType": "Bundle", "type": "history", "entry": [{"resource": {"resourceType": "Parameters", '
             '"parameter": [{"name": "type", "valueCode": "event-notification"}, ...]}}]}'),
    "mailchimp": ([], "`?secret=` in the audience webhook's URL equals NOSHOW_MAILCHIMP_WEBHOOK_SECRET, compared in "
                      "constant time before the body is read; Mailchimp signs nothing; its GET ping when the "
                      "webhook is saved is answered 200", "application/x-www-form-urlencoded",
                  "type=unsubscribe&fired_at=2026-01-06 15:30:00&data[id]=...&data[list_id]=...&data[email]=..."),
    "quickbooks": (["intuit-signature"], "base64 HMAC-SHA256(app verifier token, raw body); no timestamp is signed",
                   "application/json", '{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities": '
                                       '[{"name", "id", "operation", "lastUpdated"}]}}]} or a CloudEvents array'),
    "jobber": (["x-jobber-hmac-sha256"], "base64 HMAC-SHA256(app OAuth client secret, raw body); no timestamp is "
                                         "signed, dedupe on topic, item, account and `occuredAt`", "application/json",
               '{"data": {"webHookEvent": {"topic": "VISIT_UPDATE", "appId", "accountId", "itemId", "occuredAt"}}}'),
    "sheets": (["x-goog-channel-id", "x-goog-channel-token", "x-goog-resource-state", "x-goog-message-number"],
               "Drive `files.watch` push: `X-Goog-Channel-Token` equals NOSHOW_SHEETS_CHANNEL_TOKEN (constant time); "
               "nothing is signed; the ping asks for the sheet's reconcile run", "application/json", "(no body)"),
    "airtable": (["x-airtable-content-mac"], "`hmac-sha256=<hex HMAC-SHA256(base64-decoded macSecretBase64, body)>`; "
                                             "the ping asks for the table's reconcile run (payloads from the cursor)",
                 "application/json", '{"base": {"id"}, "webhook": {"id"}, "timestamp"}'),
    "gmail": (["authorization"], "Pub/Sub push OIDC token: RS256 JWT checked against Google's keys, `iss` "
                                 "accounts.google.com, `aud` NOSHOW_GMAIL_PUSH_AUDIENCE, `email` the push service "
                                 "account; the push's history id starts a `history.list` read of the replies",
              "application/json", '{"message": {"data": "<base64 {emailAddress, historyId}>", "messageId"}, '
                                  '"subscription"}'),
    "slack": (["x-slack-signature", "x-slack-request-timestamp"],
              "`v0=<hex HMAC-SHA256(signing secret, v0:timestamp:body)>`, ±5 min",
              "application/x-www-form-urlencoded", "payload=<JSON block_actions>"),
}


def _webhook_docs(operation: dict[str, Any]) -> None:
    rows = "\n".join(f"| `{name}` | {', '.join(f'`{h}`' for h in headers) or '(in the body)'} | {scheme} | "
                     f"`{media}`: {body} |" for name, (headers, scheme, media, body) in WEBHOOKS.items())
    operation["description"] = (
        "Authenticated by the provider's signature over the raw bytes, verified before anything parses them (no "
        "bearer token). A provider without a configured secret answers 404.\n\n"
        "| provider | headers | signature scheme | body |\n|---|---|---|---|\n" + rows)
    operation["security"] = []
    names = sorted({h for headers, *_ in WEBHOOKS.values() for h in headers})
    params = operation.setdefault("parameters", [])
    known = {p.get("name") for p in params}
    params += [{"name": h, "in": "header", "required": False, "schema": {"type": "string"},
                "description": "signature header of " + ", ".join(n for n, v in WEBHOOKS.items() if h in v[0])}
               for h in names if h not in known]
    media = {m for _, _, m, _ in WEBHOOKS.values()}
    operation["requestBody"] = {"required": False, "description": "the provider's own payload, byte for byte",
                                "content": {m: {"schema": {}} for m in sorted(media)}}
    operation["x-signature-schemes"] = {name: {"headers": h, "scheme": s, "media_type": m, "body": b}
                                        for name, (h, s, m, b) in WEBHOOKS.items()}


PROBLEM = {"$ref": "#/components/schemas/Problem"}
ERRORS = {"401": "not signed in, or an unknown or expired token (answered before the body is read)",
          "403": "signed in, but the role is too low, or a cookie request without its CSRF token",
          "404": "no such resource, or one outside the caller's programs"}


# refusals particular to a route, beyond the common ones
OUT_OF_SCOPE = {"404": "`program` names a program outside the caller's programs (or `(none)` for a caller "
                       "scoped to some programs)"}
EXTRA: dict[str, dict[str, str]] = {
    "/book/{token}": {"403": "the link's signature is wrong, or the link expired",
                      "410": "the offer is no longer open"},
    **dict.fromkeys(("/dashboard", "/dashboard/data.json", "/dashboard/export.csv"), OUT_OF_SCOPE),
}


def _problem_schemas(document: dict[str, Any]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Problem", {"title": "Problem", "type": "object", "required": ["detail"],
                                   "properties": {"detail": {"title": "Detail", "type": "string"}}})


def _error_responses(path: str, operation: dict[str, Any]) -> None:
    """The refusals every operation can give, with their bodies, so clients (and schema checks) know them."""
    responses = operation.setdefault("responses", {})
    wanted = (["401", "403"] if operation.get("security") else []) + (["404"] if "{" in path else [])
    for code, text in [(c, ERRORS[c]) for c in wanted] + list(EXTRA.get(path, {}).items()):
        responses.setdefault(code, {"description": text, "content": {"application/json": {"schema": PROBLEM}}})
    if "422" in responses or operation.get("parameters") or operation.get("requestBody"):
        # a field-level error lists where and what; a rule about the whole request says it in one sentence
        declared = responses.get("422", {}).get("content", {})  # a page route also answers 422 as a page
        responses["422"] = {"description": "invalid input (never echoed back)", "content": {**declared,
            "application/json": {"schema": {"anyOf": [{"$ref": "#/components/schemas/HTTPValidationError"},
                                                      PROBLEM]}}}}


def install_docs(app: FastAPI) -> None:
    """Serve /docs and /redoc from the package and complete the OpenAPI document (create the app with
    docs_url=None and redoc_url=None)."""
    app.mount(STATIC, StaticFiles(directory=str(files("fastapi_offline") / "static")), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} API",
                                   swagger_js_url=f"{STATIC}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{STATIC}/swagger-ui.css",
                                   swagger_favicon_url=f"{STATIC}/favicon.png")

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} API",
                              redoc_js_url=f"{STATIC}/redoc.standalone.js", redoc_favicon_url=f"{STATIC}/favicon.png",
                              with_google_fonts=False)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description,
                                   routes=app.routes)
            _problem_schemas(document)
            for path, item in document.get("paths", {}).items():
                for method, operation in item.items():
                    if path == "/webhooks/{provider}" and method == "post":
                        _webhook_docs(operation)
                    elif "security" not in operation:
                        operation["security"] = []  # public on purpose: say so rather than leave it unsaid
                    _error_responses(path, operation)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
