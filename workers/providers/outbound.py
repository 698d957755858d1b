"""Message channels and reviewer notifiers, built from settings: the local outbox unless a provider is chosen."""

from __future__ import annotations

from connectors.contract import MessageChannel, ReviewNotifier
from connectors.local.outbox import LocalOutbox
from connectors.sendgrid.channel import SendGridChannel
from connectors.slack.notifier import SlackReviewNotifier
from connectors.twilio.channel import TwilioChannel
from connectors.twilio.sendlog import SqlSendLog
from domain.models import Channel
from workers.providers.checks import ProviderCheck
from workers.providers.gmail import gmail_channel
from workers.providers.in_app import in_app_channels
from workers.settings import Settings


def outbound(settings: Settings, local: MessageChannel
             ) -> tuple[dict[Channel, MessageChannel], list[ReviewNotifier], list[ProviderCheck]]:
    routing = settings.routing
    checks: list[ProviderCheck] = []
    channels: dict[Channel, MessageChannel] = {Channel.sms: local, Channel.whatsapp: local, Channel.email: local}
    notifiers: list[ReviewNotifier] = []
    send_log = None
    if (routing.sms_provider, routing.email_provider, routing.review_notifier) != ("local", "local", "local"):
        # providers have no idempotency keys: the shared send log makes a retried send return the first receipt
        send_log = SqlSendLog(settings.storage.send_log_url)
    if routing.sms_provider == "twilio":
        twilio = TwilioChannel(settings.twilio, send_log=send_log)
        channels[Channel.sms] = channels[Channel.whatsapp] = twilio
        checks.append(ProviderCheck("twilio-send", "ok", "SMS and WhatsApp through Twilio"))
    else:
        checks.append(ProviderCheck("twilio-send", "off", "SMS/WhatsApp go to the local outbox"))
    if routing.email_provider == "sendgrid":
        channels[Channel.email] = SendGridChannel(settings.sendgrid, send_log=send_log)
        checks.append(ProviderCheck("sendgrid-send", "ok", "email through SendGrid"))
    elif routing.email_provider == "gmail":
        channels[Channel.email] = gmail_channel(settings, send_log)
        checks.append(ProviderCheck("gmail-send", "ok", "email through the Gmail mailbox"))
    else:
        checks.append(ProviderCheck("sendgrid-send", "off", "email goes to the local outbox"))
    if routing.review_notifier == "slack":
        notifiers.append(SlackReviewNotifier(settings.slack, send_log=send_log))
        checks.append(ProviderCheck("slack-notify", "ok", "review requests posted to Slack"))
    else:
        checks.append(ProviderCheck("slack-notify", "off", "review requests stay in the local queue"))
    if isinstance(local, LocalOutbox):
        in_app, in_app_checks = in_app_channels(settings, local.db)
        channels.update(in_app)
        checks.extend(in_app_checks)
    return channels, notifiers, checks
