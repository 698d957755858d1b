"""Gmail: recovery email sent as a raw RFC 5322 message with a `Message-ID` derived from the engine's message id
and List-Unsubscribe headers, never sent twice (send log; the mailbox searched after an ambiguous attempt), the
Pub/Sub push authenticated by its Google-signed OIDC token, and replies read with `history.list` from the stored
history id."""

from __future__ import annotations

import base64
import email.policy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from email.parser import BytesParser
from pathlib import Path

import pytest

from connectors.contract import (
    AmbiguousSendError,
    InboundMessage,
    OutboundMessage,
    PermanentProviderError,
    RawRequest,
    RetryableProviderError,
    SignatureError,
)
from connectors.gmail.channel import GmailChannel, rfc822_id
from connectors.gmail.client import GmailClient
from connectors.gmail.inbound import GmailPushInbound, GoogleKeys
from connectors.gmail.replies import GmailReplies, HistoryStore
from connectors.local.db import LocalDb
from domain.models import Channel
from tests.fakes.gmail_fake import PUSH_ACCOUNT, GmailFake

AUDIENCE = "https://noshow.example.com/webhooks/gmail"


@pytest.fixture
def fake() -> Iterator[GmailFake]:
    with GmailFake() as server:
        yield server  # type: ignore[misc]


def client(fake: GmailFake, timeout: float = 5.0) -> GmailClient:
    return GmailClient("gmail-token", base_url=fake.base_url, timeout=timeout)


def message(message_id: str = "case-1:offer-1") -> OutboundMessage:
    return OutboundMessage(message_id=message_id, case_id="case-1", channel=Channel.email, to="pat@example.com",
                           subject="We missed you", body="Reply 1 to rebook tomorrow 10:00.")


def test_the_send_is_a_raw_rfc5322_message_with_its_message_id_and_unsubscribe_headers(fake: GmailFake) -> None:
    channel = GmailChannel(client(fake), "clinic@example.com", "Clinic", "https://noshow.example.com/u/abc")
    receipt = channel.send(message())
    (call,) = fake.calls("POST", "/messages/send")
    raw = call.json()["raw"]
    mail = BytesParser(policy=email.policy.default).parsebytes(base64.urlsafe_b64decode(raw))
    assert mail["To"] == "pat@example.com" and mail["From"] == "Clinic <clinic@example.com>"
    assert mail["Message-ID"] == f"<{rfc822_id('case-1:offer-1', 'clinic@example.com')}>"
    assert "pat" not in mail["Message-ID"] and "case-1" not in mail["Message-ID"]
    assert mail["List-Unsubscribe"] == ("<mailto:clinic@example.com?subject=unsubscribe>, "
                                        "<https://noshow.example.com/u/abc>")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail.get_body(preferencelist=("plain",)).get_content().strip() == "Reply 1 to rebook tomorrow 10:00."
    assert receipt.provider_message_id == fake.sent()[0]["id"] and not receipt.duplicate


def test_a_retried_send_returns_the_first_receipt(fake: GmailFake) -> None:
    channel = GmailChannel(client(fake), "clinic@example.com")
    first, again = channel.send(message()), channel.send(message())
    assert again.duplicate and again.provider_message_id == first.provider_message_id
    assert len(fake.sent()) == 1


def test_after_an_ambiguous_attempt_the_mailbox_is_searched_before_sending_again(fake: GmailFake) -> None:
    channel = GmailChannel(client(fake, timeout=0.3), "clinic@example.com")
    fake.hang_next()
    with pytest.raises(AmbiguousSendError):
        channel.send(message())
    (lost,) = fake.calls("POST", "/messages/send")
    fake.store_raw(lost.json()["raw"])  # Gmail had accepted it; only the answer was lost
    again = channel.send(message())
    assert again.duplicate and again.provider_message_id == fake.sent()[0]["id"]
    (search,) = fake.calls("GET", "/messages")
    assert search.query["q"] == f"rfc822msgid:{rfc822_id('case-1:offer-1', 'clinic@example.com')}"
    assert len(fake.sent()) == 1


def test_after_an_ambiguous_attempt_that_never_arrived_the_message_is_sent_once(fake: GmailFake) -> None:
    channel = GmailChannel(client(fake, timeout=0.3), "clinic@example.com")
    fake.hang_next()
    with pytest.raises(AmbiguousSendError):
        channel.send(message())
    receipt = channel.send(message())
    assert not receipt.duplicate and len(fake.sent()) == 1
    assert len(fake.calls("GET", "/messages")) == 1  # searched first, found nothing, then sent


def test_a_refused_send_is_permanent_and_a_later_attempt_may_send(fake: GmailFake) -> None:
    channel = GmailChannel(client(fake), "clinic@example.com")
    fake.fail_next(400, {"error": {"code": 400, "message": "Invalid To header", "status": "INVALID_ARGUMENT"}})
    with pytest.raises(PermanentProviderError):
        channel.send(message())
    fake.rate_limit_next("30")
    with pytest.raises(RetryableProviderError):
        channel.send(message())
    channel.send(message())
    assert len(fake.sent()) == 1
    assert fake.calls("GET", "/messages") == []  # refusals are not ambiguous: nothing to search for


def push_request(fake: GmailFake, token: str, message_id: str = "2070443601311540") -> RawRequest:
    return RawRequest(method="POST", url=AUDIENCE, body=fake.push_body(message_id),
                      headers={"authorization": f"Bearer {token}", "content-type": "application/json"})


def inbound(fake: GmailFake) -> GmailPushInbound:
    return GmailPushInbound(AUDIENCE, PUSH_ACCOUNT, GoogleKeys(f"{fake.base_url}/oauth2/v3/certs"))


def test_a_push_with_googles_oidc_token_is_accepted_once(fake: GmailFake) -> None:
    push = inbound(fake)
    request = push_request(fake, fake.push_token(AUDIENCE))
    push.verify(request, datetime.now(UTC))
    assert push.pushed(request) == ("clinic@example.com", str(fake.history_id))
    assert push.parse(request).dedupe_key == "gmail:2070443601311540"
    with pytest.raises(SignatureError):
        push.verify(request, datetime.now(UTC))  # the same Pub/Sub message again


@pytest.mark.parametrize("claims", [{"aud": "https://elsewhere.example.com"}, {"iss": "https://evil.example.com"},
                                    {"email": "someone@evil.iam.gserviceaccount.com"}, {"email_verified": False},
                                    {"exp": 1_000_000_000}])
def test_a_push_token_with_wrong_claims_is_refused(fake: GmailFake, claims: dict[str, object]) -> None:
    with pytest.raises(SignatureError):
        inbound(fake).verify(push_request(fake, fake.push_token(AUDIENCE, **claims)), datetime.now(UTC))


def test_a_push_token_signed_by_another_key_or_missing_is_refused(fake: GmailFake) -> None:
    with GmailFake() as other:
        forged = other.push_token(AUDIENCE)
    for token in (forged, "", "not.a.jwt"):
        with pytest.raises(SignatureError):
            inbound(fake).verify(push_request(fake, token), datetime.now(UTC))


def handed_off(replies: GmailReplies, db: LocalDb, mailbox: str, history_id: str) -> list[InboundMessage]:
    """Read a push's replies and hand them off as the intake does: the cursor moves in the hand-off's transaction."""
    found, advance = replies.sync(mailbox, history_id)
    if advance is not None:
        with db.connect(immediate=True) as conn:
            advance(conn)
    return found


def test_replies_are_read_from_history_since_the_stored_id(fake: GmailFake, tmp_path: Path) -> None:
    db = LocalDb(tmp_path / "gmail.db")
    replies = GmailReplies(client(fake), HistoryStore(db), "clinic@example.com")
    assert handed_off(replies, db, "clinic@example.com", str(fake.history_id)) == []  # the first push sets the start
    GmailChannel(client(fake), "clinic@example.com").send(message())  # our own sent mail is not a reply
    for n, text in enumerate(["1", "Yes please\n\nOn Tue, Clinic wrote:\n> Reply 1 to rebook", "thanks"]):
        fake.deliver("Pat Doe <pat@example.com>", text, f"reply-{n}@mail.example.com")
    fake.deliver("clinic@example.com", "a note to self", "self@example.com")
    fake.deliver("Nobody <not an address@>", "an unreadable sender is skipped", "bad@mail.example.com")
    found = handed_off(replies, db, "clinic@example.com", str(fake.history_id))
    assert [(m.sender, m.text, m.provider_message_id) for m in found] == [
        ("pat@example.com", "1", "reply-0@mail.example.com"),
        ("pat@example.com", "Yes please", "reply-1@mail.example.com"),
        ("pat@example.com", "thanks", "reply-2@mail.example.com")]
    assert len(fake.calls("GET", "/history")) == 3  # page_size 2: the next pages were asked for
    assert handed_off(replies, db, "clinic@example.com", str(fake.history_id)) == []  # the stored id moved on
    assert handed_off(replies, db, "someone-else@example.com", str(fake.history_id)) == []


def test_the_stored_id_moves_only_with_the_hand_off_and_never_back(fake: GmailFake, tmp_path: Path) -> None:
    db = LocalDb(tmp_path / "gmail.db")
    store = HistoryStore(db)
    replies = GmailReplies(client(fake), store, "clinic@example.com")
    handed_off(replies, db, "clinic@example.com", str(fake.history_id))
    start = store.get("clinic@example.com")
    fake.deliver("pat@example.com", "yes", "reply-a@mail.example.com")
    found, _ = replies.sync("clinic@example.com", str(fake.history_id))  # read, but the hand-off failed
    assert [m.text for m in found] == ["yes"] and store.get("clinic@example.com") == start
    fake.deliver("pat@example.com", "tomorrow is fine", "reply-b@mail.example.com")
    found, later = replies.sync("clinic@example.com", str(fake.history_id))  # the redelivery reads both
    assert [m.text for m in found] == ["yes", "tomorrow is fine"] and later is not None
    with db.connect(immediate=True) as conn:
        later(conn)
        HistoryStore.advance_in(conn, "clinic@example.com", str(start))  # an older push handed off after it
    assert store.get("clinic@example.com") == str(fake.history_id)


def test_an_expired_history_id_restarts_from_the_pushed_one(fake: GmailFake, tmp_path: Path) -> None:
    store = HistoryStore(LocalDb(tmp_path / "gmail.db"))
    store.put("clinic@example.com", "5")
    fake.oldest_kept = 900
    replies = GmailReplies(client(fake), store, "clinic@example.com")
    assert replies.sync("clinic@example.com", str(fake.history_id)) == ([], None)
    assert store.get("clinic@example.com") == str(fake.history_id)


def test_the_watch_asks_for_inbox_changes_on_the_topic(fake: GmailFake) -> None:
    answer = client(fake).watch("projects/noshow-test/topics/gmail")
    assert answer["historyId"] == str(fake.history_id)
    (call,) = fake.calls("POST", "/watch")
    assert json.loads(call.body) == {"topicName": "projects/noshow-test/topics/gmail", "labelIds": ["INBOX"],
                                     "labelFilterBehavior": "include"}


def test_the_push_schedule_renews_the_watch_and_its_first_answer_starts_reply_reading(fake: GmailFake,
                                                                                      tmp_path: Path) -> None:
    from domain.reconcile import PushInput
    from tests.helpers import settings_from
    from workers.providers.sources import push_activities

    settings = settings_from({"NOSHOW_EMAIL_PROVIDER": "gmail", "NOSHOW_GOOGLE_ACCESS_TOKEN": "gmail-token",
                              "NOSHOW_GMAIL_FROM_EMAIL": "clinic@example.com", "NOSHOW_GMAIL_BASE_URL": fake.base_url,
                              "NOSHOW_GMAIL_TOPIC": "projects/noshow-test/topics/gmail"})
    db = LocalDb(tmp_path / "push.db")
    wired = push_activities(settings, db)
    assert wired.providers == ["gmail"]
    report = wired.renew_push_channels(PushInput(provider="gmail"))
    assert report.renewed[0].expires_at is not None and len(fake.calls("POST", "/watch")) == 1
    assert HistoryStore(db).get("clinic@example.com") == str(fake.history_id)
    fake.deliver("pat@example.com", "yes", "first-reply@mail.example.com")  # before any push arrived
    replies = GmailReplies(client(fake), HistoryStore(db), "clinic@example.com")
    assert [m.text for m in replies.sync("clinic@example.com", str(fake.history_id))[0]] == ["yes"]
