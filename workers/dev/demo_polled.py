"""`noshow demo --source salesforce|zoho|fhir|quickbooks|servicetitan|jobber|sheets|airtable`: a missed
appointment on a source that pushes nothing the engine can trust (it is polled, or its notification only triggers
a poll), found by one reconcile run and then recovered as the webhook demo does (the customer answers, is offered
times, picks one, the case confirms).

The demo writes to the provider through the engine's own client:
- Salesforce: an Account, a Contact of it and a ServiceAppointment (parent: the account) scheduled ten minutes
  ago, then moved to the first NOSHOW_SALESFORCE_NO_SHOW_STATUSES value (default `Cannot Complete`)
  (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_sobject_create.htm).
- Zoho CRM: a Contact and a meeting (module Events) with it as participant, its NOSHOW_ZOHO_OUTCOME_FIELD set
  to "No Show" (https://www.zoho.com/crm/developer/docs/api/v7/insert-records.html).
- FHIR: a Patient (phone and email in `telecom`) and an Appointment with it, booked, then patched to `noshow`
  (https://hl7.org/fhir/R4/appointment.html).
- Google Sheets: a row in the documented columns with status `no-show`, written below the last one with
  `values.batchUpdate` (https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets.values/batchUpdate).
- Airtable: a record with `Status` `no-show` (https://airtable.com/developers/web/api/create-records).
Then it triggers the source's reconcile Schedule (`reconcile-<source>`) and waits for that run.

Those are real records in a real org when the provider is not a local fake: they show up in reports, can fire
the org's own automation (flows, assignment rules, emails to the demo address) and are not removed by the demo.
So unless every configured provider URL is on this machine (a fake), the demo refuses and says what it would
create; `--yes-create` accepts that. The records carry "noshow demo" in their names so they can be found and
deleted afterwards.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from temporalio.client import Client, ScheduleActionExecution, ScheduleActionExecutionStartWorkflow, ScheduleDescription
from temporalio.service import RPCError, RPCStatusCode

from connectors.contract import ProviderError
from connectors.salesforce.source import SERVICE_APPOINTMENT
from connectors.settings import secret
from connectors.zoho.client import zoho_time
from domain.ids import case_id_for
from domain.reconcile import ReconcileResult
from workers.dev import demo_quickbooks as qb
from workers.dev.demo import DemoRefused, daytime_contact
from workers.dev.demo_customer import Customer
from workers.dev.demo_jobber import jobber_create, jobber_problem, jobber_urls
from workers.dev.demo_servicetitan import servicetitan_create, servicetitan_problem, servicetitan_urls
from workers.dev.demo_sources.base import remote_refusal
from workers.settings import Settings
from workers.temporal.schedules import schedule_id, trigger_reconcile

# ---------------------------------------------------------------------------- Salesforce


def _salesforce_urls(s: Settings) -> list[str]:
    sf = s.salesforce
    return [u for u in (sf.login_url, sf.instance_url) if u]


def _salesforce_problem(s: Settings) -> str | None:
    if SERVICE_APPOINTMENT not in s.salesforce.objects:
        return "the demo creates a ServiceAppointment: add it to NOSHOW_SALESFORCE_OBJECTS"
    if not s.salesforce.no_show_statuses:
        return "NOSHOW_SALESFORCE_NO_SHOW_STATUSES is empty: no status would mean a no-show"
    return None


def _salesforce_create(s: Settings, c: Customer, start: datetime, end: datetime) -> str:
    from workers.providers.salesforce_zoho import salesforce_client

    client = salesforce_client(s)
    account = client.create("Account", {"Name": f"noshow demo {c.ref}"})
    contact = client.create("Contact", {"FirstName": c.first, "LastName": f"{c.last} (noshow demo)",
                                        "Email": c.email, "MobilePhone": c.phone, "AccountId": account})
    appointment = client.create(SERVICE_APPOINTMENT, {
        "ParentRecordId": account, "ContactId": contact, "Subject": f"noshow demo {c.ref}", "Status": "Scheduled",
        "SchedStartTime": start.astimezone(UTC).isoformat(), "SchedEndTime": end.astimezone(UTC).isoformat()})
    # as in a real org: booked first, marked missed afterwards (status transitions are checked on update)
    client.update(SERVICE_APPOINTMENT, appointment, {"Status": s.salesforce.no_show_statuses[0]})
    return appointment


# ---------------------------------------------------------------------------- Zoho CRM


def _zoho_urls(s: Settings) -> list[str]:
    z = s.zoho
    return [u for u in (z.token_url, z.api_domain) if u]


def _zoho_problem(s: Settings) -> str | None:
    if not s.zoho.outcome_field:
        return ("Zoho meetings have no attendance status: set NOSHOW_ZOHO_OUTCOME_FIELD to the meeting field "
                "that holds the outcome")
    return None


def _zoho_create(s: Settings, c: Customer, start: datetime, end: datetime) -> str:
    from workers.providers.salesforce_zoho import zoho_client

    client = zoho_client(s)
    contact = client.create("Contacts", {"First_Name": c.first, "Last_Name": f"{c.last} (noshow demo)",
                                         "Email": c.email, "Mobile": c.phone})
    return client.create("Events", {
        "Event_Title": f"noshow demo {c.ref}", "Start_DateTime": zoho_time(start), "End_DateTime": zoho_time(end),
        "Participants": [{"type": "contact", "participant": contact}], "Who_Id": {"id": contact},
        str(s.zoho.outcome_field): "No Show"})


# ---------------------------------------------------------------------------- FHIR


def _fhir_urls(s: Settings) -> list[str]:
    return [s.fhir.base_url] if s.fhir.base_url else []


def _fhir_create(s: Settings, c: Customer, start: datetime, end: datetime) -> str:
    from workers.providers.fhir import fhir_client

    client = fhir_client(s)
    patient = client.create({"resourceType": "Patient", "name": [{"family": f"{c.last} (noshow demo)",
                                                                  "given": [c.first]}],
                             "telecom": [{"system": "phone", "value": c.phone, "use": "mobile"},
                                         {"system": "email", "value": c.email}]})["id"]
    appointment = client.create({
        "resourceType": "Appointment", "status": "booked", "start": start.astimezone(UTC).isoformat(),
        "end": end.astimezone(UTC).isoformat(), "identifier": [{"system": "urn:noshow-recovery:demo", "value": c.ref}],
        "participant": [{"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"}]})
    # booked first, then marked missed, as the front desk would (https://hl7.org/fhir/R4/http.html#patch)
    version = (appointment.get("meta") or {}).get("versionId")
    client.patch_status("Appointment", str(appointment["id"]), "noshow", str(version) if version else None)
    return str(appointment["id"])


# ---------------------------------------------------------------------------- Google Sheets and Airtable


def _row(c: Customer, start: datetime, end: datetime) -> dict[str, str]:
    """A missed appointment in the documented columns (connectors/sheets/rows.py)."""
    return {"appointment_id": f"demo-{c.ref}", "start": start.astimezone(UTC).isoformat(),
            "end": end.astimezone(UTC).isoformat(), "timezone": "UTC", "status": "no-show",
            "contact_id": f"demo-{c.ref}", "phone": c.phone, "email": c.email,
            "name": f"{c.first} {c.last} (noshow demo)", "type": "consultation"}


def _sheets_urls(s: Settings) -> list[str]:
    refreshed = bool(s.google.client_id and secret(s.google.refresh_token))
    return [s.sheets.base_url] + ([s.google.token_url] if refreshed else [])


def _sheets_create(s: Settings, c: Customer, start: datetime, end: datetime) -> str:
    from connectors.sheets.client import a1_column, quoted_sheet
    from connectors.sheets.rows import Header
    from workers.providers.sheets import sheets_client, sheets_range

    client, sheet_id = sheets_client(s), s.sheets.spreadsheet_id or ""
    rows = client.values(sheet_id, sheets_range(s))
    header, number, row = Header.read(rows[0] if rows else []), len(rows) + 1, _row(c, start, end)
    client.batch_update(sheet_id, {f"{quoted_sheet(s.sheets.sheet)}!{a1_column(i)}{number}": row[name]
                                   for name, i in header.positions.items()})
    return row["appointment_id"]


def _airtable_create(s: Settings, c: Customer, start: datetime, end: datetime) -> str:
    from workers.providers.airtable import airtable_client

    fields = {name.replace("_", " ").title(): value for name, value in _row(c, start, end).items()
              if name != "appointment_id"}
    return airtable_client(s).create(s.airtable.base_id or "", (s.airtable.table or "").strip(), fields)


# ---------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class PolledSource:
    title: str
    creates: str  # what the demo writes, for the confirmation message
    appointment_type: str
    calendar_id: str
    urls: Callable[[Settings], list[str]]
    problem: Callable[[Settings], str | None]
    create: Callable[[Settings, Customer, datetime, datetime], str]


POLLED: dict[str, PolledSource] = {
    "salesforce": PolledSource("Salesforce", "an Account, a Contact and a ServiceAppointment marked missed",
                               "service_appointment", SERVICE_APPOINTMENT, _salesforce_urls, _salesforce_problem,
                               _salesforce_create),
    "zoho": PolledSource("Zoho CRM", "a Contact and a meeting with the no-show outcome", "meeting", "Events",
                         _zoho_urls, _zoho_problem, _zoho_create),
    "fhir": PolledSource("FHIR", "a Patient and an Appointment marked noshow", "appointment", "fhir", _fhir_urls,
                         lambda _s: None, _fhir_create),
    "quickbooks": PolledSource("QuickBooks Online", "a Customer and a service Invoice, voided", "service",
                               "invoices", qb.demo_urls, qb.demo_problem, qb.demo_create),
    "servicetitan": PolledSource("ServiceTitan", "a customer, a job and its appointment, cancelled for no access",
                                 "servicetitan_appointment", "default", servicetitan_urls, servicetitan_problem,
                                 servicetitan_create),
    "jobber": PolledSource("Jobber", "a client, a job and a visit that ended uncompleted", "jobber_visit", "default",
                           jobber_urls, jobber_problem, jobber_create),
    "sheets": PolledSource("Google Sheets", "a row marked no-show in the sheet", "consultation", "sheet",
                           _sheets_urls, lambda s: None, _sheets_create),
    "airtable": PolledSource("Airtable", "a record marked no-show in the table", "consultation", "table",
                             lambda s: [s.airtable.base_url], lambda s: None, _airtable_create),
}


def polled_refusal(settings: Settings, name: str, yes_create: bool = False) -> str | None:
    """Why the polled demo cannot run with this source, in one line, or None."""
    from domain.models import Appointment, Contact
    from policies.loader import PolicyError, load_policy, source_ignore_reason
    from workers.providers.sources import reconcile_checks

    source = POLLED.get(name)
    if source is None:
        return f"unknown polled demo source {name!r}; choose one of: {', '.join(sorted(POLLED))}"
    check = next((c for c in reconcile_checks(settings) if c.name == name), None)
    if check is None or check.status != "ok":
        return f"{source.title} is not polled by the stack: {check.detail if check else 'not configured'}"
    problem = source.problem(settings)
    if problem:
        return problem
    try:
        policy = load_policy(settings.policy.file)
    except PolicyError as exc:
        return f"the policy does not load ({len(exc.problems)} problem(s)); run `noshow policy check`"
    now = datetime.now(UTC)
    probe = Appointment(source=name, appointment_id="demo-probe", appointment_type=source.appointment_type,
                        calendar_id=source.calendar_id, start=now, end=now + timedelta(minutes=30),
                        contact=Contact(contact_id=f"{name}:demo-probe"))
    reason = source_ignore_reason(policy, probe)
    if reason:
        return f"the policy {policy.version!r} does not watch {name} appointments ({reason}); add the source to it"
    return remote_refusal(source.title, source.creates, list(source.urls(settings)), yes_create)


def _runs(actions: Sequence[ScheduleActionExecution]) -> list[tuple[str, str]]:
    return [(a.workflow_id, a.first_execution_run_id) for a in actions
            if isinstance(a, ScheduleActionExecutionStartWorkflow)]


def _started(desc: ScheduleDescription) -> list[tuple[str, str]]:
    """The (workflow id, run id) of the Schedule's running and recent runs; runs started within one second share
    a workflow id."""
    return _runs(desc.info.running_actions) + _runs([a.action for a in desc.info.recent_actions])


async def reconcile_now(client: Client, source: str, timeout: float) -> ReconcileResult:
    """Trigger the source's reconcile Schedule and wait for the run it starts. A run already in flight is waited
    for first: the Schedule skips a trigger that overlaps one, and that run may predate what was just written."""
    handle = client.get_schedule_handle(schedule_id(source))
    deadline = time.monotonic() + timeout
    for workflow_id, run_id in _runs((await handle.describe()).info.running_actions):
        await client.get_workflow_handle(workflow_id, run_id=run_id).result()
    before = set(_started(await handle.describe()))
    await trigger_reconcile(client, source)
    while time.monotonic() < deadline:
        started = [w for w in _started(await handle.describe()) if w not in before]
        if started:
            workflow_id, run_id = started[0]
            return await client.get_workflow_handle(workflow_id, run_id=run_id, result_type=ReconcileResult).result()
        await asyncio.sleep(0.3)
    raise TimeoutError(f"the {source} reconcile run did not start within {timeout:.0f} s; is the worker running?")


async def _reconcile(client: Client, source: str, timeout: float) -> ReconcileResult:
    try:
        return await reconcile_now(client, source, timeout)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        raise DemoRefused(f"the stack has no {schedule_id(source)} Schedule: restart the worker with the "
                          f"{POLLED[source].title} settings (it creates the Schedule)") from None
    except TimeoutError as exc:
        raise ConnectionError(str(exc)) from None


async def _stage(http: httpx.AsyncClient, admin: dict[str, str], case_id: str, stage: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        r = await http.get(f"/cases/{case_id}", headers=admin)
        found = str(r.json().get("stage", "")) if r.status_code == 200 else ""
        if found == stage or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.3)


async def run_polled_demo(settings: Settings, name: str, echo: Callable[[str], None], timeout: float = 90,
                          yes_create: bool = False, http: httpx.AsyncClient | None = None,
                          temporal: Client | None = None) -> bool:
    """One missed appointment written to `name`, found by one reconcile run, recovered end to end. `http` is the
    API and `temporal` the Temporal client (default: the running stack's)."""
    refusal = polled_refusal(settings, name, yes_create)
    if refusal:
        raise DemoRefused(refusal)
    source = POLLED[name]
    own_http = http is None
    api = http or httpx.AsyncClient(base_url=f"http://{settings.api.host}:{settings.api.port}", timeout=30)
    admin = {"Authorization": f"Bearer {secret(settings.auth.admin_token) or ''}"}
    try:
        try:
            await api.get("/health")
        except httpx.HTTPError:
            raise ConnectionError(f"cannot reach the API at {api.base_url}; start it with `make run` first") from None
        if temporal is None:
            from workers.temporal.client import connect

            try:
                temporal = await connect(settings, wait_seconds=5)
            except RuntimeError:
                raise ConnectionError(f"cannot reach Temporal at {settings.temporal.target}; start the stack with "
                                      "`make run` first") from None
        # a first run for a source is a baseline that starts no case for a past no-show: have it happen first
        caught_up = await _reconcile(temporal, name, timeout)
        echo(f"  {name} catch-up   -> {len(caught_up.events)} event(s)")
        phone, _ = daytime_contact()
        ref = uuid.uuid4().hex[:10]
        customer = Customer("Pat", "Example", f"demo-{ref}@example.com", phone, ref)
        now = datetime.now(UTC).replace(microsecond=0)
        try:
            appointment = await asyncio.to_thread(source.create, settings, customer, now - timedelta(minutes=10),
                                                  now + timedelta(minutes=20))
        except ProviderError as exc:  # the provider's words can echo input: the kind and code only
            echo(f"  {name} created    -> refused ({type(exc).__name__} {getattr(exc, 'code', '') or ''})".rstrip())
            return False
        echo(f"  {name} created    -> {source.creates} ({appointment})")
        found = await _reconcile(temporal, name, timeout)
        mine = [e for e in found.events if e.appointment.appointment_id == appointment]
        echo(f"  {name} reconcile  -> {', '.join(e.type.value for e in mine) or 'nothing found'}")
        if not mine:
            return False
        case_id = case_id_for(name, appointment, settings.auth.id_salt)
        for stage, reply in (("recovering", "yes, can I come another day?"), ("offering", "1"), ("confirmed", None)):
            reached = await _stage(api, admin, case_id, stage, timeout)
            echo(f"  {stage:12} {'ok' if reached == stage else 'stuck at ' + (reached or '?')}")
            if reached != stage:
                return False
            if reply:
                await api.post("/inbound/local", headers=admin, json={"case_id": case_id, "text": reply})
        return True
    finally:
        if own_http:
            await api.aclose()
