"""Jobber GraphQL client: visits (with their job and client), a visit's schedule, job notes and the account.

References (Jobber's public developer documentation):
- `POST https://api.getjobber.com/api/graphql`, `Content-Type: application/json`, `Authorization: Bearer
  <access token>`, `X-JOBBER-GRAPHQL-VERSION: YYYY-MM-DD`
  https://developer.getjobber.com/docs/using_jobbers_api/api_queries_and_mutations,
  https://developer.getjobber.com/docs/using_jobbers_api/api_versioning/ (a version is supported 12 months, an
  unsupported one is upgraded to the oldest supported). UNVERIFIED: the current version string; the queries
  below are written against the 2022-03-10 schema of Jobber's app template
  (https://github.com/GetJobber/Jobber-AppTemplate-RailsAPI, `db/schema.json`).
- Query `visits(filter: {startAt: {after, before}}, first, after)` (Relay: `nodes`, `pageInfo {hasNextPage,
  endCursor}`) with `Visit {id, title, startAt, endAt, completedAt, isComplete, visitStatus, job {id, jobNumber},
  client {id, name, emails {address, primary}, phones {number, primary}}}`; `visit(id: EncodedId)`. There is no
  "updated since" filter on visits (`VisitFilterAttributes`: status, createdAt, startAt, endAt, completedAt, ...).
- Mutations `visitEditSchedule(id, input: VisitEditScheduleInput {startAt, endAt: LocalDateTimeAttributes {date,
  time, timezone}})` and `jobCreateNote(jobId, input: {message})`, each answering `userErrors {message, path}`.
  The `Timezone` scalar is "any timezone found in the TZ database": the engine's times are sent in `UTC`.
- Creates (the demo's records): `clientCreate(input: {firstName, lastName, emails [{description, primary,
  address}], phones [{description, primary, number}], properties [{address}]})` answering `client {id,
  clientProperties {nodes {id}}}`; `jobCreate(input: {propertyId!, title, scheduling! {createVisits},
  invoicing! {invoicingType, invoicingSchedule}})`; `visitCreate(jobId, input: {visits [{title, schedule
  {startAt, endAt}}]})` answering `createdVisits {id}`.
- Client notes: `clientCreateNote(clientId, input: {message})` answering `clientNote {id}`; `client(id) {notes(first)
  {nodes {id, message}}}`.
  UNVERIFIED: which schema mutations public apps may call.
- Errors: throttling is a GraphQL error with `extensions.code` `THROTTLED` (an HTTP 200), answered here as
  retryable; other GraphQL errors and `userErrors` are permanent; an invalid token is a 401 (refreshed once).
Messages in GraphQL errors can echo input: only the code reaches an exception. Jobber has no idempotency key.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.contract import PermanentProviderError, RetryableProviderError
from connectors.http import JsonApi
from connectors.inbound import number_in
from connectors.oauth import TokenManager, TokenSource, current_token

API_URL = "https://api.getjobber.com/api/graphql"
VERSION = "2022-03-10"
PAGE = 50

CLIENT_FIELDS = "client { id name emails { address primary } phones { number primary } }"
VISIT_FIELDS = (f"id title startAt endAt completedAt isComplete visitStatus createdAt job {{ id jobNumber }} "
                f"{CLIENT_FIELDS}")
VISITS = (f"query NoshowVisits($after: ISO8601DateTime!, $before: ISO8601DateTime!, $cursor: String) "
          f"{{ visits(filter: {{startAt: {{after: $after, before: $before}}}}, first: {PAGE}, after: $cursor) "
          f"{{ nodes {{ {VISIT_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}")
VISIT = f"query NoshowVisit($id: EncodedId!) {{ visit(id: $id) {{ {VISIT_FIELDS} }} }}"
ACCOUNT = "query NoshowAccount { account { id } }"
EDIT_SCHEDULE = ("mutation NoshowVisitEditSchedule($id: EncodedId!, $input: VisitEditScheduleInput!) "
                 "{ visitEditSchedule(id: $id, input: $input) { visit { id startAt endAt } "
                 "userErrors { message path } } }")
CLIENT_CREATE = ("mutation NoshowClientCreate($input: ClientCreateInput!) { clientCreate(input: $input) "
                 "{ client { id clientProperties { nodes { id } } } userErrors { message path } } }")
JOB_CREATE = ("mutation NoshowJobCreate($input: JobCreateAttributes!) { jobCreate(input: $input) "
              "{ job { id } userErrors { message path } } }")
VISIT_CREATE = ("mutation NoshowVisitCreate($jobId: EncodedId!, $input: VisitCreateInput!) "
                "{ visitCreate(jobId: $jobId, input: $input) { createdVisits { id } userErrors { message path } } }")
CLIENT_NOTE = ("mutation NoshowClientCreateNote($clientId: EncodedId!, $input: ClientCreateNoteInput!) "
               "{ clientCreateNote(clientId: $clientId, input: $input) { clientNote { id } "
               "userErrors { message path } } }")
CLIENT_NOTES = ("query NoshowClientNotes($id: EncodedId!) "
                "{ client(id: $id) { notes(first: 50) { nodes { id message } } } }")
JOB_NOTE = ("mutation NoshowJobCreateNote($jobId: EncodedId!, $input: JobCreateNoteInput!) "
            "{ jobCreateNote(jobId: $jobId, input: $input) { jobNote { id } userErrors { message path } } }")


def jobber_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_time(at: datetime) -> dict[str, str]:
    """A `LocalDateTimeAttributes` value: the date and time on the wall clock of `timezone`."""
    utc = at.astimezone(UTC)
    return {"date": utc.date().isoformat(), "time": utc.strftime("%H:%M:%S"), "timezone": "UTC"}


class JobberClient(JsonApi):
    provider = "jobber"
    rate_limit = (8.0, 1.0)  # 2,500 requests per 5 minutes is Jobber's request guard (UNVERIFIED-secondary)

    def __init__(self, token: TokenSource, api_url: str = API_URL, version: str = VERSION, timeout: float = 10.0,
                 http: httpx.Client | None = None) -> None:
        super().__init__(api_url, {"Accept": "application/json", "X-JOBBER-GRAPHQL-VERSION": version}, timeout, http)
        self.token = token

    def url(self, path: str) -> str:
        return self.base_url

    def graphql(self, operation: str, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The `data` of one operation. Queries are repeatable: sent as POST, they are retried by the activity."""
        payload = {"operationName": operation, "query": query, "variables": dict(variables or {})}
        refreshed = False
        while True:
            response = self.request("POST", "", json_body=payload, ok=(401,),
                                    headers={"Authorization": f"Bearer {current_token(self.token)}"},
                                    ambiguous_after_send=query.startswith("mutation"))
            if response.status_code == 401:
                if refreshed or not isinstance(self.token, TokenManager):
                    raise PermanentProviderError("jobber HTTP 401 (unauthorized)", code="unauthorized")
                self.token.invalidate()
                refreshed = True
                continue
            break
        try:
            body = response.json()
        except ValueError as exc:
            raise RetryableProviderError("jobber: a non-JSON answer") from exc
        errors = body.get("errors") if isinstance(body, dict) else None
        if isinstance(errors, list) and errors:
            code = _code(errors)
            if code == "THROTTLED":
                raise RetryableProviderError("jobber: throttled (query cost budget)", retry_after=_restore(body))
            raise PermanentProviderError(f"jobber GraphQL error ({code})", code=code)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise PermanentProviderError("jobber: an answer without data", code="no_data")
        return data

    # ------------------------------------------------------------------ reads
    def visits(self, after: datetime, before: datetime) -> list[dict[str, Any]]:
        """The visits starting in [after, before), across Relay pages."""
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            data = self.graphql("NoshowVisits", VISITS, {"after": jobber_time(after), "before": jobber_time(before),
                                                         "cursor": cursor})
            found = _dict(data.get("visits"))
            out += [n for n in found.get("nodes") or [] if isinstance(n, dict)]
            info = _dict(found.get("pageInfo"))
            cursor = info.get("endCursor") if info.get("hasNextPage") is True else None
            if not cursor:
                return out

    def visit(self, visit_id: str) -> dict[str, Any]:
        found = self.graphql("NoshowVisit", VISIT, {"id": visit_id}).get("visit")
        return found if isinstance(found, dict) else {}

    def account(self) -> dict[str, Any]:
        found = self.graphql("NoshowAccount", ACCOUNT).get("account")
        return found if isinstance(found, dict) else {}

    # ------------------------------------------------------------------ writes
    def edit_schedule(self, visit_id: str, start: datetime, end: datetime) -> dict[str, Any]:
        data = self.graphql("NoshowVisitEditSchedule", EDIT_SCHEDULE,
                            {"id": visit_id, "input": {"startAt": local_time(start), "endAt": local_time(end)}})
        return _payload(data, "visitEditSchedule", "visit")

    def add_job_note(self, job_id: str, message: str) -> dict[str, Any]:
        data = self.graphql("NoshowJobCreateNote", JOB_NOTE, {"jobId": job_id, "input": {"message": message}})
        return _payload(data, "jobCreateNote", "jobNote")

    def add_client_note(self, client_id: str, message: str) -> str:
        data = self.graphql("NoshowClientCreateNote", CLIENT_NOTE,
                            {"clientId": client_id, "input": {"message": message}})
        return _created(data, "clientCreateNote", "clientNote")

    def client_notes(self, client_id: str) -> list[dict[str, Any]]:
        """The client's 50 most recent notes (the default sort of the connection)."""
        client = _dict(self.graphql("NoshowClientNotes", CLIENT_NOTES, {"id": client_id}).get("client"))
        nodes = _dict(client.get("notes")).get("nodes")
        return [n for n in nodes or [] if isinstance(n, dict)]

    def create_client(self, fields: Mapping[str, Any]) -> tuple[str, str | None]:
        """(client id, its first property's id)."""
        client = _payload(self.graphql("NoshowClientCreate", CLIENT_CREATE, {"input": dict(fields)}),
                          "clientCreate", "client")
        if not client.get("id"):
            raise PermanentProviderError("jobber clientCreate: no id in the answer", code="no_id")
        return str(client["id"]), _first_property(client)

    def create_job(self, property_id: str, title: str) -> str:
        fields = {"propertyId": property_id, "title": title, "scheduling": {"createVisits": False},
                  "invoicing": {"invoicingType": "FIXED_PRICE", "invoicingSchedule": "ON_COMPLETION"}}
        return _created(self.graphql("NoshowJobCreate", JOB_CREATE, {"input": fields}), "jobCreate", "job")

    def create_visit(self, job_id: str, title: str, start: datetime, end: datetime) -> str:
        visit = {"title": title, "schedule": {"startAt": local_time(start), "endAt": local_time(end)}}
        data = self.graphql("NoshowVisitCreate", VISIT_CREATE, {"jobId": job_id, "input": {"visits": [visit]}})
        return _created(data, "visitCreate", "createdVisits")


def _created(data: dict[str, Any], field: str, item: str) -> str:
    found = _payload(data, field, item)
    if isinstance(found, list):
        found = found[0] if found and isinstance(found[0], dict) else {}
    if not found.get("id"):
        raise PermanentProviderError(f"jobber {field}: no id in the answer", code="no_id")
    return str(found["id"])


def _payload(data: dict[str, Any], field: str, item: str) -> dict[str, Any]:
    answer = _dict(data.get(field))
    refused = answer.get("userErrors")
    if isinstance(refused, list) and refused:
        raise PermanentProviderError(f"jobber {field}: refused ({len(refused)} user error(s))", code="user_errors")
    found = answer.get(item)
    if isinstance(found, list) and found and isinstance(found[0], dict):
        return dict(found[0])
    if not isinstance(found, dict):
        raise PermanentProviderError(f"jobber {field}: no {item} in the answer", code="no_result")
    return found


def _first_property(client: dict[str, Any]) -> str | None:
    nodes = _dict(client.get("clientProperties")).get("nodes")
    first = nodes[0] if isinstance(nodes, list) and nodes and isinstance(nodes[0], dict) else {}
    return str(first["id"]) if first.get("id") else None


def _code(errors: list[Any]) -> str:
    for error in errors:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        code = extensions.get("code") if isinstance(extensions, dict) else None
        if isinstance(code, str) and code:
            return code[:40]
    return "graphql_error"


def _restore(body: dict[str, Any]) -> float | None:
    """Seconds until the cost budget refills to the requested cost (`extensions.cost.throttleStatus`)."""
    cost = _dict(_dict(body.get("extensions")).get("cost"))
    status = _dict(cost.get("throttleStatus"))
    wanted, have, rate = (number_in(v, 0, 1e9) for v in (cost.get("requestedQueryCost"),
                                                          status.get("currentlyAvailable"), status.get("restoreRate")))
    if wanted is None or have is None or not rate:
        return None
    return max(0.0, (wanted - have) / rate)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
