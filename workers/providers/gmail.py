"""Gmail built from settings: the client (Google's token manager, consented with `gmail.send` and
`gmail.readonly`), the email channel (NOSHOW_EMAIL_PROVIDER=gmail), and the Pub/Sub push route whose follow-up
reads the mailbox's history into replies. No network here."""

from __future__ import annotations

from connectors.contract import RawRequest, WebhookResult
from connectors.gmail.channel import GmailChannel
from connectors.gmail.client import GmailClient
from connectors.gmail.inbound import GmailPushInbound, GoogleKeys
from connectors.gmail.replies import GmailReplies, HistoryStore
from connectors.gmail.watch import GmailWatchKeeper
from connectors.local.db import LocalDb
from connectors.twilio.sendlog import SendLog
from workers.providers.tokens import google_token
from workers.settings import Settings


def gmail_client(s: Settings) -> GmailClient:
    return GmailClient(google_token(s) or "", base_url=s.gmail.base_url)


def gmail_channel(s: Settings, send_log: SendLog | None) -> GmailChannel:
    g = s.gmail
    return GmailChannel(gmail_client(s), g.from_email, g.from_name, g.unsubscribe_url, send_log=send_log)


def gmail_send_problems(s: Settings) -> list[str]:
    problems = [] if google_token(s) else ["NOSHOW_EMAIL_PROVIDER=gmail needs NOSHOW_GOOGLE_CLIENT_ID + "
                                           "NOSHOW_GOOGLE_REFRESH_TOKEN (or NOSHOW_GOOGLE_ACCESS_TOKEN)"]
    return problems + ([] if "@" in s.gmail.from_email else ["NOSHOW_EMAIL_PROVIDER=gmail needs "
                                                             "NOSHOW_GMAIL_FROM_EMAIL"])


def gmail_push(s: Settings) -> tuple[GmailPushInbound, GmailReplies]:
    g = s.gmail
    inbound = GmailPushInbound(g.push_audience or "", g.push_service_account or "", GoogleKeys(g.certs_url))
    return inbound, GmailReplies(gmail_client(s), HistoryStore(LocalDb(s.storage.database)), g.from_email)


def gmail_watch(s: Settings, db: LocalDb) -> GmailWatchKeeper:
    return GmailWatchKeeper(gmail_client(s), s.gmail.topic or "", HistoryStore(db), s.gmail.from_email)


def with_replies(inbound: GmailPushInbound, replies: GmailReplies):  # type: ignore[no-untyped-def]
    def after(request: RawRequest, result: WebhookResult) -> WebhookResult:
        mailbox, history_id = inbound.pushed(request)
        messages, advance = replies.sync(mailbox, history_id)
        result.messages.extend(messages)
        if advance is not None:  # the history id moves with the hand-off of these messages, not before
            result.on_handoff.append(advance)
        return result

    return after
