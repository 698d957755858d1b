"""The calendar the engine books on and the CRM it writes outcomes to, built from settings. The local ones stay
underneath a provider (holds, contacts, the audit copy); anything not selected stays local."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from connectors.calcom.calendar import CalcomCalendar
from connectors.calcom.client import CalcomClient
from connectors.calendly.calendar import CalendlyCalendar
from connectors.calendly.client import CalendlyClient
from connectors.contract import NoShowMarker
from connectors.google.calendar import GoogleCalendar
from connectors.google.client import GoogleCalendarClient
from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.crm import HubSpotContactResolver, HubSpotCrm, union_rules
from connectors.oauth import TokenSource
from connectors.outlook.calendar import OutlookCalendar
from connectors.outlook.client import OutlookClient
from connectors.settings import secret
from connectors.writeback import MirroredCalendar, RemoteCrm, WritebackCrm
from policies.schema import CrmRules
from workers.providers import acuity, airtable, helpdesks, mindbody, sales_crms, salesforce_zoho, sheets, square
from workers.providers.checks import ProviderCheck, ProviderConfigError, url_problem
from workers.providers.fhir import fhir_calendar, fhir_token
from workers.providers.jobber import jobber_crm, jobber_crm_problems
from workers.providers.servicetitan import servicetitan_crm, servicetitan_crm_problems
from workers.providers.tokens import google_token, graph_token
from workers.settings import Settings

CALENDAR_CREDENTIAL = {"calcom": "NOSHOW_CALCOM_API_KEY", "calendly": "NOSHOW_CALENDLY_TOKEN",
                       "google": "NOSHOW_GOOGLE_ACCESS_TOKEN", "outlook": "NOSHOW_GRAPH_ACCESS_TOKEN",
                       "gohighlevel": "NOSHOW_GOHIGHLEVEL_ACCESS_TOKEN", "mindbody": "NOSHOW_MINDBODY_API_KEY",
                       "acuity": acuity.CREDENTIALS, "square": "NOSHOW_SQUARE_ACCESS_TOKEN",
                       "fhir": "NOSHOW_FHIR_PRIVATE_KEY (or NOSHOW_FHIR_ACCESS_TOKEN)"}
CALENDAR_DEFAULT = {"calcom": "NOSHOW_CALCOM_EVENT_TYPE_ID", "calendly": "NOSHOW_CALENDLY_EVENT_TYPE",
                    "google": "NOSHOW_GOOGLE_CALENDAR_ID", "outlook": "NOSHOW_GRAPH_USER",
                    "gohighlevel": "NOSHOW_GOHIGHLEVEL_CALENDAR_ID", "mindbody": "NOSHOW_MINDBODY_CALENDAR",
                    "acuity": "NOSHOW_ACUITY_APPOINTMENT_TYPE_ID",
                    "square": "NOSHOW_SQUARE_LOCATION_ID + NOSHOW_SQUARE_SERVICE_VARIATION_ID",
                    "fhir": "NOSHOW_FHIR_SCHEDULE_ID"}
PROVIDER_TITLE = {"calcom": "Cal.com", "calendly": "Calendly", "google": "Google Calendar", "outlook": "Outlook",
                  "hubspot": "HubSpot", "gohighlevel": "GoHighLevel", "mindbody": "Mindbody",
                  "acuity": "Acuity Scheduling", "square": "Square Appointments", "fhir": "FHIR"}


CalendarSettings = tuple[TokenSource | None, str, str, str | None]


class CalendarKind(NamedTuple):
    """How one calendar provider is read from settings and built: (credential, base URL, base URL variable,
    default calendar), and its adapter over the CRM's contact lookup."""

    settings: Callable[[Settings], CalendarSettings]
    adapter: Callable[[Settings, Callable[[str], Any]], Any]


def _calcom(s: Settings, lookup: Callable[[str], Any]) -> Any:
    return CalcomCalendar(CalcomClient(secret(s.calcom.api_key) or "", base_url=s.calcom.base_url), lookup,
                          default_event_type=s.calcom.event_type_id, time_zone=s.calcom.time_zone,
                          booking_fields=s.calcom.booking_fields)


def _calendly(s: Settings, lookup: Callable[[str], Any]) -> Any:
    return CalendlyCalendar(CalendlyClient(secret(s.calendly.token) or "", base_url=s.calendly.base_url), lookup,
                            default_event_type=s.calendly.event_type)


def _google(s: Settings, lookup: Callable[[str], Any]) -> Any:
    return GoogleCalendar(GoogleCalendarClient(google_token(s) or "", base_url=s.google.base_url), lookup,
                          default_calendar=s.google.calendar_id, send_updates=s.google.send_updates)


def _outlook(s: Settings, lookup: Callable[[str], Any]) -> Any:
    return OutlookCalendar(OutlookClient(graph_token(s) or "", base_url=s.graph.base_url), lookup,
                           default_user=s.graph.user)


# one provider a line: what NOSHOW_CALENDAR_PROVIDER selects ("local" is the embedded calendar, never built here)
CALENDARS: dict[str, CalendarKind] = {
    "calcom": CalendarKind(lambda s: (secret(s.calcom.api_key), s.calcom.base_url, "NOSHOW_CALCOM_BASE_URL",
                                      s.calcom.event_type_id), _calcom),
    "calendly": CalendarKind(lambda s: (secret(s.calendly.token), s.calendly.base_url, "NOSHOW_CALENDLY_BASE_URL",
                                        s.calendly.event_type), _calendly),
    "google": CalendarKind(lambda s: (google_token(s), s.google.base_url, "NOSHOW_GOOGLE_BASE_URL",
                                      s.google.calendar_id), _google),
    "outlook": CalendarKind(lambda s: (graph_token(s), s.graph.base_url, "NOSHOW_GRAPH_BASE_URL", s.graph.user),
                            _outlook),
    "gohighlevel": CalendarKind(lambda s: (secret(s.gohighlevel.access_token), s.gohighlevel.base_url,
                                           "NOSHOW_GOHIGHLEVEL_BASE_URL", s.gohighlevel.calendar_id),
                                lambda s, _lookup: sales_crms.gohighlevel_calendar(s)),
    "mindbody": CalendarKind(lambda s: (secret(s.mindbody.api_key), s.mindbody.base_url, "NOSHOW_MINDBODY_BASE_URL",
                                        s.mindbody.calendar), lambda s, _lookup: mindbody.mindbody_calendar(s)),
    "acuity": CalendarKind(lambda s: ("set" if s.acuity.configured else None, s.acuity.base_url,
                                      "NOSHOW_ACUITY_BASE_URL", s.acuity.appointment_type_id), acuity.acuity_calendar),
    "square": CalendarKind(lambda s: (secret(s.square.access_token), s.square.base_url, "NOSHOW_SQUARE_BASE_URL",
                                      s.square.location_id), square.square_calendar),
    "fhir": CalendarKind(lambda s: (fhir_token(s), s.fhir.base_url or "", "NOSHOW_FHIR_BASE_URL", s.fhir.schedule_id),
                         lambda s, _lookup: fhir_calendar(s)),
}


def _calendar_settings(s: Settings) -> CalendarSettings:
    """(credential, base URL, base URL variable, default calendar) of the selected calendar provider."""
    return CALENDARS[s.routing.calendar_provider].settings(s)


def calendar_problems(s: Settings) -> list[str]:
    """What keeps the selected calendar provider from working; format only, no network."""
    p = s.routing.calendar_provider
    if p == "local":
        return []
    credential, base_url, url_env, default = _calendar_settings(s)
    problems = [] if credential else [f"NOSHOW_CALENDAR_PROVIDER={p} needs {CALENDAR_CREDENTIAL[p]}"]
    if p == "fhir" and not (s.fhir.schedule_id or "").strip():
        problems.append("NOSHOW_CALENDAR_PROVIDER=fhir needs NOSHOW_FHIR_SCHEDULE_ID (the Schedule whose free Slots "
                        "are offered)")
    if p == "gohighlevel" and not (s.gohighlevel.location_id or "").strip():
        problems.append("NOSHOW_CALENDAR_PROVIDER=gohighlevel needs NOSHOW_GOHIGHLEVEL_LOCATION_ID")
    if p == "mindbody":
        problems += [f"NOSHOW_CALENDAR_PROVIDER=mindbody needs {k}" for k in mindbody.api_missing(s)]
        problems += [x for x in mindbody.mindbody_problems(s) if "BASE_URL" not in x]
    problems += [x for x in [url_problem(base_url, url_env)] if x]
    if p == "square":
        problems += [x for x in square.square_problems(s) if "ACCESS_TOKEN" not in x and "BASE_URL" not in x]
    default = (default or "").strip()
    if default:
        if p == "calcom" and not default.isdigit():
            problems.append("NOSHOW_CALCOM_EVENT_TYPE_ID must be the numeric event type id")
        if p == "calendly" and not (default.startswith("https://") and "/event_types/" in default):
            problems.append("NOSHOW_CALENDLY_EVENT_TYPE must be an event type URI (https://api.calendly.com/"
                            "event_types/...)")
        if p in ("google", "outlook", "gohighlevel") and len(default) > 200:
            problems.append(f"{CALENDAR_DEFAULT[p]} is too long")
    return problems


def _hubspot_problems(s: Settings) -> list[str]:
    hubspot = s.hubspot
    problems = [] if secret(hubspot.access_token) else ["NOSHOW_CRM_PROVIDER=hubspot needs "
                                                        "NOSHOW_HUBSPOT_ACCESS_TOKEN"]
    problems += [x for x in [url_problem(hubspot.base_url, "NOSHOW_HUBSPOT_BASE_URL")] if x]
    if hubspot.owner_id and not hubspot.owner_id.strip().isdigit():
        problems.append("NOSHOW_HUBSPOT_OWNER_ID must be a numeric HubSpot owner id")
    return problems


def _hubspot_crm(s: Settings, crm: Any, rules: CrmRules) -> RemoteCrm:
    client = HubSpotClient(secret(s.hubspot.access_token) or "", base_url=s.hubspot.base_url)
    resolver = HubSpotContactResolver(client, crm.contact, db=crm.db, create=s.hubspot.create_contacts)
    return HubSpotCrm(client, rules, contact_resolver=resolver,
                      default_owner=(s.hubspot.owner_id or "").strip() or None)


class CrmKind(NamedTuple):
    """One CRM provider: its name in checks, what keeps it from working (format only) and its adapter over the
    local CRM under the programs' CRM write rules (unioned)."""

    title: str
    problems: Callable[[Settings], list[str]]
    remote: Callable[[Settings, Any, CrmRules], RemoteCrm | None]


def _family(titles: dict[str, str], problems: Callable[[Settings], list[str]],
            remote: Callable[[Settings, Any, CrmRules], RemoteCrm | None]) -> dict[str, CrmKind]:
    """The providers one module builds together (it picks the selected one itself)."""
    return {name: CrmKind(title, problems, remote) for name, title in titles.items()}


# what NOSHOW_CRM_PROVIDER selects; "local" is the embedded CRM alone
CRMS: dict[str, CrmKind] = {
    "local": CrmKind("the local CRM", lambda s: [], lambda s, crm, rules: None),
    "hubspot": CrmKind("HubSpot", _hubspot_problems, _hubspot_crm),
    **_family(salesforce_zoho.TITLES, salesforce_zoho.crm_problems, salesforce_zoho.remote_crm),
    **_family(sales_crms.TITLES, sales_crms.crm_problems, sales_crms.remote_crm),
    **_family(helpdesks.TITLES, helpdesks.crm_problems, helpdesks.remote_crm),
    "jobber": CrmKind("Jobber", jobber_crm_problems, lambda s, crm, rules: jobber_crm(s, crm)),
    "servicetitan": CrmKind("ServiceTitan", servicetitan_crm_problems,
                            lambda s, crm, rules: servicetitan_crm(s, crm)),
    "sheets": CrmKind(sheets.TITLE, sheets.sheets_problems, sheets.sheets_crm),
    "airtable": CrmKind(airtable.TITLE, airtable.airtable_problems, airtable.airtable_crm),
}


def crm_problems(s: Settings) -> list[str]:
    return CRMS[s.routing.crm_provider].problems(s)


def writeback_checks(s: Settings) -> list[ProviderCheck]:
    """ok / off / error for the calendar and the CRM the engine writes to. Builds nothing, calls nothing."""
    checks: list[ProviderCheck] = []
    p = s.routing.calendar_provider
    problems = calendar_problems(s)
    if p == "local":
        checks.append(ProviderCheck("calendar", "off", "local calendar (NOSHOW_CALENDAR_PROVIDER=local)"))
    elif problems:
        checks.append(ProviderCheck("calendar", "error", "; ".join(problems)))
    else:
        default = _calendar_settings(s)[3]
        note = (f"other sources' appointments go to {CALENDAR_DEFAULT[p]}" if default else
                f"only {PROVIDER_TITLE[p]} appointments can be rebooked (set {CALENDAR_DEFAULT[p]} for the others)")
        checks.append(ProviderCheck("calendar", "ok", f"availability and bookings on {PROVIDER_TITLE[p]}, holds "
                                                      f"local; {note}"))
    problems = crm_problems(s)
    if s.routing.crm_provider == "local":
        checks.append(ProviderCheck("crm", "off", "local CRM (NOSHOW_CRM_PROVIDER=local)"))
    elif problems:
        checks.append(ProviderCheck("crm", "error", "; ".join(problems)))
    else:
        title = CRMS[s.routing.crm_provider].title
        checks.append(ProviderCheck("crm", "ok", f"outcomes, notes and owner tasks written to {title} under the CRM "
                                                 "write rules; local copy kept"))
    return checks


def writeback(s: Settings, calendar: Any, crm: Any, rules: list[CrmRules]) -> tuple[Any, Any]:
    """The engine's calendar and CRM: the local ones (`calendar`, `crm`) unless providers are selected, in which
    case MirroredCalendar / WritebackCrm over the provider adapters, keeping the local ones for holds, contacts
    and the audit copy. Raises ProviderConfigError naming what is missing."""
    problems = calendar_problems(s) + crm_problems(s)
    if problems:
        raise ProviderConfigError("; ".join(problems))
    routing = s.routing
    if routing.calendar_provider == "local" and routing.crm_provider == "local":
        return calendar, crm
    engine_calendar = calendar
    marker = None
    if routing.calendar_provider != "local":
        adapter = CALENDARS[routing.calendar_provider].adapter(s, crm.contact)
        engine_calendar = MirroredCalendar(adapter, calendar, routing.calendar_provider)
        marker = adapter if isinstance(adapter, NoShowMarker) else None
    remote = CRMS[routing.crm_provider].remote(s, crm, union_rules(rules))
    if marker is None and isinstance(remote, NoShowMarker):
        # a CRM that holds the appointment itself (a Pipedrive activity) takes the no-show mark
        engine_crm = WritebackCrm(crm, remote, remote, marker_source=routing.crm_provider)
        return engine_calendar, engine_crm
    engine_crm = WritebackCrm(crm, remote, marker, marker_source=routing.calendar_provider if marker else None)
    return engine_calendar, engine_crm
