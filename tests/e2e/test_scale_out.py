"""The scale-out rehearsal: two API processes and two worker processes on one Postgres database and one Temporal
server, a burst of signed events, replies and STOPs to both APIs at once, one worker and one API SIGKILLed
mid-burst (the worker restarted, the requests that failed on the dead API retried on the other, as a load
balancer would), then the guarantees checked in the store and in Temporal."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from temporalio.testing import WorkflowEnvironment

from connectors.local.db import LocalDb
from connectors.local.engine import dispose
from connectors.standard_webhooks import sign
from domain.ids import case_id_for
from domain.models import Appointment, EventType
from tests.e2e.conftest import free_port, stack_env, stop, wait_http
from tests.helpers import appointment, default_program, event, fast_policy, unique_task_queue
from workers.dev.demo import daytime_contact
from workers.settings import DEV_WEBHOOK_SECRET

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(240)]

ADMIN = {"Authorization": "Bearer dev-admin-token"}
DOUBLED = 10      # appointments each delivered to both APIs
STOPPERS = 4      # contacts that STOP through one API while their event arrives at the other
CAPPED = 5        # concurrent cases of one contact, over a cap of 3 a day
CAP = 3
SALT = "rehearsal-salt"
EXEMPT = ("consent-", "help-")  # answers the customer asked for: outside caps, allowed after a STOP


@dataclass
class Figures:
    events: int = 0
    replies: int = 0
    stops: int = 0
    kills: int = 0
    retried: int = 0
    messages: int = 0
    violations: list[str] = field(default_factory=list)


class Replicas:
    """The API replicas behind a pretend load balancer: a request that cannot reach one goes to the next."""

    def __init__(self, urls: list[str], figures: Figures) -> None:
        self.urls = urls
        self.alive = list(urls)
        self.figures = figures
        self.http = httpx.AsyncClient(timeout=30)

    async def post(self, first: int, path: str, content: bytes, headers: dict[str, str]) -> httpx.Response:
        order = [self.urls[first]] + [u for u in self.urls if u != self.urls[first]]
        last: Exception | None = None
        for attempt in range(12):
            for url in order:
                if url not in self.alive:
                    continue
                try:
                    resp = await self.http.post(url + path, content=content, headers=headers)
                except httpx.TransportError as exc:  # the replica died under the request: retry elsewhere
                    last = exc
                    self.figures.retried += 1
                    continue
                if resp.status_code >= 500:
                    last = AssertionError(f"{path} answered {resp.status_code}")
                    self.figures.retried += 1
                    continue
                return resp
            await asyncio.sleep(0.2 * (attempt + 1))
        raise AssertionError(f"no replica took {path}: {last!r}")


def envelope(appt: Appointment, event_id: str) -> bytes:
    ev = event(appt, EventType.no_show, event_id=event_id)
    return json.dumps({"type": EventType.no_show.value, "timestamp": datetime.now(UTC).isoformat(),
                       "data": ev.model_dump(mode="json")}).encode()


def signed(body: bytes, msg_id: str) -> dict[str, str]:
    ts = int(time.time())
    return {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": sign(DEV_WEBHOOK_SECRET, msg_id, ts, body)}


def reply_body(text: str, sender: str, case_id: str = "-") -> tuple[bytes, dict[str, str]]:
    # "-" is no case id: the reply is routed by its sender's address, as an SMS would be
    return json.dumps({"case_id": case_id, "text": text, "sender": sender}).encode(), \
        {"content-type": "application/json", **ADMIN}


async def poll(fn: Callable[[], Awaitable[Any]], check: Callable[[Any], bool], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    value = await fn()
    while not check(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout}s (last: {value!r})")
        await asyncio.sleep(0.3)
        value = await fn()
    return value


def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


async def wait_log(log: Path, word: str, times: int, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and log.read_text(errors="replace").count(word) >= times:
            return
        if proc.poll() is not None:
            raise AssertionError(f"{log.name}: exited with {proc.returncode}: {log.read_text()[-2000:]}")
        await asyncio.sleep(0.2)
    raise AssertionError(f"{log.name}: no {word} within {timeout}s")


def policy_file(tmp_path: Path) -> Path:
    policy = fast_policy()
    program = default_program(policy)
    program.review.high_value_threshold = None  # straight to outreach: the rehearsal is about the send path
    program.rebooking.follow_new_appointment = False
    program.send.caps = [type(program.send.caps[0])(count=CAP, hours=24)]
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy.model_dump(mode="json"), sort_keys=False))
    return path


def parse_at(text: str) -> datetime:
    at = datetime.fromisoformat(str(text))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


async def test_two_apis_two_workers_one_postgres_survive_kills(tmp_path: Path, env: WorkflowEnvironment,
                                                               pg_url: str) -> None:
    figures = Figures()
    temporal = env.client.service_client.config.target_host
    queue = unique_task_queue()
    common = {"NOSHOW_DATABASE_URL": pg_url, "TEMPORAL_ADDRESS": temporal,
              "TEMPORAL_NAMESPACE": env.client.namespace, "NOSHOW_TASK_QUEUE": queue,
              "NOSHOW_POLICY_FILE": str(policy_file(tmp_path)), "NOSHOW_WEBHOOK_SECRET": DEV_WEBHOOK_SECRET,
              "NOSHOW_ID_SALT": SALT, "NOSHOW_LINK_SECRET": "rehearsal-link-secret",
              "NOSHOW_MAX_CACHED_WORKFLOWS": "0"}
    procs: list[subprocess.Popen[bytes]] = []
    db = LocalDb(pg_url)
    try:
        api_ports = [free_port(), free_port()]
        api_envs = [stack_env(tmp_path / f"api{i}", **common, NOSHOW_API_HOST="127.0.0.1",
                              NOSHOW_API_PORT=str(p), NOSHOW_PUBLIC_BASE_URL=f"http://127.0.0.1:{p}")
                    for i, p in enumerate(api_ports)]
        worker_envs = [stack_env(tmp_path / f"worker{i}", **common) for i in range(2)]
        worker_logs = [tmp_path / f"worker{i}.log" for i in range(2)]
        workers = [start([sys.executable, "-m", "workers.worker"], e, log)
                   for e, log in zip(worker_envs, worker_logs, strict=True)]
        apis = [start([sys.executable, "-m", "workers.api"], e, tmp_path / f"api{i}.log")
                for i, e in enumerate(api_envs)]
        procs.extend(workers + apis)
        for w, log in zip(workers, worker_logs, strict=True):
            await wait_log(log, "worker_started", 1, w)
        for p, a in zip(api_ports, apis, strict=True):
            await asyncio.to_thread(wait_http, f"http://127.0.0.1:{p}/ready", 90, a)
        lb = Replicas([f"http://127.0.0.1:{p}" for p in api_ports], figures)

        acked_events: dict[str, set[str]] = {}       # appointment id -> case ids the APIs answered with
        acked_replies: list[str] = []                # reply ids the APIs acknowledged
        stop_acked: dict[str, datetime] = {}         # address -> when its STOP was acknowledged
        stop_replies: set[str] = set()

        async def deliver(first: int, appt: Appointment, event_id: str, msg_id: str) -> None:
            body = envelope(appt, event_id)
            resp = await lb.post(first, "/webhooks/events", body, signed(body, msg_id))
            assert resp.status_code in (200, 202), resp.text
            figures.events += 1
            ack = resp.json()
            # 202: written down and queued (past the replica's inline limit); the checks below see it applied
            assert ack["events"] or ack["duplicate"] or (resp.status_code == 202 and ack["intake_id"]), ack
            for outcome in ack["events"]:
                assert outcome["status"] in ("accepted", "duplicate"), outcome
                acked_events.setdefault(appt.appointment_id, set()).add(outcome["case_id"])
            # a re-delivered webhook id is answered from the receipt log: its case is the appointment's case
            acked_events.setdefault(appt.appointment_id, set()).add(case_id_for(appt.source, appt.appointment_id,
                                                                                SALT))

        async def say(first: int, text: str, sender: str, case_id: str = "-") -> dict[str, Any]:
            body, headers = reply_body(text, sender, case_id)
            resp = await lb.post(first, "/inbound/local", body, headers)
            assert resp.status_code == 200, resp.text
            outcome: dict[str, Any] = resp.json()
            acked_replies.append(outcome["reply_id"])
            figures.replies += 1
            if outcome["opted_out"]:
                figures.stops += 1
                stop_replies.add(outcome["reply_id"])
                stop_acked.setdefault(sender, datetime.now(UTC))
            return outcome

        def contact(**kw: Any) -> Appointment:
            return appointment(email=None, **kw)

        doubled = [contact() for _ in range(DOUBLED)]
        stoppers = [contact() for _ in range(STOPPERS)]
        phone, zone = daytime_contact()
        capped = [contact(contact_id="c-capped", phone=phone, timezone=zone) for _ in range(CAPPED)]
        racers = [contact(calendar_id="cal-race") for _ in range(2)]

        # wave 1: every doubled appointment to both APIs at once (half re-sent under one webhook id, half as two
        # deliveries of one event), each STOP to one API while its contact's event goes to the other
        wave1: list[Awaitable[Any]] = []
        for i, appt in enumerate(doubled):
            event_id, msg = f"evt-{uuid.uuid4().hex[:12]}", f"msg_{uuid.uuid4().hex}"
            wave1 += [deliver(0, appt, event_id, msg), deliver(1, appt, event_id,
                                                              msg if i % 2 else f"msg_{uuid.uuid4().hex}")]
        for appt in stoppers:
            assert appt.contact.phone
            wave1 += [deliver(0, appt, f"evt-{uuid.uuid4().hex[:12]}", f"msg_{uuid.uuid4().hex}"),
                      say(1, "STOP", appt.contact.phone)]
        await asyncio.gather(*wave1)

        # wave 2: the capped contact's cases and the racers, spread over both APIs, with a worker and an API
        # SIGKILLed while the requests are in flight
        async def kill_mid_burst() -> None:
            await asyncio.sleep(0.4)
            for proc in (workers[0], apis[1]):
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                figures.kills += 1
            lb.alive.remove(lb.urls[1])

        wave2: list[Awaitable[Any]] = [kill_mid_burst()]
        for i, appt in enumerate(capped + racers):
            wave2.append(deliver(i % 2, appt, f"evt-{uuid.uuid4().hex[:12]}", f"msg_{uuid.uuid4().hex}"))
        for appt in doubled[:4]:  # replies by address, while the kills happen
            assert appt.contact.phone
            wave2.append(say(1, "I was stuck in traffic, sorry", appt.contact.phone))
        await asyncio.gather(*wave2)
        assert figures.kills == 2
        workers[0] = start([sys.executable, "-m", "workers.worker"], worker_envs[0], worker_logs[0])
        procs.append(workers[0])
        await wait_log(worker_logs[0], "worker_started", 2, workers[0])

        # wave 3, on the surviving API: the racers ask to rebook and both take the first slot offered at once
        racer_cases = [next(iter(acked_events[a.appointment_id])) for a in racers]

        async def stage(case_id: str) -> str | None:
            resp = await lb.http.get(f"{lb.alive[0]}/cases/{case_id}", headers=ADMIN)
            return resp.json().get("stage") if resp.status_code == 200 else None

        async def wait_stage(ok: Callable[[Any], bool], what: str) -> None:
            for case_id in racer_cases:
                await poll(lambda c=case_id: stage(c), ok, 60, what)  # type: ignore[misc]

        await wait_stage(lambda s: s == "recovering", "racer messaged")
        await asyncio.gather(*[say(0, "yes please, can we find another time?", a.contact.phone or "", c)
                               for a, c in zip(racers, racer_cases, strict=True)])
        await wait_stage(lambda s: s in ("offering", "confirmed"), "racer offered")
        await asyncio.gather(*[say(0, "1", a.contact.phone or "", c) for a, c in zip(racers, racer_cases, strict=True)])
        await wait_stage(lambda s: s not in ("offering", "booking", None), "racer booked or told the slot went")

        # the rest settles: every live case that may write has written, and nothing new for a while
        def outbox_count() -> int:
            with db.connect() as conn:
                row = conn.execute("SELECT COUNT(*) FROM outbox").fetchone()
            return int(row[0]) if row else 0

        # nothing lost: every case free to write (not stopped, not over the cap) sends its first message, also
        # the cases whose first send the killed worker had in hand
        writers = {case_id_for(a.source, a.appointment_id, SALT) for a in doubled + racers}

        def first_sent() -> set[str]:
            with db.connect() as conn:
                return {str(r[0]) for r in conn.execute(
                    "SELECT case_id FROM outbox WHERE template_id LIKE 'missed_first%'")}

        try:
            await poll(lambda: asyncio.to_thread(first_sent), lambda got: writers <= got, 90, "first messages")
        except AssertionError:
            missing = writers - await asyncio.to_thread(first_sent)
            figures.violations += [f"{c}: no first message (stage {await stage(c)})" for c in sorted(missing)]
        last, quiet_since = -1, time.monotonic()
        while time.monotonic() - quiet_since < 4:
            now = await asyncio.to_thread(outbox_count)
            if now != last:
                last, quiet_since = now, time.monotonic()
            await asyncio.sleep(0.5)

        # ----------------------------------------------------------------- the checks
        v = figures.violations
        with db.connect() as conn:
            outbox = [dict(r) for r in conn.execute(
                "SELECT message_id, case_id, contact_key, recipient, template_id, created_at FROM outbox")]
            intents = [dict(r) for r in conn.execute("SELECT message_id, case_id, status FROM send_intents")]
            bookings = conn.execute(
                "SELECT calendar_id, start_at, COUNT(*) FROM appointments WHERE case_id IS NOT NULL AND "
                "status = 'booked' GROUP BY calendar_id, start_at").fetchall()
            inbound = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT reply_id, case_id, routed FROM inbound")}
            tasks = {r[0] for r in conn.execute("SELECT reply_id FROM staff_tasks")}
            opt_outs = {r[0] for r in conn.execute(
                "SELECT event_id FROM consent_events WHERE status = 'opted_out'")}
        figures.messages = len(outbox)

        all_appts = doubled + stoppers + capped + racers
        for appt in all_appts:  # one case per appointment, in the answers and in Temporal
            cases = acked_events.get(appt.appointment_id, set())
            if len(cases) != 1:
                v.append(f"appointment answered with {len(cases)} case ids")
                continue
            case_id = next(iter(cases))
            runs = [wf async for wf in env.client.list_workflows(f"WorkflowId = '{case_id}'")]
            if len(runs) != 1:
                v.append(f"{case_id}: {len(runs)} workflow runs")
        started = [wf async for wf in env.client.list_workflows(
            f"TaskQueue = '{queue}' AND WorkflowType = 'RecoveryCase'")]
        if len({wf.id for wf in started}) != len(all_appts):
            v.append(f"{len({wf.id for wf in started})} cases in Temporal for {len(all_appts)} appointments")

        steps = Counter((m["case_id"], str(m["template_id"]).split("@")[0]) for m in outbox
                        if not str(m["message_id"]).startswith(EXEMPT))
        v += [f"{case}: {n} messages for step {step}" for (case, step), n in steps.items() if n > 1]
        if len({i["message_id"] for i in intents}) != len(intents):
            v.append("two send intents under one message id")
        sent_ids = {m["message_id"] for m in outbox}
        v += [f"{i['message_id']}: intent marked sent without an outbox row" for i in intents
              if i["status"] == "sent" and i["message_id"] not in sent_ids]

        for address, acked in stop_acked.items():
            late = [m for m in outbox if m["recipient"] == address and parse_at(m["created_at"]) > acked
                    and not str(m["message_id"]).startswith(EXEMPT)]
            v += [f"{m['message_id']}: sent after the STOP was acknowledged" for m in late]
            confirmations = [m for m in outbox if m["recipient"] == address
                             and str(m["message_id"]).startswith("consent-")]
            if len(confirmations) != 1:
                v.append(f"a STOP got {len(confirmations)} confirmations")

        counted = [m for m in outbox if not str(m["message_id"]).startswith(EXEMPT)]
        for key in ("contact_key", "recipient"):
            for n in Counter(m[key] for m in counted).values():
                if n > CAP:
                    v.append(f"{n} messages to one {key} under a cap of {CAP}")
        capped_sent = sum(1 for m in counted if m["recipient"] == phone)
        if capped_sent != CAP:
            v.append(f"the capped contact got {capped_sent} messages, expected exactly {CAP}")

        v += [f"{n} engine bookings on one slot of {cal}" for cal, _, n in bookings if n > 1]
        racer_bookings = sum(n for cal, _, n in bookings if cal == "cal-race")
        if racer_bookings < 1:
            v.append("neither racer booked: the booking race did not happen")

        # nothing lost: every acknowledged reply reached a case or a staff task, every acknowledged STOP is in the
        # consent ledger for its address (honoured at the API whether or not its case had started)
        for reply_id in acked_replies:
            if reply_id not in inbound:
                v.append(f"{reply_id}: acknowledged but never recorded")
            elif reply_id in stop_replies:
                if f"{reply_id}:address" not in opt_outs:
                    v.append(f"{reply_id}: STOP acknowledged but not in the consent ledger")
            elif inbound[reply_id][1] != "case" and reply_id not in tasks:
                v.append(f"{reply_id}: routed {inbound[reply_id][1]} and no staff task exists")

        print(f"\nscale-out rehearsal: events={figures.events} replies={figures.replies} stops={figures.stops} "
              f"kills={figures.kills} retried={figures.retried} messages={figures.messages} "
              f"cases={len(started)} bookings={sum(n for _, _, n in bookings)} violations={len(v)}")
        kinds = Counter("confirmation/help" if str(m["message_id"]).startswith(EXEMPT)
                        else str(m["template_id"]).split("@")[0] for m in outbox)
        print("  messages by step:", dict(sorted(kinds.items())))
        for line in v:
            print("  violation:", line)
        assert not v, v
    finally:
        for proc in procs:
            stop(proc, signal.SIGTERM)
        dispose(pg_url)
