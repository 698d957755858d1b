"""Program scope on the dashboard, through the real app on a real Temporal server: an owner scoped to one
program sees only that program's figures and filter values in `/dashboard`, its JSON and its CSV, and asking
for another program answers 404; admins and every-program owners see every program. A case the engine runs
writes its program on every ledger row."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr
from temporalio.client import Client

from domain.models import EventType
from reporting.ledger import Ledger
from tests.api.conftest import ADMIN, Api, envelope
from tests.api.test_program_scope import two_programs
from tests.engine.conftest import Stack, settings_for
from tests.helpers import eventually
from tests.reporting.programs import CASES, program_events
from workers.api.app import create_app
from workers.dependencies import build_dependencies
from workers.intake.cases import CaseService
from workers.worker import build_worker

DEFAULT_OWNER = {"Authorization": "Bearer tok-own-default"}
DENTAL_OWNER = {"Authorization": "Bearer tok-own-dental"}
EVERY_OWNER = {"Authorization": "Bearer tok-own-all"}
ROUTES = ("/dashboard", "/dashboard/data.json", "/dashboard/export.csv")
# what only one case shows: its owner, location, type and template (see tests.reporting.programs)
MARKS = {program: (owner, location, type_, f"t-{owner}")
         for program, (_, owner, location, type_, _) in CASES.items()}


@pytest_asyncio.fixture
async def owners_api(client: Client, task_queue: str, tmp_path: Path) -> AsyncIterator[Api]:
    settings = settings_for(tmp_path, task_queue, two_programs())
    settings.auth = settings.auth.model_copy(update={"owner_tokens": SecretStr(
        "tok-own-default=own-default:default,tok-own-dental=own-dental:dental,tok-own-all=own-all:*")})
    deps = build_dependencies(settings)
    worker = build_worker(client, deps, task_queue=task_queue)
    task = asyncio.create_task(worker.run())
    app = create_app(settings, client=client, deps=deps)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        stack = Stack(client, deps, CaseService(client, deps), worker, settings.policy.file)  # type: ignore[arg-type]
        yield Api(http, stack, settings.auth.webhook_secret.get_secret_value())
    await worker.shutdown()
    await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
def filled(owners_api: Api) -> Api:
    ledger: Ledger = owners_api.stack.deps.ledger
    ledger.append_many(program_events())
    return owners_api


async def _views(api: Api, headers: dict[str, str], query: str = "") -> dict[str, httpx.Response]:
    return {route: await api.http.get(f"{route}{query}", headers=headers) for route in ROUTES}


def _shown(views: dict[str, httpx.Response]) -> set[str | None]:
    """The programs whose marks appear in any of the three views."""
    text = "\n".join(r.text for r in views.values())
    return {program for program, marks in MARKS.items() if any(mark in text for mark in marks)}


def _csv_groups(response: httpx.Response) -> list[str]:
    return [row["group"] for row in csv.DictReader(io.StringIO(response.text))]


@pytest.mark.parametrize("headers,program,lost,recovered", [
    (DEFAULT_OWNER, "default", 100.0, 0.0), (DENTAL_OWNER, "dental", 0.0, 250.0)])
async def test_an_owner_of_one_program_sees_only_its_figures(filled: Api, headers: dict[str, str], program: str,
                                                            lost: float, recovered: float) -> None:
    for by in ("owner", "program", "location", "type", "template"):
        views = await _views(filled, headers, f"?by={by}")
        assert {r.status_code for r in views.values()} == {200}
        assert _shown(views) == {program}, by
    data = (await filled.http.get("/dashboard/data.json?by=program", headers=headers)).json()
    assert [g["group"] for g in data["groups"]] == [program]
    values = data["total"]["values"]
    assert (values["cases"], values["lost_revenue_risk"], values["recovered_revenue"]) == (1, lost, recovered)
    export = await filled.http.get("/dashboard/export.csv?by=program", headers=headers)
    assert _csv_groups(export) == [program, "total"]


async def test_the_filter_options_hold_only_the_owners_programs(filled: Api) -> None:
    page = (await filled.http.get("/dashboard", headers=DEFAULT_OWNER)).text
    assert '<datalist id="opt-program"><option value="default"></datalist>' in page
    for mark in (*MARKS["dental"], *MARKS[None]):
        assert f'value="{mark}"' not in page
    admin_page = (await filled.http.get("/dashboard", headers=ADMIN)).text
    assert ('<datalist id="opt-program"><option value="default"><option value="dental"><option value="(none)">'
            '</datalist>') in admin_page


@pytest.mark.parametrize("query", ["?program=dental", "?program=(none)", "?program=dental&by=owner",
                                   "?program=nosuch"])
async def test_asking_for_another_program_answers_404(filled: Api, query: str) -> None:
    views = await _views(filled, DEFAULT_OWNER, query)
    for route, response in views.items():
        assert response.status_code == 404, route
        assert response.json() == {"detail": "no such program"}
    assert _shown(views) == set()
    own = await _views(filled, DEFAULT_OWNER, "?program=default")
    assert {r.status_code for r in own.values()} == {200} and _shown(own) == {"default"}


@pytest.mark.parametrize("headers", [ADMIN, EVERY_OWNER])
async def test_admins_and_every_program_owners_see_and_filter_every_program(filled: Api,
                                                                          headers: dict[str, str]) -> None:
    views = await _views(filled, headers, "?by=program")
    assert {r.status_code for r in views.values()} == {200}
    assert _shown(views) == {"default", "dental", None}
    data = views["/dashboard/data.json"].json()
    assert [g["group"] for g in data["groups"]] == ["(none)", "default", "dental"]
    assert data["total"]["values"]["lost_revenue_risk"] == 140.0
    dental = await _views(filled, headers, "?program=dental&by=owner")
    assert {r.status_code for r in dental.values()} == {200}
    # the page's filter suggestions still list every program's values to such a viewer: the figures do not
    figures = {route: r for route, r in dental.items() if route != "/dashboard"}
    assert _shown(figures) == {"dental"}
    legacy = (await filled.http.get("/dashboard/data.json?program=(none)", headers=headers)).json()
    assert legacy["total"]["values"]["lost_revenue_risk"] == 40.0


async def test_a_case_the_engine_runs_writes_its_program_on_every_ledger_row(owners_api: Api) -> None:
    api = owners_api
    ledger: Ledger = api.stack.deps.ledger
    ids = {}
    for type_ in ("consultation", "cleaning"):
        r = await api.post_event(envelope(EventType.no_show, appointment_type=type_))
        assert r.status_code == 200, r.text
        ids[type_] = r.json()["events"][0]["case_id"]

    async def rows(case_id: str) -> list[str | None]:
        return [e.program for e in await asyncio.to_thread(ledger.events, case_id)]

    for type_, program in (("consultation", "default"), ("cleaning", "dental")):
        seen = await eventually(lambda c=ids[type_]: rows(c), lambda r: len(r) >= 3)  # type: ignore[misc]
        assert set(seen) == {program}, type_
    dental = (await api.http.get("/dashboard/data.json", headers=DENTAL_OWNER)).json()["total"]["values"]
    assert dental["cases"] == 1
