"""The console pages, served by the API on a real Temporal server with a real worker: the queue shows what a
reviewer needs and the exact message an approval sends, a decision moves the case, the staff inbox lists
replies nobody could route, and every page needs a caller."""

from __future__ import annotations

import asyncio
import re
from html import unescape

from domain.models import EventType
from tests.api.conftest import ADMIN, REVIEWER, Api, envelope
from tests.helpers import eventually

CSRF = re.compile(r'<input type="hidden" name="csrf_token"')


async def _pending_case(api: Api) -> str:
    resp = await api.post_event(envelope(EventType.no_show, categories=["medical"], value=480.0))
    case_id = str(resp.json()["events"][0]["case_id"])

    async def queue() -> str:
        return (await api.http.get("/console/reviews/items", headers=REVIEWER)).text

    await eventually(queue, lambda html: case_id in html, timeout=30)
    return case_id


async def test_the_queue_shows_the_message_an_approval_sends_and_approving_sends_it(api: Api) -> None:
    case_id = await _pending_case(api)
    page = await api.http.get("/console/reviews", headers=REVIEWER)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    html = page.text
    assert "/console/static/htmx.min.js" in html and "https://" not in html.split("<main")[0]
    for shown in ("Appointment", "480.00", "sensitive", "prior no-show", "not opted out", "decide by", "due "):
        assert shown in html, shown
    preview = unescape(re.search(r'<pre class="message">(.*?)</pre>', html, re.S).group(1))  # type: ignore[union-attr]
    review_id = re.search(r'name="review_id" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert not CSRF.search(html)  # no sign-in layer yet: the helper adds the field once a token exists

    decided = await api.http.post(f"/console/reviews/{case_id}/decision", headers={**REVIEWER, "HX-Request": "true"},
                                  data={"review_id": review_id, "decision": "approve", "note": "ok"})
    assert decided.status_code == 200, decided.text
    assert "The case is now" in decided.text and "awaiting review" not in decided.text
    sent = await eventually(lambda: asyncio.sleep(0, api.stack.deps.outbox.messages(case_id)), lambda m: len(m) >= 1)
    assert sent[0]["body"] == preview  # rendered exactly as it went out

    case_page = await api.http.get(f"/console/cases/{case_id}", headers=REVIEWER)
    assert case_page.status_code == 200
    assert "review.approve by reviewer@example.com" in case_page.text and "decision: approve" in case_page.text
    assert "message sent" in case_page.text and "/workflows/" + case_id in case_page.text


async def test_live_lint_and_a_stale_decision_is_refused_plainly(api: Api) -> None:
    lint = await api.http.post("/console/lint", headers=REVIEWER,
                               data={"note": "Pay your overdue bill now or we will take legal action"})
    assert lint.status_code == 200 and 'class="error"' in lint.text
    case_id = await _pending_case(api)
    stale = await api.http.post(f"/console/reviews/{case_id}/decision", headers={**REVIEWER, "HX-Request": "true"},
                                data={"review_id": "not-this-one", "decision": "approve"})
    assert stale.status_code == 409 and "Not decided" in stale.text


async def test_unknown_sender_replies_are_in_the_inbox_and_resolvable(api: Api) -> None:
    out = await api.http.post("/inbound/local", headers=ADMIN,
                              json={"case_id": "case-0000000000000000", "text": "who is this? call me"})
    assert out.json()["routed"] == "unknown_sender"
    items = (await api.http.get("/inbox", headers=REVIEWER)).json()
    mine = [i for i in items if i["text"] == "who is this? call me"]
    assert len(mine) == 1 and mine[0]["kind"] == "unknown_sender"
    page = await api.http.get("/console/inbox", headers=REVIEWER)
    assert "who is this? call me" in page.text
    done = await api.http.post(f"/inbox/{mine[0]['item_id']}/resolve", headers=REVIEWER, json={"note": "called"})
    assert done.status_code == 200
    assert all(i["item_id"] != mine[0]["item_id"] for i in (await api.http.get("/inbox", headers=REVIEWER)).json())
    again = await api.http.post(f"/inbox/{mine[0]['item_id']}/resolve", headers=REVIEWER, json={})
    assert again.status_code == 404


async def test_every_page_needs_a_caller_and_admin_pages_the_admin(api: Api) -> None:
    for path in ("/console/reviews", "/console/reviews/items", "/console/inbox", "/console/owner",
                 "/console/admin", "/inbox"):
        assert (await api.http.get(path)).status_code == 401, path
    assert (await api.http.get("/console/admin", headers=REVIEWER)).status_code == 403
    admin = await api.http.get("/console/admin", headers=ADMIN)
    assert admin.status_code == 200 and "reviewer@example.com" in admin.text and "dev-reviewer-token" not in admin.text
    owner = await api.http.get("/console/owner", headers=REVIEWER)
    assert owner.status_code == 200 and "Exceptions" in owner.text
    bad = await api.http.post("/console/admin/policy-check", headers=ADMIN,
                              files={"policy": ("p.yaml", b"version: x\nsources: []\n", "application/x-yaml")})
    assert bad.status_code == 200 and "The policy has errors." in bad.text
    assert (await api.http.get("/console/static/htmx.min.js")).status_code == 200


async def test_a_failed_send_is_in_the_inbox_until_resolved(api: Api) -> None:
    from connectors.contract import PermanentProviderError
    from domain.models import Channel

    class Refusing:
        def send(self, message: object) -> object:
            raise PermanentProviderError("invalid 'To' phone number", code="21211")

    api.stack.deps.channels[Channel.sms] = Refusing()  # type: ignore[assignment]  # shared with the worker
    resp = await api.post_event(envelope(EventType.no_show, email=None))
    case_id = str(resp.json()["events"][0]["case_id"])

    async def failed() -> list[dict[str, object]]:
        rows = (await api.http.get("/inbox", headers=REVIEWER)).json()
        return [r for r in rows if r["kind"] == "failed_send" and r["case_id"] == case_id]

    rows = await eventually(failed, lambda r: len(r) == 1, timeout=30)
    assert "21211" in str(rows[0]["text"])
    page = await api.http.get("/console/inbox", headers=REVIEWER)
    assert "failed send" in page.text
    done = await api.http.post("/console/inbox/resolve", headers=REVIEWER,
                               data={"item_id": rows[0]["item_id"], "note": "number fixed in the CRM"})
    assert done.status_code in (200, 303)
    assert await failed() == []
    assert (await api.http.post("/inbox/ledger:no-such-event/resolve", headers=REVIEWER, json={})).status_code == 404


def test_the_csrf_field_carries_the_sign_in_layers_token_escaped() -> None:
    from starlette.requests import Request

    from workers.api.console.views import csrf_field

    request = Request({"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""})
    assert str(csrf_field(request)) == ""
    request.state.csrf_token = 'tok"<en>'
    assert str(csrf_field(request)) == '<input type="hidden" name="csrf_token" value="tok&#34;&lt;en&gt;">'
