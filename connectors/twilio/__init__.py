"""Twilio: outbound SMS / WhatsApp (TwilioChannel) and inbound messages + status callbacks (TwilioWebhook)."""

from connectors.twilio.channel import TwilioChannel, TwilioSettings
from connectors.twilio.sendlog import MemorySendLog, SendLog, SendRecord, SqliteSendLog
from connectors.twilio.webhook import TwilioWebhook

__all__ = ["MemorySendLog", "SendLog", "SendRecord", "SqliteSendLog", "TwilioChannel",
           "TwilioSettings", "TwilioWebhook"]
