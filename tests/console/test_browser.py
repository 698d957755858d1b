"""A whole review in headless Chromium (Debian's `chromium`, driven by Playwright's Python package) against a
real Temporal server and a running API and worker: open the queue, edit and approve, see the message go out
(the local outbox) and the case move. Screenshots are kept as test artifacts; axe-core (vendored from npm in
fixtures/) finds no serious or critical accessibility violation on either page.

NOSHOW_UPDATE_SCREENSHOTS=1 also copies the screenshots to docs/screenshots/ (the README shows them).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from domain.models import EventType
from tests.console.served import Served, served_api
from tests.helpers import appointment, event, eventually
from tests.reporting.test_browser import chromium  # noqa: F401  (the binary, installed with apt-get or skipped)
from workers.api.auth.store import AuthStore

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

FIXTURES = Path(__file__).parent / "fixtures"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
REVIEWER = "front.desk@example.com"
PASSWORD = "a long passphrase for the console test"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]


async def sign_in(browser: Any, served: Served) -> tuple[Any, str]:
    """A browser context signed in through the login form as a local reviewer account (the session cookie and
    its CSRF token do the rest), and the reviewer's opaque id, which the audit trail names."""
    user = AuthStore(served.stack.deps.db).add_user(REVIEWER, PASSWORD, "reviewer", "*")
    context = await browser.new_context(base_url=served.url, viewport={"width": 412, "height": 915})
    page = await context.new_page()
    await page.goto("/login?next=/console/reviews")
    await page.get_by_label("Username").fill(REVIEWER)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/console/reviews")
    await page.close()
    return context, user.user_id


async def serious_violations(page: Any) -> list[str]:
    await page.add_script_tag(path=str(FIXTURES / "axe.min.js"))
    result = await page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])} node(s))" for v in result["violations"]
            if v.get("impact") in ("serious", "critical")]


def keep(shot: Path) -> None:
    if os.environ.get("NOSHOW_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, DOCS / shot.name)


async def test_a_whole_review_in_the_browser(chromium: str, client: Client, task_queue: str,  # noqa: F811
                                             tmp_path: Path) -> None:
    playwright_api = pytest.importorskip("playwright.async_api", reason="the playwright package is not installed")
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    served: Served
    async with served_api(client, task_queue, tmp_path) as served:
        appt = appointment(categories=["medical"], value=380.0, appointment_type="consultation")
        outcome = await served.stack.cases.submit_event(event(appt, EventType.no_show))
        case_id = str(outcome.case_id)
        await eventually(lambda: asyncio.sleep(0, served.stack.deps.reviews.pending()),
                         lambda rows: any(r["case_id"] == case_id for r in rows), timeout=30)

        async with playwright_api.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=FLAGS)
            try:
                context, reviewer_id = await sign_in(browser, served)
                page = await context.new_page()
                await page.goto("/console/reviews")
                item = page.locator(f"#item-{case_id}")
                await item.wait_for()
                assert "380.00" in await item.inner_text()
                preview = await item.locator("pre.message").inner_text()
                assert await serious_violations(page) == []
                shot = artifacts / "console-queue.png"
                await page.screenshot(path=str(shot), full_page=True)
                keep(shot)

                await item.locator("select[name=segment]").select_option("first_time")
                await item.locator("textarea[name=note]").fill("Checked with the front desk: a real no-show.")
                await item.locator(f"#lint-{case_id}").get_by_text("No problems found").wait_for()
                await item.get_by_role("button", name="Save edit and approve").click()
                await item.get_by_text("The case is now").wait_for()
                assert "awaiting review" not in await item.locator(f"#result-{case_id}").inner_text()

                sent = await eventually(lambda: asyncio.sleep(0, served.stack.deps.outbox.messages(case_id)),
                                        lambda m: len(m) >= 1, timeout=30)
                assert sent[0]["body"] == preview

                await page.goto(f"/console/cases/{case_id}")
                await page.get_by_text("message sent").first.wait_for()
                text = await page.locator("main").inner_text()
                assert "recovering" in text and f"review.edit by {reviewer_id}" in text
                assert await serious_violations(page) == []
                shot = artifacts / "console-case.png"
                await page.screenshot(path=str(shot), full_page=True)
                keep(shot)
                await context.close()
            finally:
                await browser.close()
    assert (artifacts / "console-queue.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
