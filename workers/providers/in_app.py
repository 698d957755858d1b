"""The in-app channels, built from settings: Web Push when a VAPID key is set (its subscriptions sealed under
NOSHOW_ENCRYPTION_KEY, so push needs that key too) and the business's app webhook when its URL and secret are.

Their live probes (`noshow connectors check --live`) never reach a person. Web Push has no account to read: the
VAPID key signs a claim locally and every stored subscription must open under the current encryption key (a push
to a browser would show). The app webhook gets one signed `noshow.probe` delivery, which its contract says to
verify and answer 2xx without showing anything."""

from __future__ import annotations

from connectors.app_webhook.channel import AppWebhookChannel
from connectors.contract import MessageChannel
from connectors.local.db import LocalDb
from connectors.local.oauth_tokens import TokenCipher
from connectors.local.push_subscriptions import PushSubscriptions
from connectors.settings import secret
from connectors.webpush.channel import WebPushChannel
from domain.models import Channel
from workers.providers.checks import ProbeProblem, ProviderCheck
from workers.settings import Settings


def push_subscriptions(settings: Settings, db: LocalDb) -> PushSubscriptions | None:
    """The sealed subscription store; None without NOSHOW_ENCRYPTION_KEY (subscriptions are never kept in clear)."""
    key = secret(settings.temporal.encryption_key)
    return PushSubscriptions(db, TokenCipher.from_setting(key)) if key else None


def in_app_channels(settings: Settings, db: LocalDb) -> tuple[dict[Channel, MessageChannel], list[ProviderCheck]]:
    channels: dict[Channel, MessageChannel] = {}
    checks: list[ProviderCheck] = []
    if secret(settings.webpush.vapid_private_key):
        store = push_subscriptions(settings, db)
        if store is None:
            raise ValueError("Web Push needs NOSHOW_ENCRYPTION_KEY to seal the subscriptions it stores")
        channels[Channel.push] = WebPushChannel(settings.webpush, store)
        checks.append(ProviderCheck("webpush-send", "ok", "Web Push to subscribed browsers"))
    else:
        checks.append(ProviderCheck("webpush-send", "off", "no WEBPUSH_VAPID_PRIVATE_KEY: no push channel"))
    if settings.app_webhook.url:
        channels[Channel.app] = AppWebhookChannel(settings.app_webhook)
        checks.append(ProviderCheck("app-webhook-send", "ok", "signed webhooks to the business's app"))
    else:
        checks.append(ProviderCheck("app-webhook-send", "off", "no APP_WEBHOOK_URL: no app channel"))
    return channels, checks


def in_app_checks(settings: Settings) -> list[ProviderCheck]:
    """`noshow connectors check` lines for the in-app channels, from the settings alone (nothing is sent)."""
    checks: list[ProviderCheck] = []
    if secret(settings.webpush.vapid_private_key):
        problems: list[str] = []
        if not secret(settings.temporal.encryption_key):
            problems.append("Web Push needs NOSHOW_ENCRYPTION_KEY to seal subscriptions")
        try:
            WebPushChannel(settings.webpush, None)  # type: ignore[arg-type]  # only the settings are checked
        except ValueError as exc:
            problems.append(str(exc))
        checks.append(ProviderCheck("webpush-send", "error", "; ".join(problems)) if problems
                      else ProviderCheck("webpush-send", "ok", "Web Push to subscribed browsers"))
    else:
        checks.append(ProviderCheck("webpush-send", "off", "no WEBPUSH_VAPID_PRIVATE_KEY: no push channel"))
    if settings.app_webhook.url:
        try:
            AppWebhookChannel(settings.app_webhook).client.close()
            checks.append(ProviderCheck("app-webhook-send", "ok", "signed webhooks to the business's app"))
        except ValueError as exc:
            checks.append(ProviderCheck("app-webhook-send", "error", str(exc)))
    else:
        checks.append(ProviderCheck("app-webhook-send", "off", "no APP_WEBHOOK_URL: no app channel"))
    return checks


VAPID_PROBE_AUDIENCE = "https://push.example"  # signed locally only: nothing is sent to a push service


def webpush_probe(settings: Settings) -> str:
    from connectors.local.db import LocalDb

    store = push_subscriptions(settings, LocalDb(settings.storage.database))
    if store is None:
        raise ProbeProblem("Web Push needs NOSHOW_ENCRYPTION_KEY to seal subscriptions")
    try:
        channel = WebPushChannel(settings.webpush, store)
    except ValueError as exc:  # the channel's messages name variables, never their values
        raise ProbeProblem(str(exc)) from None
    channel.vapid.sign({"aud": VAPID_PROBE_AUDIENCE, "sub": settings.webpush.vapid_subject})
    stored, unreadable = store.sealed_counts()
    if unreadable:
        raise ProbeProblem(f"{unreadable} of {stored} push subscriptions do not open under NOSHOW_ENCRYPTION_KEY "
                           "(keep the old key listed after a rotation)")
    return f"VAPID key signs; {stored} subscriptions readable"


def app_webhook_probe(settings: Settings) -> str:
    import httpx

    try:
        channel = AppWebhookChannel(settings.app_webhook)
    except ValueError as exc:
        raise ProbeProblem(str(exc)) from None
    try:
        status = channel.probe()
    except httpx.HTTPError as exc:  # the type only: messages quote the URL
        raise ProbeProblem(f"APP_WEBHOOK_URL unreachable: {type(exc).__name__}") from None
    finally:
        channel.client.close()
    if status < 300:
        return f"signed probe accepted (HTTP {status})"
    if status in (401, 403):
        raise ProbeProblem(f"the app refused the signature (HTTP {status}): APP_WEBHOOK_SECRET differs from the app's")
    if status in (404, 405):
        raise ProbeProblem(f"nothing takes deliveries at APP_WEBHOOK_URL (HTTP {status})")
    if status < 500:
        raise ProbeProblem(f"the app answered HTTP {status} to a noshow.probe delivery; it should verify it and "
                           "answer 2xx")
    raise ProbeProblem(f"the app is failing (HTTP {status})")
