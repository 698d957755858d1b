"""A rehearsal of `docker compose up` without docker: the engine's processes exactly as docker-compose.yml
describes them (its `command:` entries and `environment:`, plus .env.example filled with test values), on a
throw-away Postgres and a Temporal dev server. The setup job prepares a new namespace, the worker and the API
start in production mode, one signed webhook becomes a case that writes its first message to the outbox, the
history holds no contact detail in plain text, and both processes' /metrics show it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from connectors.local.db import LocalDb
from connectors.local.engine import dispose
from connectors.standard_webhooks import sign
from domain.models import EventType
from tests.deploy.production_env import KEY, WEBHOOK_SECRET
from tests.deploy.variables import env_file_keys
from tests.e2e.conftest import free_port, stop, wait_http
from tests.helpers import appointment, default_program, event, fast_policy

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
# the values an operator writes into .env: every empty entry of .env.example must have one here
FILLED = {
    "POSTGRES_PASSWORD": "rehearsal-password",
    "NOSHOW_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "NOSHOW_REVIEWER_TOKENS": "rehearsal-reviewer=reviewer@example.com:*",
    "NOSHOW_OWNER_TOKENS": "rehearsal-owner=owner@example.com:*",
    "NOSHOW_ADMIN_TOKEN": "rehearsal-admin",
    "NOSHOW_LINK_SECRET": "rehearsal-link-secret",
    "NOSHOW_ID_SALT": "rehearsal-salt",
    "NOSHOW_ENCRYPTION_KEY": KEY,
    "NOSHOW_PUBLIC_BASE_URL": "https://noshow.example.com",
}


def compose_service(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"][name]  # type: ignore[no-any-return]


def host_env(service: str, where: dict[str, str]) -> dict[str, str]:
    """The service's environment as compose gives it, with what names a container's place (a host name, a mount,
    a volume, a port) replaced by this machine's: only the keys in `where` change, every other value is compose's."""
    compose_env = {k: str(v) for k, v in compose_service(service)["environment"].items()}
    placed = {"TEMPORAL_ADDRESS", "NOSHOW_DATABASE_URL", "NOSHOW_POLICY_FILE", "NOSHOW_DATA_DIR", "NOSHOW_API_HOST",
              "NOSHOW_API_PORT", "NOSHOW_METRICS_HOST", "NOSHOW_METRICS_PORT", "NOSHOW_TEMPORAL_METRICS_PORT"}
    assert set(compose_env) - placed, "compose sets nothing the rehearsal takes as is"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("NOSHOW_", "TEMPORAL_", "TWILIO_", "SENDGRID_"))}
    dotenv = env_file_keys(ROOT / ".env.example")
    assert {k for k, v in dotenv.items() if not v} == set(FILLED), ".env.example and the rehearsal's values differ"
    env = {**base, **{k: v or FILLED[k] for k, v in dotenv.items()}, **compose_env}
    for key, value in where.items():
        assert key in placed or key in dotenv, f"{key} is not a per-host value"
        env[key] = value
    assert env["NOSHOW_ENV"] == "production"
    return env


def argv(service: str) -> list[str]:
    command = [str(c) for c in compose_service(service)["command"]]
    assert command[0] == "noshow"
    return [str(Path(sys.executable).parent / "noshow"), *command[1:]]


def policy_file(tmp_path: Path) -> Path:
    policy = fast_policy()
    default_program(policy).review.high_value_threshold = None  # straight to the first message
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy.model_dump(mode="json"), sort_keys=False))
    return path


def scrape(url: str) -> str:
    return httpx.get(url, timeout=5).text


async def test_the_compose_processes_take_a_case_from_webhook_to_outbox(tmp_path: Path, env: WorkflowEnvironment,
                                                                        pg_url: str) -> None:
    namespace = f"rehearsal-{uuid.uuid4().hex[:8]}"
    api_port, metrics_port, sdk_port = free_port(), free_port(), free_port()
    where = {"TEMPORAL_ADDRESS": env.client.service_client.config.target_host, "TEMPORAL_NAMESPACE": namespace,
             "NOSHOW_DATABASE_URL": pg_url, "NOSHOW_POLICY_FILE": str(policy_file(tmp_path))}
    # test-speed knobs only: figures read every second, a webhook answered with its effects however loaded the box
    speed = {"NOSHOW_METRICS_REFRESH_SECONDS": "1", "NOSHOW_API_ACK_SECONDS": "30"}
    procs: list[subprocess.Popen[bytes]] = []

    def start(service: str, extra: dict[str, str]) -> subprocess.Popen[bytes]:
        data = tmp_path / service
        data.mkdir()
        e = {**host_env(service, {**where, "NOSHOW_DATA_DIR": str(data), **extra}), **speed}
        proc = subprocess.Popen(argv(service), env=e, cwd=data, stdout=(tmp_path / f"{service}.log").open("wb"),
                                stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(proc)
        return proc

    try:
        setup = start("temporal-setup", {})
        assert await asyncio.to_thread(setup.wait, 120) == 0, (tmp_path / "temporal-setup.log").read_text()
        assert "is ready for the engine" in (tmp_path / "temporal-setup.log").read_text()

        worker = start("worker", {"NOSHOW_METRICS_HOST": "127.0.0.1", "NOSHOW_METRICS_PORT": str(metrics_port),
                                  "NOSHOW_TEMPORAL_METRICS_PORT": str(sdk_port)})
        api = start("api", {"NOSHOW_API_HOST": "127.0.0.1", "NOSHOW_API_PORT": str(api_port)})
        await asyncio.to_thread(wait_http, f"http://127.0.0.1:{metrics_port}/metrics", 90, worker)
        await asyncio.to_thread(wait_http, f"http://127.0.0.1:{api_port}/ready", 90, api)

        appt = appointment(email=None)
        ev = event(appt, EventType.no_show)
        body = json.dumps({"type": "appointment.no_show", "timestamp": datetime.now(UTC).isoformat(),
                           "data": ev.model_dump(mode="json")}).encode()
        msg_id, ts = f"msg_{uuid.uuid4().hex}", int(time.time())
        async with httpx.AsyncClient(timeout=60) as http:
            resp = await http.post(f"http://127.0.0.1:{api_port}/webhooks/events", content=body, headers={
                "content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(ts),
                "webhook-signature": sign(WEBHOOK_SECRET, msg_id, ts, body)})
        assert resp.status_code == 200, resp.text
        [outcome] = resp.json()["events"]
        case_id = outcome["case_id"]

        db = LocalDb(pg_url)

        def outbox() -> list[tuple[str, str]]:
            with db.connect() as conn:
                return [(str(r[0]), str(r[1])) for r in conn.execute(
                    "SELECT channel, recipient FROM outbox WHERE case_id = ?", (case_id,))]

        deadline = time.monotonic() + 90
        while not (sent := await asyncio.to_thread(outbox)):
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            await asyncio.sleep(0.5)
        assert sent[0] == ("sms", appt.contact.phone)

        # production mode's key is in use: the raw history never shows the contact's phone or name
        raw = await Client.connect(where["TEMPORAL_ADDRESS"], namespace=namespace)
        history = await raw.get_workflow_handle(case_id).fetch_history()
        raw_bytes = history.to_json().encode()
        assert appt.contact.phone and appt.contact.phone.encode() not in raw_bytes
        assert b"Pat Example" not in raw_bytes
        started = history.events[0].workflow_execution_started_event_attributes
        assert all(p.metadata["encoding"] == b"binary/encrypted" for p in started.input.payloads)

        api_metrics = await asyncio.to_thread(scrape, f"http://127.0.0.1:{api_port}/metrics")
        # the route's template, never the path a caller sent
        assert 'noshow_http_requests_total{method="POST",route="/webhooks/{provider}",status="200"} 1.0' in api_metrics
        deadline = time.monotonic() + 30
        while 'noshow_messages_total{channel="sms",outcome="sent"}' not in (
                worker_metrics := await asyncio.to_thread(scrape, f"http://127.0.0.1:{metrics_port}/metrics")):
            assert time.monotonic() < deadline, worker_metrics
            await asyncio.sleep(0.5)
        sdk_metrics = await asyncio.to_thread(scrape, f"http://127.0.0.1:{sdk_port}/metrics")
        assert "temporal_workflow_completed_total" in sdk_metrics or "temporal_request_total" in sdk_metrics
        assert appt.contact.phone not in api_metrics + worker_metrics + sdk_metrics
        dispose(pg_url)
    finally:
        for proc in procs:
            stop(proc)
