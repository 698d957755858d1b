"""Mailchimp end to end on a real Temporal server with the real worker and the in-process API: the GET ping
Mailchimp sends when the webhook is saved is answered, an audience unsubscribe posted to /webhooks/mailchimp
stops every later email to that address (an email-only customer gets nothing; one with a phone only SMS), and
the reactivation tag written at an unrecovered close reaches Mailchimp for the consenting customer only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest_asyncio
from temporalio.client import Client

from connectors.mailchimp.settings import MailchimpSettings
from domain.addresses import address_key
from domain.models import EventType, Stage
from policies.schema import MailchimpAudience, PolicyFile, ReactivationRules
from tests.connectors.cases_mailchimp import KEY, SECRET
from tests.engine.conftest import Stack
from tests.fakes.mailchimp_fake import FakeMailchimp, audience_webhook
from tests.helpers import appointment, default_program, event, eventually, fast_policy, local_settings
from workers.api.app import create_app
from workers.dependencies import build_dependencies
from workers.intake.cases import CaseService
from workers.worker import build_worker

LIST = "a6b5da1054"
TAG = "missed-appointment"


@dataclass
class Env:
    http: httpx.AsyncClient
    stack: Stack
    mailchimp: FakeMailchimp


def policy() -> PolicyFile:
    p = fast_policy()
    program = default_program(p)
    for seq in program.sequences.values():
        seq.steps = seq.steps[:1]  # one message, then the short reply wait, then an unrecovered close
    program.crm.writable_fields.append("reactivation_list")
    program.reactivation = ReactivationRules(crm_field="reactivation_list",
                                             mailchimp=MailchimpAudience(list_id=LIST, tag=TAG))
    return p


@pytest_asyncio.fixture
async def mc(client: Client, task_queue: str, tmp_path: Path) -> AsyncIterator[Env]:
    import yaml

    policy_path = tmp_path / "policy.yaml"
    policy_path.write_text(yaml.safe_dump(policy().model_dump(mode="json"), sort_keys=False))
    with FakeMailchimp(KEY) as fake:
        settings = local_settings(tmp_path / "data", task_queue=task_queue, policy_file=policy_path,
                                  mailchimp=MailchimpSettings(api_key=KEY, base_url=f"{fake.base_url}/3.0",
                                                              webhook_secret=SECRET))
        deps = build_dependencies(settings)
        worker = build_worker(client, deps, task_queue=task_queue)
        task = asyncio.create_task(worker.run())
        app = create_app(settings, client=client, deps=deps)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            yield Env(http, Stack(client, deps, CaseService(client, deps), worker, policy_path), fake)
        await worker.shutdown()
        await asyncio.gather(task, return_exceptions=True)


async def unsubscribe(mc: Env, email: str) -> None:
    response = await mc.http.post(f"/webhooks/mailchimp?secret={SECRET}",
                                  content=audience_webhook("unsubscribe", email),
                                  headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200, response.text


async def final_stage(mc: Env, case_id: str) -> Stage:
    state = await asyncio.wait_for(mc.stack.cases.handle(case_id).result(), timeout=60)
    return state.stage  # type: ignore[no-any-return, attr-defined]


async def test_the_webhook_ping_is_answered_and_a_wrong_secret_refused(mc: Env) -> None:
    assert (await mc.http.get("/webhooks/mailchimp")).status_code == 200
    assert (await mc.http.get("/webhooks/events")).status_code == 405
    assert (await mc.http.get("/webhooks/nosuch")).status_code == 404
    refused = await mc.http.post("/webhooks/mailchimp?secret=guess", content=audience_webhook("unsubscribe", "a@b.co"),
                                  headers={"content-type": "application/x-www-form-urlencoded"})
    assert refused.status_code == 401


async def test_an_unsubscribe_stops_later_email_and_only_the_consenting_customer_is_tagged(mc: Env) -> None:
    email_only = appointment(email="only.mail@example.com", phone=None, timezone="UTC")
    unsubscribed = appointment(email="left.list@example.com")
    consenting = appointment(email="still.in@example.com")
    for appt in (email_only, unsubscribed, consenting):
        mc.mailchimp.add_member(LIST, appt.contact.email or "")
    await unsubscribe(mc, "Only.Mail@Example.com")
    await unsubscribe(mc, "left.list@example.com")

    cases = [(await mc.stack.cases.submit_event(event(a, EventType.no_show))).case_id
             for a in (email_only, unsubscribed, consenting)]
    assert all(cases)
    stages = [await final_stage(mc, str(c)) for c in cases]
    outbox = mc.stack.deps.outbox
    assert [m for m in outbox.messages(str(cases[0])) if m["channel"] == "email"] == []
    assert [m["channel"] for m in outbox.messages(str(cases[1]))] == ["sms"]
    assert stages[1] == stages[2] == Stage.unrecovered
    await eventually(lambda: asyncio.sleep(0, mc.mailchimp.tags(LIST, "still.in@example.com")), lambda t: t == [TAG])
    assert mc.mailchimp.tags(LIST, "left.list@example.com") == []
    assert mc.mailchimp.tags(LIST, "only.mail@example.com") == []


async def _black_hole(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()
    writer.close()


async def test_an_unsubscribe_holds_before_the_ack_while_temporal_is_down(tmp_path: Path, task_queue: str) -> None:
    hole = await asyncio.start_server(_black_hole, "127.0.0.1", 0)
    down = await Client.connect(f"127.0.0.1:{hole.sockets[0].getsockname()[1]}", lazy=True)
    settings = local_settings(tmp_path / "data", task_queue=task_queue,
                              mailchimp=MailchimpSettings(webhook_secret=SECRET))
    deps = build_dependencies(settings)
    app = create_app(settings, client=down, deps=deps)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                     base_url="http://test") as http:
            r = await http.post(f"/webhooks/mailchimp?secret={SECRET}",
                                content=audience_webhook("cleaned", "gone@example.com", member_id=""),
                                headers={"content-type": "application/x-www-form-urlencoded"})
            assert r.status_code == 202 and r.json()["queued"] is True, r.text
            key = address_key("gone@example.com", settings.auth.id_salt)
            assert deps.consent.is_blocked(key, "email")  # nothing has been applied from the queue yet
    finally:
        hole.close()
