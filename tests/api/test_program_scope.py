"""Program scope on a real Temporal server: a reviewer of one program neither lists, reads nor decides another
program's cases (404: they do not exist for it), sees only its program's reviews, and a Slack reviewer scoped to
one program cannot decide another's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio
from pydantic import SecretStr
from temporalio.client import Client

from connectors.contract import ReviewAction
from domain.models import EventType
from policies.schema import PolicyFile
from tests.api.conftest import ADMIN, Api, envelope
from tests.engine.conftest import Stack, settings_for
from tests.helpers import eventually, fast_policy
from workers.api.app import create_app
from workers.dependencies import build_dependencies
from workers.intake.cases import CaseService
from workers.intake.reviews import apply_slack_decision
from workers.worker import build_worker

DEFAULT = {"Authorization": "Bearer tok-default"}
DENTAL = {"Authorization": "Bearer tok-dental"}


def two_programs() -> PolicyFile:
    policy = fast_policy()
    default = next(p for p in policy.programs if p.name == "default")
    dental = default.model_copy(deep=True)
    dental.name = "dental"
    dental.match.appointment_types = ["cleaning"]
    policy.programs.insert(0, dental)
    return policy


@pytest_asyncio.fixture
async def scoped_api(client: Client, task_queue: str, tmp_path: Path) -> AsyncIterator[Api]:
    settings = settings_for(tmp_path, task_queue, two_programs())
    settings.auth = settings.auth.model_copy(update={
        "reviewer_tokens": SecretStr("tok-default=rev-default:default,tok-dental=rev-dental:dental")})
    deps = build_dependencies(settings)
    worker = build_worker(client, deps, task_queue=task_queue)
    task = asyncio.create_task(worker.run())
    app = create_app(settings, client=client, deps=deps)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        stack = Stack(client, deps, CaseService(client, deps), worker, settings.policy.file)  # type: ignore[arg-type]
        yield Api(http, stack, settings.auth.webhook_secret.get_secret_value())
    await worker.shutdown()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_reviewer_sees_and_decides_only_its_programs_cases(scoped_api: Api) -> None:
    api = scoped_api
    ids = {}
    for kind in ("consultation", "cleaning"):
        r = await api.post_event(envelope(EventType.booked, appointment_type=kind))  # no evidence: review
        ids[kind] = r.json()["events"][0]["case_id"]
    mine, theirs = ids["consultation"], ids["cleaning"]

    async def listed(headers: dict[str, str]) -> set[str]:
        return {c["case_id"] for c in (await api.http.get("/cases", headers=headers)).json()}

    await eventually(lambda: listed(ADMIN), lambda seen: {mine, theirs} <= seen)
    # other tests' cases share the server: each reviewer sees its own program's case and never the other's
    default_sees, dental_sees = await listed(DEFAULT), await listed(DENTAL)
    assert mine in default_sees and theirs not in default_sees
    assert theirs in dental_sees and mine not in dental_sees
    assert (await api.http.get(f"/cases/{mine}", headers=DEFAULT)).status_code == 200
    assert (await api.http.get(f"/cases/{theirs}", headers=DEFAULT)).status_code == 404
    pending = await eventually(lambda: api.http.get("/reviews", headers=ADMIN),
                               lambda r: {p["case_id"] for p in r.json()} >= {mine, theirs})
    review_of = {p["case_id"]: p["review_id"] for p in pending.json()}
    default_reviews = {p["case_id"] for p in (await api.http.get("/reviews", headers=DEFAULT)).json()}
    assert mine in default_reviews and theirs not in default_reviews
    refused = await api.http.post(f"/reviews/{theirs}/decision", headers=DEFAULT,
                                  json={"review_id": review_of[theirs], "decision": "approve"})
    assert refused.status_code == 404
    # Slack: a reviewer scoped to `default` presses a button on the dental case: nothing happens
    await apply_slack_decision(api.stack.cases, "U1:default", ReviewAction(
        case_id=theirs, decision="approve", reviewer="slack:U1", review_id=review_of[theirs]))
    state = (await api.http.get(f"/cases/{theirs}", headers=DENTAL)).json()
    assert state["stage"] == "awaiting_review"
    await apply_slack_decision(api.stack.cases, "U2:dental", ReviewAction(
        case_id=theirs, decision="reject", reviewer="slack:U2", review_id=review_of[theirs]))
    await eventually(lambda: api.http.get(f"/cases/{theirs}", headers=DENTAL),
                     lambda r: r.json()["stage"] != "awaiting_review")
    ok = await api.http.post(f"/reviews/{mine}/decision", headers=DEFAULT,
                             json={"review_id": review_of[mine], "decision": "reject"})
    assert ok.status_code == 200, ok.text
