"""Recovery email sent through a Workspace mailbox with the Gmail API (NOSHOW_EMAIL_PROVIDER=gmail), an alternative
to SendGrid: an RFC 5322 message built with `email.message.EmailMessage`, base64url-encoded into `raw`
(https://developers.google.com/gmail/api/guides/sending).

Gmail has no idempotency key. The message carries a `Message-ID` derived from the engine's message id, and the send
log (shared with the other channels) records each attempt: a retried activity gets the first receipt back, and
after an attempt that ended ambiguously (a timeout or reset once the request had left) the mailbox is searched
for that `Message-ID` (`rfc822msgid:`) before sending again, so a message is never sent twice.
`List-Unsubscribe` names a mailto (the sending mailbox, subject "unsubscribe") and, when NOSHOW_GMAIL_UNSUBSCRIBE_URL
is https, that URL with `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 2369, RFC 8058). SendGrid adds
these itself from its unsubscribe group; Gmail sends what it is given.
UNVERIFIED: that Gmail keeps a client-set `Message-ID` on messages sent through the API (the search falls back to
"not found", and the send log still stops a plain retry), and the Workspace sending limits.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr

from connectors.contract import (
    AmbiguousSendError,
    OutboundMessage,
    PermanentProviderError,
    ProviderError,
    SendReceipt,
)
from connectors.gmail.client import GmailClient
from connectors.inbound import digest
from connectors.twilio.sendlog import MemorySendLog, SendLog, first_receipt
from domain.models import Channel

SCOPE = "gmail"


def rfc822_id(message_id: str, from_email: str) -> str:
    """The `Message-ID` (without angle brackets) of the engine's message: stable, and naming no person."""
    domain = from_email.rpartition("@")[2] or "noshow.invalid"
    return f"noshow-{digest(message_id)}@{domain}"


class GmailChannel:
    """contract.MessageChannel for Channel.email."""

    def __init__(self, client: GmailClient, from_email: str, from_name: str | None = None,
                 unsubscribe_url: str | None = None, send_log: SendLog | None = None) -> None:
        if "@" not in from_email:
            raise ValueError("Gmail needs NOSHOW_GMAIL_FROM_EMAIL, the mailbox that sends")
        self.client, self.from_email, self.from_name = client, from_email, from_name
        self.unsubscribe_url = unsubscribe_url if unsubscribe_url and unsubscribe_url.startswith("https://") \
            else None
        self.send_log: SendLog = send_log or MemorySendLog()

    def mime(self, message: OutboundMessage) -> EmailMessage:
        mail = EmailMessage()
        mail["To"] = message.to
        mail["From"] = formataddr((self.from_name, self.from_email)) if self.from_name else self.from_email
        mail["Subject"] = message.subject or "Your appointment"
        mail["Message-ID"] = f"<{rfc822_id(message.message_id, self.from_email)}>"
        unsubscribe = [f"<mailto:{self.from_email}?subject=unsubscribe>"]
        if self.unsubscribe_url:
            unsubscribe.append(f"<{self.unsubscribe_url}>")
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mail["List-Unsubscribe"] = ", ".join(unsubscribe)
        mail.set_content(message.body)
        return mail

    def raw(self, message: OutboundMessage) -> str:
        return base64.urlsafe_b64encode(self.mime(message).as_bytes()).decode()

    def lookup(self, message_id: str) -> SendReceipt | None:
        return first_receipt(self.send_log, SCOPE, message_id, "sent")

    def send(self, message: OutboundMessage) -> SendReceipt:
        if message.channel != Channel.email:
            raise PermanentProviderError(f"Gmail cannot send {message.channel.value}", code="channel")
        known = self.lookup(message.message_id)
        if known:
            return known
        previous = self.send_log.get(SCOPE, message.message_id)
        if previous is not None and previous.state == "pending":
            found = self.client.find_by_message_id(rfc822_id(message.message_id, self.from_email))
            if found:
                self.send_log.accept(SCOPE, message.message_id, found, "sent")
                return SendReceipt(message_id=message.message_id, provider_message_id=found, status="sent",
                                   duplicate=True)
        self.send_log.begin(SCOPE, message.message_id, datetime.now(UTC))
        try:
            sent = self.client.send(self.raw(message))
        except AmbiguousSendError:
            raise  # left pending: the next attempt searches before sending
        except ProviderError:
            self.send_log.fail(SCOPE, message.message_id)  # Gmail answered with a refusal: nothing was sent
            raise
        gmail_id = str(sent.get("id") or "")
        if not gmail_id:
            raise AmbiguousSendError("gmail: the send answered no message id")
        self.send_log.accept(SCOPE, message.message_id, gmail_id, "sent", extra=str(sent.get("threadId") or "")
                             or None)
        return SendReceipt(message_id=message.message_id, provider_message_id=gmail_id, status="sent")
