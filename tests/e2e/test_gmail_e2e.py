"""Gmail as the email channel, end to end: a Calendly no-show's recovery email goes out through the Gmail fake
(the real client, a raw RFC 5322 message), the customer's reply lands in the mailbox, and the Pub/Sub push to
`/webhooks/gmail` (a Google-signed OIDC token) reads it through `history.list` and moves the case."""

from __future__ import annotations

import base64
import email.policy
import uuid
from collections.abc import Iterator
from email.parser import BytesParser
from pathlib import Path

import pytest
from temporalio.client import Client

from tests.e2e.provider_helpers import (
    calendly_invitee_created,
    calendly_invitee_uri,
    calendly_no_show,
    inbound_env,
    provider_stack,
    slot_around_now,
)
from tests.e2e.test_providers_e2e import case_of, polled, post_calendly
from tests.fakes.gmail_fake import PUSH_ACCOUNT, GmailFake
from workers.dev.demo import daytime_contact

pytestmark = [pytest.mark.timeout(120)]
AUDIENCE = "https://noshow.example.test/webhooks/gmail"


@pytest.fixture
def gmail() -> Iterator[GmailFake]:
    with GmailFake(mailbox="clinic@example.com") as fake:
        yield fake  # type: ignore[misc]


def gmail_env(fake: GmailFake) -> dict[str, str]:
    return {"NOSHOW_EMAIL_PROVIDER": "gmail", "NOSHOW_GOOGLE_ACCESS_TOKEN": fake.token,
            "NOSHOW_GMAIL_FROM_EMAIL": fake.mailbox, "NOSHOW_GMAIL_BASE_URL": fake.base_url,
            "NOSHOW_GMAIL_PUSH_AUDIENCE": AUDIENCE, "NOSHOW_GMAIL_PUSH_SERVICE_ACCOUNT": PUSH_ACCOUNT,
            "NOSHOW_GMAIL_CERTS_URL": f"{fake.base_url}/oauth2/v3/certs"}


async def test_a_no_show_is_emailed_through_gmail_and_the_reply_moves_the_case(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gmail: GmailFake) -> None:
    _, zone = daytime_contact()
    customer = f"jane-{uuid.uuid4().hex[:8]}@example.com"
    start, end = slot_around_now()
    invitee = calendly_invitee_uri()
    async with provider_stack(client, task_queue, tmp_path, monkeypatch, {**inbound_env(), **gmail_env(gmail)}
                              ) as stack:
        async def push(message_id: str) -> None:
            r = await stack.http.post("/webhooks/gmail", content=gmail.push_body(message_id),
                                      headers={"authorization": f"Bearer {gmail.push_token(AUDIENCE)}",
                                               "content-type": "application/json"})
            assert r.status_code == 200, r.text

        case_id = case_of(await post_calendly(stack, calendly_invitee_created(invitee, customer, zone, start, end)))
        assert case_of(await post_calendly(stack, calendly_no_show(invitee))) == case_id
        await polled(gmail.sent, lambda m: len(m) >= 1)
        await stack.reach(case_id, "recovering")
        (call,) = gmail.calls("POST", "/messages/send")
        mail = BytesParser(policy=email.policy.default).parsebytes(base64.urlsafe_b64decode(call.json()["raw"]))
        assert mail["To"] == customer and mail["From"] == "clinic@example.com"
        assert mail["List-Unsubscribe"] == "<mailto:clinic@example.com?subject=unsubscribe>"

        await push("pubsub-1")  # the watch's first push: the mailbox's history starts here
        gmail.deliver(f"Jane <{customer}>", "yes", f"reply-{uuid.uuid4().hex[:8]}@mail.example.com")
        await push("pubsub-2")
        offered = await stack.reach(case_id, "offering")
        assert len(offered.offered) >= 1
        await polled(gmail.sent, lambda m: len(m) >= 2)
        assert len(gmail.calls("POST", "/messages/send")) == 2  # the offer, nothing sent twice
