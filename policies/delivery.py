"""What a provider's delivery news means for a message the engine sent: how far along it is, which news counts
as a failure, and what the reporting ledger records.

Providers deliver their callbacks in no guaranteed order (SendGrid batches events and may send a `delivered`
after the `open` it preceded; Twilio's callbacks race each other), so a message's status only moves forward:
queued < sent < delivered < a delivery failure < opened / read < clicked < the recipient's own refusal (spam
report, unsubscribe). A failure after delivery (an asynchronous bounce) supersedes "delivered"; an open proves
the message arrived, so it supersedes a failure; a late "delivered" changes nothing.
"""

from __future__ import annotations

FAILED = frozenset({"failed", "undelivered", "bounced", "dropped", "spam", "unsubscribed"})
ENGAGED = frozenset({"opened", "read", "clicked"})
# a WhatsApp message refused as outside the 24 h customer-service window, reported in a status callback's
# ErrorCode (https://www.twilio.com/docs/api/errors/63016)
WHATSAPP_WINDOW_CODES = frozenset({"63016"})

_RANK: dict[str, int] = {
    "queued": 0,
    "sent": 1,
    "delivered": 2,
    "failed": 3, "undelivered": 3, "bounced": 3, "dropped": 3,
    "opened": 4, "read": 4,
    "clicked": 5,
    "spam": 6, "unsubscribed": 6,
}

# the ledger's event type per status; queued / sent are the send activity's own (message_sent)
_LEDGER: dict[str, str] = {
    "delivered": "message_delivered",
    **dict.fromkeys(FAILED, "message_failed"),
    "opened": "message_opened",
    "read": "message_opened",  # a WhatsApp read receipt is that channel's open
    "clicked": "message_clicked",
}

# what the CRM timeline says of each status; queued / sent have none here (the send activity notes "sent")
_NOTE_WORDS: dict[str, str] = {
    "delivered": "delivered",
    "failed": "failed",
    "undelivered": "not delivered",
    "bounced": "bounced",
    "dropped": "dropped by the provider",
    "spam": "reported as spam",
    "unsubscribed": "recipient unsubscribed",
    "opened": "opened",
    "read": "read",
    # never the link itself: its query may carry the recipient's details
    "clicked": "a link was clicked",
}


def rank(status: str) -> int:
    """How far along a status is; an unknown one ranks lowest, so it never replaces a known one."""
    return _RANK.get(status, -1)


def advances(current: str | None, new: str) -> bool:
    """Whether `new` replaces the message's `current` status (a repeat or an older status does not)."""
    return current is None or rank(new) > rank(current)


def ledger_type(status: str) -> str | None:
    """The ledger event a status records, or None (queued, sent)."""
    return _LEDGER.get(status)


def note_words(status: str) -> str | None:
    """The timeline wording of a status, or None when the status gets no note of its own."""
    return _NOTE_WORDS.get(status)
