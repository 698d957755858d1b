"""PII canary sweep: personal data never reaches workflow ids, histories, search attributes, failures, logs or
the reporting ledger.

Cases run end to end through the real HTTP API in-process, a real worker, the session dev server and the real
Twilio and SendGrid connectors (pointed at local fakes), with encryption on and made-up canary people: a
no-show recovered after a reply that mentions symptoms (its first send meets a provider 429 whose error body
names the number), a case a reviewer closes with a note naming the customer, a dispute reply, an opt-out, a
number the provider rejects with an error that quotes it (as Twilio's 21211 does), and a malformed number.
Then every place personal data must not reach is searched for every form of their names, phones, emails and
the symptom phrase. Hits per sink must be 0.

Stores that hold personal data by design (named in DESIGNATED) are not swept; instead they must contain the
canaries, which proves the canaries really travelled through the system and the search can see them.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
from temporalio.api.failure.v1 import Failure
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionResponse
from temporalio.client import WorkflowExecutionStatus

from connectors.standard_webhooks import sign
from domain.addresses import AddressError, normalise_phone
from domain.models import EventType, Stage
from tests.fakes.twilio_fake import twilio_error
from tests.helpers import appointment, event, eventually
from tests.security.conftest import EncryptedStack, Providers
from tests.security.sweep import Canary, captured_logs, decrypt_all, failures_of, find, sqlite_tables
from workers.api.app import create_app

ADMIN = {"Authorization": "Bearer dev-admin-token"}
REVIEWER = {"Authorization": "Bearer dev-reviewer-token"}

pytestmark = pytest.mark.slow  # whole recoveries through the real connectors, then a sweep of every store

# local.db tables that hold personal data on purpose (the embedded CRM, what we sent, what customers wrote, the
# legally required evidence of consent); everything else in local.db is swept like any other sink
DESIGNATED = {
    "contacts": "local CRM contact records",
    "outbox": "messages sent to customers (recipient and body)",
    "inbound": "customers' replies as received",
    "consent": "consent ledger: opt-out evidence (the customer's own words)",
    "consent_events": "consent ledger history: opt-out evidence",
    "audit": "reviewer audit trail: a reviewer's free-text note",
}


def too_short(phone: str) -> str:
    """The number cut until it cannot be a phone number anywhere (some regions allow short numbers), while
    it still parses, so its forms can be searched for."""
    cut = phone[:-6]
    while True:
        try:
            normalise_phone(cut)
        except AddressError:
            return cut
        cut = cut[:-1]


class Run:
    def __init__(self, http: httpx.AsyncClient, stack: EncryptedStack, providers: Providers) -> None:
        self.http = http
        self.stack = stack
        self.providers = providers
        self.secret = stack.settings.auth.webhook_secret.get_secret_value()
        self.descriptions: list[bytes] = []  # describe() snapshots taken while an activity was failing

    async def failing_activity(self, case_id: str) -> None:
        """Wait until the case shows a pending activity with its last failure, and keep that snapshot."""
        handle = self.stack.plain_client.get_workflow_handle(case_id)
        described = await eventually(handle.describe, lambda d: any(
            a.last_failure.message for a in d.raw_description.pending_activities))
        self.descriptions.append(described.raw_description.SerializeToString())

    async def post_event(self, canary: Canary, type_: EventType, expect: int = 200, **appt_kw: object) -> str:
        appt = appointment(contact_id=canary.contact_id, phone=canary.phone, email=canary.email,
                           timezone=canary.timezone, **appt_kw)  # type: ignore[arg-type]
        appt.contact.name = canary.name
        ev = event(appt, type_)
        body = json.dumps({"type": type_.value, "timestamp": datetime.now(UTC).isoformat(),
                           "data": ev.model_dump(mode="json")}).encode()
        msg_id, ts = f"msg_{uuid.uuid4().hex}", int(time.time())
        r = await self.http.post("/webhooks/events", content=body, headers={
            "content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": sign(self.secret, msg_id, ts, body)})
        assert r.status_code == expect, r.text
        if expect != 200:
            assert canary.phone not in r.text and canary.phone[1:] not in r.text  # refused without echoing it
            return ""
        case_id = r.json()["events"][0]["case_id"]
        assert case_id
        return str(case_id)

    async def reply(self, case_id: str, text: str) -> None:
        r = await self.http.post("/inbound/local", headers=ADMIN, json={"case_id": case_id, "text": text})
        assert r.status_code == 200 and r.json()["routed"] == "case", r.text

    async def stage(self, case_id: str, *stages: Stage, timeout: float = 30) -> dict[str, object]:
        wanted = {s.value for s in stages}
        response = await eventually(lambda: self.http.get(f"/cases/{case_id}", headers=ADMIN),
                                    lambda r: r.status_code == 200 and r.json().get("stage") in wanted,
                                    timeout=timeout)
        return response.json()  # type: ignore[no-any-return]

    async def messages(self, case_id: str, n: int = 1) -> None:
        await eventually(lambda: asyncio.sleep(0, self.stack.deps.outbox.messages(case_id)), lambda m: len(m) >= n)


async def drive_cases(run: Run, canaries: list[Canary]) -> list[str]:
    recovered, reviewed, disputed, opted_out, rejected, malformed = canaries
    twilio = run.providers.twilio
    cases: list[str] = []

    # 1. a no-show (the first send is throttled by the provider with an error that quotes the number), a reply
    # that mentions symptoms, a slot picked: recovered
    twilio.rate_limit_next(retry_after="2", body=twilio_error(429, 20429, f"Too many requests for {recovered.phone}"))
    a = await run.post_event(recovered, EventType.no_show)
    await run.failing_activity(a)
    await run.messages(a)
    await run.stage(a, Stage.recovering)
    await run.reply(a, f"Sorry, I had {recovered.symptom} that morning. Can we find another time?")
    await run.stage(a, Stage.offering)
    await run.reply(a, "2")
    await run.stage(a, Stage.confirmed, Stage.rebooked, Stage.following)
    cases.append(a)

    # 2. unclear attendance: a reviewer closes it with a note that names the customer (and a stale try first)
    b = await run.post_event(reviewed, EventType.booked)
    await run.stage(b, Stage.awaiting_review)
    pending = await eventually(lambda: run.http.get("/reviews", headers=REVIEWER),
                               lambda r: any(p["case_id"] == b for p in r.json()))
    review_id = next(p["review_id"] for p in pending.json() if p["case_id"] == b)
    stale = await run.http.post(f"/reviews/{b}/decision", headers=REVIEWER,
                                json={"review_id": "stale", "decision": "approve"})
    assert stale.status_code == 409
    note = f"Called {reviewed.name} on {reviewed.phone}: mentioned {reviewed.symptom}"
    decided = await run.http.post(f"/reviews/{b}/decision", headers=REVIEWER,
                                  json={"review_id": review_id, "decision": "reject", "note": note})
    assert decided.status_code == 200, decided.text
    await run.stage(b, Stage.closed_by_reviewer)
    cases.append(b)

    # 3. a dispute that names the customer and the symptom goes to a human
    c = await run.post_event(disputed, EventType.no_show)
    await run.messages(c)
    await run.stage(c, Stage.recovering)
    await run.reply(c, f"I was there! This is {disputed.name}, I waited with {disputed.symptom}. "
                       f"Email me at {disputed.email}")
    await run.stage(c, Stage.awaiting_review)
    cases.append(c)

    # 4. an opt-out
    d = await run.post_event(opted_out, EventType.no_show)
    await run.messages(d)
    await run.stage(d, Stage.recovering)
    await run.reply(d, f"STOP texting me, {opted_out.name} does not want these")
    await run.stage(d, Stage.opted_out)
    cases.append(d)

    # 5. the provider refuses the number, quoting it in its error (a permanent failure)
    twilio.fail_next(400, twilio_error(400, 21211, f"The 'To' number {rejected.phone} is not a valid phone number."))
    e = await run.post_event(rejected, EventType.no_show)
    await eventually(lambda: asyncio.sleep(0, twilio.calls("POST", "/Messages.json")),
                     lambda calls: any(parse_qs(c.body.decode()).get("To") == [rejected.phone] for c in calls))
    await run.stage(e, Stage.recovering, Stage.awaiting_review, Stage.unrecovered, Stage.suppressed)
    cases.append(e)

    # 6. a malformed number (too short to be real): refused at the edge (422, no case), and nothing may echo it
    malformed.phone = too_short(malformed.phone)
    await run.post_event(malformed, EventType.no_show, expect=422)
    return cases


def count(found: dict[str, list[str]], sink: str, text: str | bytes, needles: dict[str, str]) -> None:
    found.setdefault(sink, []).extend(find(text, needles))


async def test_canary_sweep_finds_no_pii_outside_designated_stores(
        encrypted_providers: tuple[EncryptedStack, Providers], request: pytest.FixtureRequest) -> None:
    encrypted, providers = encrypted_providers
    canaries = [Canary(n) for n in range(1, 7)]
    needles: dict[str, str] = {f"canary{c.n} {label}": value for c in canaries for label, value in c.strings().items()}
    needles["symptom phrase"] = canaries[0].symptom
    app = create_app(encrypted.settings, client=encrypted.client, deps=encrypted.deps)
    found: dict[str, list[str]] = {}
    running: list[str] = []

    with captured_logs(encrypted.settings) as log_lines:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            run = Run(http, encrypted, providers)
            cases = await drive_cases(run, canaries)
        plain = encrypted.plain_client
        query = f"TaskQueue = '{encrypted.settings.temporal.task_queue}'"
        executions = [wf async for wf in plain.list_workflows(query)]
        assert {wf.id for wf in executions} >= set(cases)
        decrypted_total = 0
        failures: list[Failure] = []
        for snapshot in run.descriptions:
            described = DescribeWorkflowExecutionResponse.FromString(snapshot)
            count(found, "describe (pending activities, last failures)", snapshot, needles)
            failures += failures_of(described)
        for wf in executions:
            count(found, "workflow ids, run ids, types, task queues", " ".join(
                [wf.id, wf.run_id, wf.workflow_type, wf.task_queue]), needles)
            count(found, "visibility records (search attributes, memo)", wf.raw_info.SerializeToString(), needles)
            count(found, "visibility records (search attributes, memo)", repr(dict(wf.search_attributes)), needles)
            handle = plain.get_workflow_handle(wf.id, run_id=wf.run_id)
            description = await handle.describe()
            count(found, "describe (pending activities, last failures)",
                  description.raw_description.SerializeToString(), needles)
            history = await handle.fetch_history()
            count(found, "Temporal history fetched without the codec",
                  b"".join(e.SerializeToString() for e in history.events), needles)
            failures += [f for e in history.events for f in failures_of(e)]
            failures += failures_of(description.raw_description)
            if description.status == WorkflowExecutionStatus.RUNNING:
                running.append(wf.id)
            # positive control: with the key, the history does hold the customer's data
            for e in history.events:
                decrypted_total += await decrypt_all(e, encrypted.codec)
            count(found, "(control) history decrypted with the key",
                  b"".join(e.SerializeToString() for e in history.events), needles)
    failure_text = "\n".join(f"{f.message}\n{f.stack_trace}" for f in failures)
    count(found, "failure messages and stack traces", failure_text, needles)
    for case_id in running:
        await encrypted.client.get_workflow_handle(case_id).terminate(reason="sweep finished")

    count(found, "application, worker and SDK logs", "".join(log_lines), needles)
    data_dir: Path = encrypted.settings.storage.data_dir
    ledger_path = Path(encrypted.settings.storage.ledger_db_url.removeprefix("sqlite:///"))
    for table, rows in sqlite_tables(ledger_path).items():
        count(found, f"reporting ledger: {table}", rows, needles)
    for path in sorted(data_dir.iterdir()):
        if path.name.startswith(encrypted.settings.storage.local_db_path.name) or path.is_dir():
            continue  # local.db is swept table by table below
        count(found, f"data file {path.name}", path.read_bytes(), needles)
    for table, rows in sqlite_tables(encrypted.settings.storage.local_db_path).items():
        sink = f"local.db {table}" + (" (designated PII store: not swept)" if table in DESIGNATED else "")
        count(found, sink, rows, needles)

    report(request, found, len(executions), len(log_lines), decrypted_total, len(failures))

    leaks = {sink: hits for sink, hits in found.items()
             if hits and "(designated" not in sink and not sink.startswith("(control)")}
    assert leaks == {}, f"PII canaries found outside designated stores: {leaks}"
    # the controls: the canaries did flow through the system, and the search sees them where they belong
    assert "canary1 name" in found["local.db contacts (designated PII store: not swept)"]
    assert "canary1 phone e164" in found["local.db outbox (designated PII store: not swept)"]
    assert "symptom phrase" in found["local.db inbound (designated PII store: not swept)"]
    control = set(found["(control) history decrypted with the key"])
    assert {"canary1 name", "canary1 phone e164", "canary1 email", "symptom phrase"} <= control
    assert decrypted_total >= 50
    assert any(case_id in line for line in log_lines for case_id in cases)  # the log tap did see the run
    # the provider failure was seen: in plain words, or encrypted by the failure converter (carrying no number)
    assert "twilio 429" in failure_text or "Encoded failure" in failure_text


def report(request: pytest.FixtureRequest, found: dict[str, list[str]], executions: int, log_lines: int,
           decrypted: int, failures: int) -> None:
    lines = [f"PII canary sweep: {executions} workflow executions, {log_lines} log writes, {decrypted} encrypted "
             f"payloads, {failures} failures; hits per sink (must be 0 unless designated or control):"]
    for sink in sorted(found):
        hits = found[sink]
        detail = f"  ({', '.join(sorted(set(hits)))})" if hits else ""
        lines.append(f"  {len(hits):4d}  {sink}{detail}")
    lines += [f"  designated PII store, excluded: local.db {t} = {why}" for t, why in DESIGNATED.items()]
    lines.append("  designated PII store, excluded: the providers (Twilio/SendGrid fakes) = recipient and message")
    show(request, lines)


def show(request: pytest.FixtureRequest, lines: list[str]) -> None:
    capture = request.config.pluginmanager.getplugin("capturemanager")
    text = "\n" + "\n".join(lines)
    if capture is not None:
        with capture.global_and_fixture_disabled():
            print(text)
    else:
        print(text)




async def test_provider_error_body_on_the_lookup_before_resending_stays_out_of_failures_and_logs(
        encrypted_providers: tuple[EncryptedStack, Providers]) -> None:
    encrypted, providers = encrypted_providers
    canary = Canary(7)
    needles = canary.strings()
    app = create_app(encrypted.settings, client=encrypted.client, deps=encrypted.deps)
    with captured_logs(encrypted.settings) as log_lines:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            run = Run(http, encrypted, providers)
            for _ in range(2):  # the send (ambiguous 500), then the look-up before re-sending
                providers.twilio.fail_next(500, twilio_error(500, 20500, f"Internal error for {canary.phone}"))
            case_id = await run.post_event(canary, EventType.no_show)
            await run.messages(case_id)  # the third attempt gets through
    history = await encrypted.plain_client.get_workflow_handle(case_id).fetch_history()
    await encrypted.client.get_workflow_handle(case_id).terminate(reason="test finished")
    assert len(providers.twilio.calls("POST", "/Messages.json")) >= 1
    hits = {
        "logs": find("".join(log_lines), needles),
        "history without the codec": find(b"".join(e.SerializeToString() for e in history.events), needles),
    }
    assert hits == {"logs": [], "history without the codec": []}
