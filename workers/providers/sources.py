"""Which sources are polled, built from settings: one reconcile source per provider with API credentials, and
the keepers of the push channels (Google) and subscriptions (Outlook) that say "something changed".

Webhooks get lost (Calendly disables a subscription after 24 h of failures; Cal.com does not retry; Google and
Graph pushes only say "something changed"), so every connected source is polled every
NOSHOW_RECONCILE_EVERY_MINUTES and what was missed goes through the intake, the path webhooks take. Each source's
name ("calcom", "salesforce", "fhir", ...) is also its appointments' `source`, which the policy's `sources:` list
and the case ids use, so a booking found here lands on the case its webhook would have started.
NOSHOW_RECONCILE_EVERY_MINUTES and what was missed goes through the intake, the path webhooks take. The names
("calcom", "calendly", "hubspot", "google", "outlook", "salesforce", "zoho", "pipedrive",
"activecampaign", "gohighlevel", "sheets", "airtable") are also the
appointments' `source`, which the policy's `sources:` list and the case ids use, so a booking found here lands
on the case its webhook would have started.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from activities.case_events import CaseEventActivities, EventSubmitter, TaskSink
from activities.reconcile import (
    CalcomSource,
    CalendlySource,
    GoogleSource,
    HubSpotSource,
    OutlookSource,
    PushActivities,
    ReconcileSource,
    StoredReconcileActivities,
)
from connectors.airtable.webhooks import AirtableWebhookKeeper
from connectors.calcom.client import CalcomClient
from connectors.calendly.client import CalendlyClient
from connectors.google.channels import ChannelKeeper, SqliteChannelStore
from connectors.google.client import GoogleCalendarClient
from connectors.hubspot.client import HubSpotClient
from connectors.local.db import LocalDb
from connectors.outlook.client import OutlookClient
from connectors.outlook.subscriptions import SqliteSubscriptionStore, SubscriptionKeeper
from connectors.settings import secret
from domain.reconcile import RenewalReport
from workers.providers.acuity import CREDENTIALS as ACUITY_CREDENTIALS
from workers.providers.acuity import acuity_source
from workers.providers.airtable import airtable_client, airtable_needs, airtable_source
from workers.providers.checks import ProviderCheck, url_problem
from workers.providers.fhir import fhir_source
from workers.providers.freshdesk import freshdesk_source
from workers.providers.gmail import gmail_watch
from workers.providers.jobber import jobber_source
from workers.providers.mindbody import mindbody_source
from workers.providers.quickbooks import quickbooks_source, quickbooks_token
from workers.providers.sales_crms import activecampaign_source, gohighlevel_source, pipedrive_source, pipedrive_token
from workers.providers.salesforce_zoho import salesforce_source, zoho_source
from workers.providers.servicetitan import TASK_ON_MISS_NEEDS, servicetitan_source, task_ids
from workers.providers.sheets import CREDENTIAL as SHEETS_CREDENTIAL
from workers.providers.sheets import sheets_source
from workers.providers.square import square_source
from workers.providers.tokens import google_token, graph_token
from workers.providers.zendesk import CREDENTIALS, zendesk_source
from workers.settings import Settings
from workers.temporal.schedules import schedule_id


@dataclass
class _Plan:
    checks: list[ProviderCheck] = field(default_factory=list)
    builders: dict[str, Callable[[], ReconcileSource]] = field(default_factory=dict)


def _plan(s: Settings) -> _Plan:
    """Every source with its status; builders only for the complete, well-formed ones. No network."""
    plan = _Plan()

    def consider(name: str, credential: str | None, env: str, needs: dict[str, str | None],
                 urls: dict[str, str], build: Callable[[], ReconcileSource]) -> None:
        given = {k: v for k, v in needs.items() if v and v.strip()}
        if credential is None and not given:
            plan.checks.append(ProviderCheck(name, "off", f"not configured ({env})"))
            return
        missing = ([env] if credential is None else []) + [k for k in needs if k not in given]
        if missing:
            plan.checks.append(ProviderCheck(name, "error", "missing " + ", ".join(missing)))
            return
        problems = [p for p in (url_problem(v, k) for k, v in urls.items()) if p]
        if problems:
            plan.checks.append(ProviderCheck(name, "error", "; ".join(problems)))
            return
        plan.builders[name] = build
        plan.checks.append(ProviderCheck(name, "ok", f"polled every {s.reconcile.every_minutes} min "
                                                   f"(schedule {schedule_id(name)})"))

    calcom, calendly, hubspot, google, graph = s.calcom, s.calendly, s.hubspot, s.google, s.graph
    consider("calcom", secret(calcom.api_key), "NOSHOW_CALCOM_API_KEY", {},
             {"NOSHOW_CALCOM_BASE_URL": calcom.base_url},
             lambda: CalcomSource(CalcomClient(secret(calcom.api_key) or "", base_url=calcom.base_url)))

    owner_uri = calendly.user_uri or calendly.organization_uri
    owner_key = "user" if calendly.user_uri else "organization"
    calendly_urls = {"NOSHOW_CALENDLY_BASE_URL": calendly.base_url}
    if owner_uri:
        calendly_urls["NOSHOW_CALENDLY_USER_URI or NOSHOW_CALENDLY_ORGANIZATION_URI"] = owner_uri
    consider("calendly", secret(calendly.token), "NOSHOW_CALENDLY_TOKEN",
             {"NOSHOW_CALENDLY_USER_URI (or NOSHOW_CALENDLY_ORGANIZATION_URI)": owner_uri}, calendly_urls,
             lambda: CalendlySource(CalendlyClient(secret(calendly.token) or "", base_url=calendly.base_url),
                                    {owner_key: (owner_uri or "").strip()}))

    consider("hubspot", secret(hubspot.access_token), "NOSHOW_HUBSPOT_ACCESS_TOKEN", {},
             {"NOSHOW_HUBSPOT_BASE_URL": hubspot.base_url},
             lambda: HubSpotSource(HubSpotClient(secret(hubspot.access_token) or "", base_url=hubspot.base_url)))

    consider("google", "set" if google_token(s) else None,
             "NOSHOW_GOOGLE_ACCESS_TOKEN (or NOSHOW_GOOGLE_CLIENT_ID + NOSHOW_GOOGLE_REFRESH_TOKEN)",
             {"NOSHOW_GOOGLE_CALENDAR_ID": google.calendar_id}, {"NOSHOW_GOOGLE_BASE_URL": google.base_url},
             lambda: GoogleSource(GoogleCalendarClient(google_token(s) or "", base_url=google.base_url),
                                  (google.calendar_id or "").strip()))

    consider("outlook", "set" if graph_token(s) else None,
             "NOSHOW_GRAPH_ACCESS_TOKEN (or NOSHOW_GRAPH_CLIENT_ID + NOSHOW_GRAPH_CLIENT_SECRET)",
             {"NOSHOW_GRAPH_USER": graph.user},
             {"NOSHOW_GRAPH_BASE_URL": graph.base_url},
             lambda: OutlookSource(OutlookClient(graph_token(s) or "", base_url=graph.base_url),
                                   (graph.user or "").strip()))

    sf, zoho = s.salesforce, s.zoho
    consider("salesforce", secret(sf.private_key), "NOSHOW_SALESFORCE_PRIVATE_KEY",
             {"NOSHOW_SALESFORCE_CLIENT_ID": sf.client_id, "NOSHOW_SALESFORCE_USERNAME": sf.username},
             {"NOSHOW_SALESFORCE_LOGIN_URL": sf.login_url} | (
                 {"NOSHOW_SALESFORCE_INSTANCE_URL": sf.instance_url} if sf.instance_url else {}),
             lambda: salesforce_source(s))
    consider("zoho", secret(zoho.refresh_token), "NOSHOW_ZOHO_REFRESH_TOKEN",
             {"NOSHOW_ZOHO_CLIENT_ID": zoho.client_id, "NOSHOW_ZOHO_CLIENT_SECRET": secret(zoho.client_secret)},
             {"NOSHOW_ZOHO_ACCOUNTS_URL": zoho.token_url} | (
                 {"NOSHOW_ZOHO_API_DOMAIN": zoho.api_domain} if zoho.api_domain else {}),
             lambda: zoho_source(s))
    pd = s.pipedrive
    consider("pipedrive", "set" if secret(pd.api_token) or pipedrive_token(s) else None,
             "NOSHOW_PIPEDRIVE_API_TOKEN (or NOSHOW_PIPEDRIVE_CLIENT_ID + NOSHOW_PIPEDRIVE_REFRESH_TOKEN)", {},
             {"NOSHOW_PIPEDRIVE_API_DOMAIN": pd.api_domain} if pd.api_domain else {}, lambda: pipedrive_source(s))
    qb = s.quickbooks
    consider("quickbooks", "set" if quickbooks_token(s) else None,
             "NOSHOW_QUICKBOOKS_CLIENT_ID + NOSHOW_QUICKBOOKS_REFRESH_TOKEN",
             {"NOSHOW_QUICKBOOKS_REALM_ID": qb.realm_id}, {"NOSHOW_QUICKBOOKS_BASE_URL": qb.base_url},
             lambda: quickbooks_source(s))
    ac, ghl = s.activecampaign, s.gohighlevel
    consider("activecampaign", secret(ac.api_token), "NOSHOW_ACTIVECAMPAIGN_API_TOKEN",
             {"NOSHOW_ACTIVECAMPAIGN_API_URL": ac.api_url},
             {"NOSHOW_ACTIVECAMPAIGN_API_URL": ac.api_url} if ac.api_url else {}, lambda: activecampaign_source(s))
    if secret(ghl.access_token) and ghl.location_id and not (ghl.calendar_id or ghl.group_id):
        # the token may be there for write-back alone; without a calendar there is nothing to list
        plan.checks.append(ProviderCheck("gohighlevel", "off", "not polled: set NOSHOW_GOHIGHLEVEL_CALENDAR_ID (or "
                                                               "NOSHOW_GOHIGHLEVEL_GROUP_ID) to find appointments "
                                                               "whose webhook was lost"))
    else:
        consider("gohighlevel", secret(ghl.access_token), "NOSHOW_GOHIGHLEVEL_ACCESS_TOKEN",
                 {"NOSHOW_GOHIGHLEVEL_LOCATION_ID": ghl.location_id,
                  "NOSHOW_GOHIGHLEVEL_CALENDAR_ID (or NOSHOW_GOHIGHLEVEL_GROUP_ID)": ghl.group_id or ghl.calendar_id},
                 {"NOSHOW_GOHIGHLEVEL_BASE_URL": ghl.base_url}, lambda: gohighlevel_source(s))
    zd, fd = s.zendesk, s.freshdesk
    zd_token = (zd.email and secret(zd.api_token)) or secret(zd.oauth_token)
    consider("zendesk", "set" if zd_token else None, CREDENTIALS,
             {"NOSHOW_ZENDESK_SUBDOMAIN": zd.subdomain or zd.base_url,
              "NOSHOW_ZENDESK_STATUS_FIELD_ID": zd.status_field_id},
             {"NOSHOW_ZENDESK_BASE_URL": zd.base_url} if zd.base_url else {}, lambda: zendesk_source(s))
    consider("freshdesk", secret(fd.api_key), "NOSHOW_FRESHDESK_API_KEY",
             {"NOSHOW_FRESHDESK_DOMAIN": fd.domain or fd.base_url},
             {"NOSHOW_FRESHDESK_BASE_URL": fd.base_url} if fd.base_url else {}, lambda: freshdesk_source(s))
    mb = s.mindbody
    consider("mindbody", secret(mb.api_key), "NOSHOW_MINDBODY_API_KEY",
             {"NOSHOW_MINDBODY_SITE_ID": mb.site_id, "NOSHOW_MINDBODY_USERNAME": mb.username,
              "NOSHOW_MINDBODY_PASSWORD": secret(mb.password)},
             {"NOSHOW_MINDBODY_BASE_URL": mb.base_url}, lambda: mindbody_source(s))
    acuity, square = s.acuity, s.square
    consider("acuity", secret(acuity.api_key), ACUITY_CREDENTIALS, {"NOSHOW_ACUITY_USER_ID": acuity.user_id},
             {"NOSHOW_ACUITY_BASE_URL": acuity.base_url}, lambda: acuity_source(s))
    consider("square", secret(square.access_token), "NOSHOW_SQUARE_ACCESS_TOKEN", {},
             {"NOSHOW_SQUARE_BASE_URL": square.base_url}, lambda: square_source(s))
    f = s.fhir
    smart = {"NOSHOW_FHIR_CLIENT_ID": f.client_id, "NOSHOW_FHIR_KEY_ID": f.key_id} if secret(f.private_key) else {}
    consider("fhir", "set" if secret(f.private_key) or secret(f.access_token) else None,
             "NOSHOW_FHIR_PRIVATE_KEY (or NOSHOW_FHIR_ACCESS_TOKEN)", {"NOSHOW_FHIR_BASE_URL": f.base_url, **smart},
             {"NOSHOW_FHIR_BASE_URL": f.base_url or ""}, lambda: fhir_source(s))
    st, jobber = s.servicetitan, s.jobber
    consider("servicetitan", secret(st.client_secret), "NOSHOW_SERVICETITAN_CLIENT_SECRET",
             {"NOSHOW_SERVICETITAN_CLIENT_ID": st.client_id, "NOSHOW_SERVICETITAN_APP_KEY": secret(st.app_key),
              "NOSHOW_SERVICETITAN_TENANT_ID": st.tenant_id if (st.tenant_id or "").strip().isdigit() else None,
              **({TASK_ON_MISS_NEEDS: "set" if task_ids(s) else None} if st.reschedule_task_on_miss else {})},
             {"NOSHOW_SERVICETITAN_AUTH_URL": st.auth_url, "NOSHOW_SERVICETITAN_BASE_URL": st.base_url},
             lambda: servicetitan_source(s))
    consider("jobber", secret(jobber.refresh_token), "NOSHOW_JOBBER_REFRESH_TOKEN",
             {"NOSHOW_JOBBER_CLIENT_ID": jobber.client_id, "NOSHOW_JOBBER_CLIENT_SECRET": secret(jobber.client_secret)},
             {"NOSHOW_JOBBER_TOKEN_URL": jobber.token_url, "NOSHOW_JOBBER_API_URL": jobber.api_url},
             lambda: jobber_source(s))
    if s.sheets.spreadsheet_id:  # the Google credential alone is the calendar's, not a sheet to poll
        consider("sheets", "set" if google_token(s) else None, SHEETS_CREDENTIAL, {},
                 {"NOSHOW_SHEETS_BASE_URL": s.sheets.base_url}, lambda: sheets_source(s))
    consider("airtable", secret(s.airtable.token), "NOSHOW_AIRTABLE_TOKEN", airtable_needs(s),
             {"NOSHOW_AIRTABLE_BASE_URL": s.airtable.base_url}, lambda: airtable_source(s))
    return plan


def reconcile_checks(settings: Settings) -> list[ProviderCheck]:
    """ok / off / error per reconcile source, with what is missing. Builds nothing, calls nothing."""
    return _plan(settings).checks


def reconcile_sources(settings: Settings) -> dict[str, ReconcileSource]:
    """The configured, well-formed sources by name. Misconfigured ones are left out (`noshow connectors check`
    says why)."""
    return {name: build() for name, build in _plan(settings).builders.items()}


def reconcile_activities(sources: dict[str, ReconcileSource], db: LocalDb, cases: EventSubmitter,
                         settings: Settings, tasks: TaskSink | None = None) -> list[Callable[..., object]]:
    """The three activities ReconcileSourceWorkflow calls. `tasks` (the CRM) receives the "needs a human" tasks;
    the deployment's id salt keys the email hashes of Zoom links."""
    stored = StoredReconcileActivities(sources, db, max_age=settings.reconcile.max_age, salt=settings.auth.id_salt)
    return [stored.reconcile_source, stored.commit_reconcile,
            CaseEventActivities(cases, tasks).deliver_appointment_events]


def push_activities(settings: Settings, db: LocalDb) -> PushActivities:
    """The keepers of every configured push source: Google when NOSHOW_GOOGLE_CHANNELS=true and its reconcile
    credentials are complete, Outlook when NOSHOW_GRAPH_CLIENT_STATE is set and its reconcile credentials are
    complete. Notifications go to NOSHOW_PUBLIC_BASE_URL + /webhooks/<source> (Google accepts https only)."""
    plan = _plan(settings)
    base = settings.api.public_base_url.rstrip("/")
    before = settings.push.renew_before
    google, graph = settings.google, settings.graph
    keepers: list[ChannelKeeper] = []
    subscriptions: list[SubscriptionKeeper] = []
    if google.channels and "google" in plan.builders:
        client = GoogleCalendarClient(google_token(settings) or "", base_url=google.base_url)
        keepers.append(ChannelKeeper(client, SqliteChannelStore(db), f"{base}/webhooks/google",
                                     (google.calendar_id or "").strip(), source="google",
                                     ttl=timedelta(hours=google.channel_ttl_hours), renew_before=before))
    states = graph.client_states
    if states and "outlook" in plan.builders:
        outlook = OutlookClient(graph_token(settings) or "", base_url=graph.base_url)
        resource = f"users/{(graph.user or '').strip()}/events"
        subscriptions.append(SubscriptionKeeper(outlook, SqliteSubscriptionStore(db), resource,
                                                f"{base}/webhooks/outlook", states[0], source="outlook",
                                                renew_before=before))
    renewals: dict[str, Callable[[datetime], RenewalReport]] = {}
    airtable = settings.airtable
    if airtable.webhook_id and "airtable" in plan.builders:
        renewals["airtable"] = AirtableWebhookKeeper(airtable_client(settings), airtable.base_id or "",
                                                     airtable.webhook_id).maintain
    if settings.gmail.topic and settings.routing.email_provider == "gmail":
        renewals["gmail"] = gmail_watch(settings, db).maintain
    return PushActivities(keepers, subscriptions, renewals=renewals)

