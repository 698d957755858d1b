"""PII canaries through every provider payload: each documented webhook fixture, with every name, email, phone
and free-text field replaced by a made-up person's, is posted signed to its route (plus an SMS and an inbound
email from them); then workflow ids, search attributes, the reporting ledger, the webhook hand-off queue, the
unknown-type counts and the logs must not hold any of it. Designated stores (the CRM's contacts, the messages,
the replies) must hold it, which proves the canaries travelled and the search sees them.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client

from tests.connectors.test_sendgrid import BOUNDARY, _multipart
from tests.engine.conftest import settings_for
from tests.fuzz.test_provider_webhooks import PROVIDER_ENV, ProviderApi, post_signed
from tests.helpers import fast_policy, unique_task_queue
from tests.security.sweep import Canary, captured_logs, find, sqlite_tables
from workers.api.app import create_app
from workers.dependencies import build_dependencies
from workers.worker import build_worker

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parent.parent / "connectors" / "fixtures"
ROUTES = {"calcom": "calcom", "calendly": "calendly", "zoom": "zoom", "standard": "events"}
NAME_KEYS = re.compile(r"^(name|first_?name|last_?name|full_?name|user_?name|display_?name|firstName|lastName|"
                       r"attendee_?name|invitee_?name|participant_?name)$", re.I)
FREE_TEXT_KEYS = re.compile(r"^(title|summary|subject|description|notes?|answer|text|topic|eventTypeTitle|"
                            r"additionalNotes|cancellation_?reason|reason|message|type_?name)$", re.I)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.I)
PHONE = re.compile(r"^\+?[\d\s().-]{7,20}$")
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)$")


def shift_for(document: Any) -> timedelta:
    """How far to move a fixture's times so its earliest lies two hours ago."""
    times = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in re.findall(
        r'"(\d{4}-\d\d-\d\dT[^"]+)"', json.dumps(document)) if ISO_TIME.match(t)]
    return (datetime.now(UTC) - timedelta(hours=2) - min(times)) if times else timedelta(0)


def with_canary(value: Any, canary: Canary, shift: timedelta, key: str = "") -> Any:
    """`value` with every string that could identify a person replaced by the canary's, its times by `shift`."""
    if isinstance(value, dict):
        return {k: with_canary(v, canary, shift, k) for k, v in value.items()}
    if isinstance(value, list):
        return [with_canary(v, canary, shift, key) for v in value]
    if not isinstance(value, str):
        return value
    if ISO_TIME.match(value):  # the documented times moved to today, so the engine acts on them
        return (datetime.fromisoformat(value.replace("Z", "+00:00")) + shift).isoformat()
    if EMAIL.match(value):
        return canary.email
    if "phone" in key.lower() or (PHONE.match(value) and sum(c.isdigit() for c in value) >= 9 and "+" in value):
        return canary.phone
    if NAME_KEYS.match(key):
        return canary.name
    if FREE_TEXT_KEYS.match(key):
        return f"Consultation - {canary.name} ({canary.email}, {canary.phone})"
    return value


@pytest_asyncio.fixture
async def api(client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[ProviderApi,
                                                                                                         Any]]:
    for name, value in PROVIDER_ENV.items():
        monkeypatch.setenv(name, value)
    task_queue = unique_task_queue()
    policy = fast_policy()
    # every source the fixtures name is managed, so their events start cases and travel as far as they can
    policy.sources += [policy.sources[0].model_copy(update={"source": name})
                       for name in ("calcom", "calendly", "zoom", "clinic_ehr")]
    settings = settings_for(tmp_path, task_queue, policy)
    deps = build_dependencies(settings)
    worker = build_worker(client, deps, task_queue=task_queue)
    running = asyncio.create_task(worker.run())
    app = create_app(settings, client=client, deps=deps)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                     base_url="http://test") as http:
            yield ProviderApi(http, settings.api.public_base_url.rstrip("/"),
                              settings.auth.webhook_secret.get_secret_value(), []), app
            await app.state.noshow.handoff.wait_idle()
    finally:
        await worker.shutdown()
        await asyncio.gather(running, return_exceptions=True)


def fixtures() -> list[tuple[str, Path]]:
    return [(route, path) for folder, route in ROUTES.items() for path in sorted((FIXTURES / folder).glob("*.json"))]


async def test_no_provider_payload_leaks_pii_into_ids_attributes_ledger_queue_or_logs(
        api: tuple[ProviderApi, Any], client: Client) -> None:
    provider_api, app = api
    st = app.state.noshow
    canaries = [Canary(n) for n in range(20, 20 + len(fixtures()) + 2)]
    needles = {f"canary{c.n} {label}": value for c in canaries for label, value in c.strings().items()
               if label not in ("phone national digits",)}
    statuses: dict[str, int] = {}
    with captured_logs(st.settings) as log_lines:
        for canary, (route, path) in zip(canaries, fixtures(), strict=False):
            document = json.loads(path.read_text())
            body = json.dumps(with_canary(document, canary, shift_for(document))).encode()
            response = await post_signed(provider_api, route, body)
            statuses[f"{route}/{path.name}"] = response.status_code
            assert response.status_code < 500, (path.name, response.text[:300])
            for label, needle in canary.strings().items():
                assert needle.lower() not in response.text.lower(), (path.name, label)
        sms, mail = canaries[-2], canaries[-1]
        form = urlencode([("AccountSid", "AC" + "1" * 32), ("Body", f"this is {sms.name}, please call"),
                          ("From", sms.phone), ("MessageSid", "SM" + uuid.uuid4().hex), ("To", "+15551230000")])
        assert (await post_signed(provider_api, "twilio", form.encode(),
                                  "application/x-www-form-urlencoded")).status_code == 200
        parse = {"headers": f"Message-ID: <{uuid.uuid4().hex}@mail.example.com>\nFrom: {mail.name} <{mail.email}>",
                 "from": f"{mail.name} <{mail.email}>", "to": "replies@parse.example.com",
                 "subject": f"From {mail.name}", "text": f"{mail.name} here, {mail.phone}",
                 "envelope": json.dumps({"to": ["replies@parse.example.com"], "from": mail.email})}
        answered = await post_signed(provider_api, "sendgrid_parse", _multipart(parse),
                                     f"multipart/form-data; boundary={BOUNDARY}")
        assert answered.status_code == 200, answered.text
        await st.handoff.wait_idle()

    found: dict[str, list[str]] = {}
    query = f"TaskQueue = '{st.settings.temporal.task_queue}'"
    executions = [wf async for wf in client.list_workflows(query)]
    for wf in executions:
        found.setdefault("workflow ids", []).extend(find(wf.id, needles))
        found.setdefault("search attributes and memo", []).extend(
            find(wf.raw_info.SerializeToString(), needles) + find(repr(dict(wf.search_attributes)), needles))
    ledger_path = Path(st.settings.storage.ledger_db_url.removeprefix("sqlite:///"))
    for table, rows in sqlite_tables(ledger_path).items():
        found[f"ledger {table}"] = find(rows, needles)
    local = sqlite_tables(st.settings.storage.local_db_path)
    for table in ("webhook_intake", "webhook_unknown_types", "webhook_deliveries", "webhook_long_receipts",
                  "webhook_signed_digests", "verdicts", "known_bookings", "holds", "address_book"):
        if table in local:
            found[f"local.db {table}"] = find(local[table], needles)
    found["logs"] = find("".join(log_lines), needles)
    leaks = {sink: sorted(set(hits)) for sink, hits in found.items() if hits}
    assert leaks == {}, f"PII canaries outside designated stores: {leaks}"

    # controls: the canaries reached the stores that hold personal data by design, and cases started
    assert executions, statuses
    assert find(local.get("inbound", ""), {"sms": sms.name, "mail": mail.name}) == ["sms", "mail"]
    assert any(find(local.get("contacts", ""), {c.n: c.email for c in canaries[:-2]}))
    assert any(find("".join(log_lines), {"case": wf.id}) for wf in executions)
