"""`noshow connectors check --live`: one read-only call per configured provider, its cheapest, to prove the
credentials work. Nothing is created, changed or sent; a token refresh is the only side effect (an OAuth
provider's grant). Each probe reports ok with what it read that names no person (an account status, a scope
count, an org id), or error with the exception's type and the provider's code; never a secret, never a
provider message (they can echo input).

- Twilio: `GET /2010-04-01/Accounts/{sid}.json`
  https://www.twilio.com/docs/iam/api/account#fetch-an-account-resource
- SendGrid: `GET /v3/scopes` https://www.twilio.com/docs/sendgrid/api-reference/api-key-permissions
- HubSpot: `GET /account-info/v3/details` https://developers.hubspot.com/docs/api/settings/account-information-api
- Cal.com: `GET /v2/me` https://cal.com/docs/api-reference/v2/me/get-my-profile
- Salesforce: `GET /services/data/vXX.X/limits`
  https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_limits.htm
- Zoho CRM: `GET /crm/v7/org` https://www.zoho.com/crm/developer/docs/api/v7/get-org-data.html
- Pipedrive: `GET /api/v1/users/me` https://developers.pipedrive.com/docs/api/v1/Users#getCurrentUser
- Mailchimp: `GET /ping` https://mailchimp.com/developer/marketing/api/ping/
- QuickBooks Online: `GET /company/{realmId}/companyinfo/{realmId}`
  https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/companyinfo
- ActiveCampaign: `GET /api/3/users/me` https://developers.activecampaign.com/reference/retrieve-logged-in-user
- GoHighLevel: `GET /locations/{locationId}`
  https://highlevel.stoplight.io/docs/integrations/d777490312af4-get-location
- ServiceTitan: `GET /jpm/v2/tenant/{tenant}/appointments?pageSize=1`
  https://developer.servicetitan.io/api-details/#api=tenant-jpm-v2&operation=Appointments_GetList
- Jobber: GraphQL `query { account { id } }` https://developer.getjobber.com/docs/using_jobbers_api/api_queries_and_mutations
- Calendly: `GET /users/me` https://developer.calendly.com/api-docs/005832c83aeae-get-current-user
- Google Calendar: `GET /calendars/{calendarId}` https://developers.google.com/calendar/api/v3/reference/calendars/get
- Outlook (Graph): `GET /users/{user}?$select=id` https://learn.microsoft.com/en-us/graph/api/user-get
- Slack: `auth.test` https://api.slack.com/methods/auth.test
- Zendesk: `GET /api/v2/users/me.json` https://developer.zendesk.com/api-reference/ticketing/users/users/#show-the-currently-authenticated-user
- Freshdesk: `GET /api/v2/agents/me` https://developers.freshdesk.com/api/#me
- Mindbody: `POST /usertoken/issue` (the staff login; issuing a token is its only effect) then `GET /site/sites`
  https://developers.mindbodyonline.com/PublicDocumentation/V6
- Acuity Scheduling: `GET /api/v1/me` https://developers.acuityscheduling.com/reference/get-me
- Square: `GET /v2/bookings/business-booking-profile`
  https://developer.squareup.com/reference/square/bookings-api/retrieve-business-booking-profile
- FHIR: `GET /metadata` and a one-row `GET /Appointment` search https://hl7.org/fhir/R4/http.html
- Google Sheets: `GET /v4/spreadsheets/{id}/values/{sheet}!A1:ZZ1` (the header row)
  https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets.values/get
- Airtable: `GET /v0/{baseId}/{table}?maxRecords=1` https://airtable.com/developers/web/api/list-records
- Web Push: no network (a push would reach a browser): the VAPID key signs a claim and every stored subscription
  opens under NOSHOW_ENCRYPTION_KEY https://www.rfc-editor.org/rfc/rfc8292
- Business app webhook: one signed `noshow.probe` delivery (Standard Webhooks), which the app verifies and answers
  2xx without showing it https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from connectors.contract import PermanentProviderError, ProviderError
from connectors.hubspot.client import HubSpotClient
from connectors.settings import secret
from connectors.zoho.client import ZohoClient
from workers.providers.checks import ProbeProblem, ProviderCheck
from workers.providers.freshdesk import freshdesk_client
from workers.providers.in_app import app_webhook_probe, webpush_probe
from workers.providers.jobber import jobber_probe
from workers.providers.mailchimp import mailchimp_probe
from workers.providers.quickbooks import quickbooks_probe
from workers.providers.sales_crms import activecampaign_client, gohighlevel_client, pipedrive_client
from workers.providers.salesforce_zoho import salesforce_client, zoho_client
from workers.providers.servicetitan import servicetitan_probe
from workers.providers.zendesk import zendesk_client
from workers.settings import Settings

Probe = Callable[[], str]


def _twilio(s: Settings) -> str:
    from twilio.rest import Client

    t = s.twilio
    client = Client(t.account_sid, secret(t.auth_token) or "")
    if t.api_base_url:
        client.api.base_url = t.api_base_url.rstrip("/")
    account = client.api.v2010.accounts(t.account_sid).fetch()
    return f"account {account.status}"


def _sendgrid(s: Settings) -> str:
    from sendgrid import SendGridAPIClient

    client = SendGridAPIClient(secret(s.sendgrid.api_key) or "", host=s.sendgrid.api_host.rstrip("/"))
    body = client.client.scopes.get().to_dict
    scopes = body.get("scopes") if isinstance(body, dict) else None
    can_send = isinstance(scopes, list) and "mail.send" in scopes
    return f"{len(scopes or [])} scopes" + ("" if can_send else "; mail.send is not among them")


def _hubspot(s: Settings) -> str:
    body: Any = HubSpotClient(secret(s.hubspot.access_token) or "", base_url=s.hubspot.base_url).call(
        "GET", "/account-info/v3/details")
    return f"portal {body.get('portalId')}" if isinstance(body, dict) else "answered"


def _calcom(s: Settings) -> str:
    from connectors.calcom.client import CalcomClient

    body: Any = CalcomClient(secret(s.calcom.api_key) or "", base_url=s.calcom.base_url).call("GET", "/me")
    data = body.get("data") if isinstance(body, dict) else None
    return f"user {data.get('id')}" if isinstance(data, dict) else "answered"


def _salesforce(s: Settings) -> str:
    client = salesforce_client(s)
    body: Any = client.call("GET", client.data("limits/"))
    daily = body.get("DailyApiRequests") if isinstance(body, dict) else None
    return f"{daily.get('Remaining')} API requests left today" if isinstance(daily, dict) else "answered"


def _zoho(s: Settings) -> str:
    client: ZohoClient = zoho_client(s)
    body: Any = client.call("GET", client.crm("org"))
    org = body.get("org") if isinstance(body, dict) else None
    return f"org {org[0].get('id')}" if isinstance(org, list) and org and isinstance(org[0], dict) else "answered"


def _pipedrive(s: Settings) -> str:
    return f"user {pipedrive_client(s).me().get('id')}"


def _zendesk(s: Settings) -> str:
    found = zendesk_client(s).me()
    return f"user {found.get('id')} ({str(found.get('role') or 'unknown')[:20]})"


def _freshdesk(s: Settings) -> str:
    return f"agent {freshdesk_client(s).me().get('id')}"
def _sheets(s: Settings) -> str:
    from workers.providers.sheets import sheets_client, sheets_range

    rows = sheets_client(s).values(s.sheets.spreadsheet_id or "", sheets_range(s).replace("A:ZZ", "A1:ZZ1"))
    return f"header of {len(rows[0]) if rows else 0} columns"


def _airtable(s: Settings) -> str:
    from connectors.http import segment
    from workers.providers.airtable import airtable_client

    a = s.airtable
    found = airtable_client(s).call("GET", f"/v0/{segment(a.base_id or '')}/{segment((a.table or '').strip())}",
                                    params={"pageSize": 1, "maxRecords": 1})
    return "table answered" if isinstance(found, dict) else "answered"


def _activecampaign(s: Settings) -> str:
    return f"user {activecampaign_client(s).me().get('id')}"


def _gohighlevel(s: Settings) -> str:
    found = gohighlevel_client(s).location()
    return "location found" if found.get("id") else "answered"


def _acuity(s: Settings) -> str:
    from workers.providers.acuity import acuity_client

    return "account found" if acuity_client(s).me().get("id") else "answered"


def _square(s: Settings) -> str:
    from workers.providers.square import square_client

    return "booking profile found" if square_client(s).booking_profile() else "answered"
def _fhir(s: Settings) -> str:
    from workers.providers.fhir import fhir_client

    api = fhir_client(s)
    version = api.capability().get("fhirVersion") or "?"
    list(api.search("Appointment", {"_lastUpdated": "gt" + datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                    "_count": 1}))  # the token is accepted and may search
    return f"FHIR {str(version)[:12]}, appointments searchable"


def _calendly(s: Settings) -> str:
    from connectors.calendly.client import CalendlyClient

    body: Any = CalendlyClient(secret(s.calendly.token) or "", base_url=s.calendly.base_url).call("GET", "/users/me")
    return "user found" if isinstance(body, dict) and isinstance(body.get("resource"), dict) else "answered"


def _google(s: Settings) -> str:
    from connectors.google.client import GoogleCalendarClient
    from connectors.http import segment
    from workers.providers.tokens import google_token

    client = GoogleCalendarClient(google_token(s) or "", base_url=s.google.base_url)
    body: Any = client.call("GET", f"/calendars/{segment((s.google.calendar_id or 'primary').strip())}")
    return "calendar found" if isinstance(body, dict) and body.get("id") else "answered"


def _outlook(s: Settings) -> str:
    from connectors.http import segment
    from connectors.outlook.client import OutlookClient
    from workers.providers.tokens import graph_token

    client = OutlookClient(graph_token(s) or "", base_url=s.graph.base_url)
    body: Any = client.call("GET", f"/users/{segment((s.graph.user or '').strip())}", params={"$select": "id"})
    return "user found" if isinstance(body, dict) and body.get("id") else "answered"


def _slack(s: Settings) -> str:
    import httpx

    from connectors.http import error_from_exception, error_from_response

    try:
        response = httpx.post(f"{s.slack.api_base_url.rstrip('/')}/auth.test", timeout=10,
                              headers={"Authorization": f"Bearer {secret(s.slack.bot_token) or ''}"})
    except httpx.HTTPError as exc:
        raise error_from_exception(exc, "slack") from None
    if response.status_code != 200:
        raise error_from_response(response, "slack")
    body: Any = response.json()
    if not isinstance(body, dict) or body.get("ok") is not True:
        code = str(body.get("error") or "not_ok")[:40] if isinstance(body, dict) else "not_ok"
        raise PermanentProviderError("slack: auth.test refused", code=code)
    return "bot token valid"


def _mindbody(s: Settings) -> str:
    from workers.providers.mindbody import mindbody_client

    sites = mindbody_client(s).sites()
    return f"site {sites[0].get('Id')} found, staff login accepted" if sites else "answered"


def probes(s: Settings) -> dict[str, Probe]:
    """The providers whose credentials are set, each with its read-only call."""
    p: dict[str, Probe] = {}
    if s.twilio.account_sid and secret(s.twilio.auth_token):
        p["twilio"] = lambda: _twilio(s)
    if secret(s.sendgrid.api_key):
        p["sendgrid"] = lambda: _sendgrid(s)
    if secret(s.hubspot.access_token):
        p["hubspot"] = lambda: _hubspot(s)
    if secret(s.calcom.api_key):
        p["calcom"] = lambda: _calcom(s)
    if s.salesforce.configured:
        p["salesforce"] = lambda: _salesforce(s)
    if s.zoho.configured:
        p["zoho"] = lambda: _zoho(s)
    if s.pipedrive.configured:
        p["pipedrive"] = lambda: _pipedrive(s)
    if s.sheets.spreadsheet_id and (secret(s.google.access_token) or secret(s.google.refresh_token)):
        p["sheets"] = lambda: _sheets(s)
    if secret(s.airtable.token) and s.airtable.base_id and s.airtable.table:
        p["airtable"] = lambda: _airtable(s)
    if secret(s.activecampaign.api_token):
        p["activecampaign"] = lambda: _activecampaign(s)
    if secret(s.gohighlevel.access_token):
        p["gohighlevel"] = lambda: _gohighlevel(s)
    if s.zendesk.configured:
        p["zendesk"] = lambda: _zendesk(s)
    if s.freshdesk.configured:
        p["freshdesk"] = lambda: _freshdesk(s)
    if s.fhir.base_url and (secret(s.fhir.private_key) or secret(s.fhir.access_token)):
        p["fhir"] = lambda: _fhir(s)
    if s.servicetitan.configured:
        p["servicetitan"] = lambda: servicetitan_probe(s)
    if s.jobber.configured:
        p["jobber"] = lambda: jobber_probe(s)
    if secret(s.calendly.token):
        p["calendly"] = lambda: _calendly(s)
    if secret(s.google.access_token) or (s.google.client_id and secret(s.google.refresh_token)):
        p["google"] = lambda: _google(s)
    if s.graph.user and (secret(s.graph.access_token) or s.graph.client_id):
        p["outlook"] = lambda: _outlook(s)
    if secret(s.slack.bot_token):
        p["slack"] = lambda: _slack(s)
    if secret(s.mindbody.api_key):
        p["mindbody"] = lambda: _mindbody(s)
    if s.acuity.configured:
        p["acuity"] = lambda: _acuity(s)
    if s.square.configured:
        p["square"] = lambda: _square(s)
    if s.mailchimp.api_key is not None and secret(s.mailchimp.api_key):
        p["mailchimp"] = lambda: mailchimp_probe(s)
    if s.quickbooks.client_id and secret(s.quickbooks.refresh_token) and s.quickbooks.realm_id:
        p["quickbooks"] = lambda: quickbooks_probe(s)
    if secret(s.webpush.vapid_private_key):
        p["webpush"] = lambda: webpush_probe(s)
    if s.app_webhook.url:
        p["app-webhook"] = lambda: app_webhook_probe(s)
    return p


def _failure(exc: Exception) -> str:
    if isinstance(exc, ProbeProblem):
        return str(exc)  # written by the probe, naming variables and statuses only
    code = getattr(exc, "code", None) if isinstance(exc, PermanentProviderError) else None
    # the SDKs' own errors carry the status: twilio's `status`, python-http-client's `status_code`
    status = getattr(exc, "status", None) or getattr(exc, "status_code", None)
    kind = "refused" if isinstance(exc, PermanentProviderError) else "unreachable or failing" \
        if isinstance(exc, ProviderError) else "failed"
    named = f" ({code})" if code else f" (HTTP {status})" if isinstance(status, int) else ""
    return f"{kind}: {type(exc).__name__}{named}"


def live_checks(s: Settings) -> list[ProviderCheck]:
    checks: list[ProviderCheck] = []
    for name, probe in probes(s).items():
        try:
            detail = probe()
        except Exception as exc:  # every failure is a line in the report, never a traceback
            checks.append(ProviderCheck(name, "error", _failure(exc)))
            continue
        checks.append(ProviderCheck(name, "ok", detail[:120]))
    return checks
