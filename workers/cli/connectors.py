"""`noshow connectors check`: every connector with ok / off / error and what is missing.

Checks formats only and never calls a provider: webhook routes, outbound channels and the reviewer notifier, the
calendar and CRM the engine writes to, reconcile sources (all built by `workers.providers`). With `--live`, each
configured provider is also called once, read-only, to prove its credentials (`workers/providers/live.py`).
Exit 0 when nothing is in error, 1 otherwise. Secret values are never printed."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsError

from connectors.sendgrid.settings import SendGridSettings
from connectors.settings import secret
from connectors.slack.settings import SlackSettings
from connectors.twilio.settings import TwilioSettings
from workers.production import configured_providers, is_loopback_url, production_problems
from workers.providers.checks import ProviderCheck, url_problem
from workers.providers.gmail import gmail_send_problems
from workers.providers.in_app import in_app_checks
from workers.providers.inbound import inbound_connectors
from workers.providers.mindbody import deployment_health_sources, mindbody_problems
from workers.providers.outbound import outbound
from workers.providers.sources import reconcile_checks
from workers.providers.writeback import writeback_checks
from workers.settings import DEV_WEBHOOK_SECRET, RoutingSettings, Settings
from workers.settings_errors import settings_problem, unreadable
from workers.temporal.connection import connection_problems

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
S = TypeVar("S", bound=BaseSettings)


def _settings_error(name: str, exc: ValidationError, prefix: str = "") -> ProviderCheck:
    return ProviderCheck(name, "error", f"invalid settings ({settings_problem(exc, prefix)})")


def _load(cls: type[S], name: str, errors: list[ProviderCheck]) -> S | None:
    try:
        return cls()
    except ValidationError as exc:
        errors.append(_settings_error(name, exc, str(cls.model_config.get("env_prefix") or "")))
        return None
    except SettingsError as exc:  # a JSON-valued variable (a field map, a status map) that is not JSON
        errors.append(ProviderCheck(name, "error", f"invalid settings ({unreadable(exc)})"))
        return None


def _raw(value: Any) -> str:
    if value is None:
        return ""
    getter = getattr(value, "get_secret_value", None)
    return str(getter() if getter else value).strip()


def _url(value: str | None, env: str) -> list[str]:
    return [p for p in [url_problem(value, env)] if p] if value else []


# ---------------------------------------------------------------------------- per-provider format rules


def events_problems(secrets: list[str]) -> list[str]:
    problems = []
    for i, entry in enumerate(secrets, 1):
        if not entry.startswith("whsec_"):
            problems.append(f"NOSHOW_WEBHOOK_SECRET entry {i} must start with whsec_ (whsec_<base64>)")
    return problems


def twilio_problems(t: TwilioSettings, sending: bool) -> list[str]:
    """The webhook needs the Auth Token (and the public URL Twilio calls); sending needs the rest."""
    problems: list[str] = []
    if not _raw(t.auth_token):
        problems.append("missing TWILIO_AUTH_TOKEN")
    problems += _url(t.public_base_url, "TWILIO_PUBLIC_BASE_URL")
    if not sending:
        return problems
    if not t.account_sid:
        problems.append("missing TWILIO_ACCOUNT_SID")
    elif not t.account_sid.startswith("AC"):
        problems.append("TWILIO_ACCOUNT_SID must start with AC")
    if not (t.from_number or t.whatsapp_from or t.messaging_service_sid):
        problems.append("missing TWILIO_FROM_NUMBER, TWILIO_WHATSAPP_FROM or TWILIO_MESSAGING_SERVICE_SID")
    if t.from_number and not E164.match(t.from_number.strip()):
        problems.append("TWILIO_FROM_NUMBER must be E.164, e.g. +15557654321")
    if t.whatsapp_from and not E164.match(t.whatsapp_from.strip().removeprefix("whatsapp:")):
        problems.append("TWILIO_WHATSAPP_FROM must be E.164 (optionally prefixed whatsapp:)")
    if t.messaging_service_sid and not t.messaging_service_sid.startswith("MG"):
        problems.append("TWILIO_MESSAGING_SERVICE_SID must start with MG")
    problems += _url(t.status_callback_url, "TWILIO_STATUS_CALLBACK_URL")
    problems += _url(t.api_base_url, "TWILIO_API_BASE_URL")
    return problems


def sendgrid_send_problems(s: SendGridSettings) -> list[str]:
    problems: list[str] = []
    key = _raw(s.api_key)
    if not key:
        problems.append("missing SENDGRID_API_KEY")
    elif not key.startswith("SG."):
        problems.append("SENDGRID_API_KEY must start with SG.")
    if not s.from_email:
        problems.append("missing SENDGRID_FROM_EMAIL")
    elif not EMAIL.match(s.from_email.strip()):
        problems.append("SENDGRID_FROM_EMAIL is not an email address")
    if s.reply_to and not EMAIL.match(s.reply_to.strip()):
        problems.append("SENDGRID_REPLY_TO is not an email address")
    problems += _url(s.api_host, "SENDGRID_API_HOST")
    return problems


def sendgrid_parse_problems(s: SendGridSettings) -> list[str]:
    basic = _raw(s.parse_basic_auth)
    if basic and (":" not in basic or basic.startswith(":")):
        return ["SENDGRID_PARSE_BASIC_AUTH must be user:password"]
    return []


def slack_notify_problems(s: SlackSettings) -> list[str]:
    problems: list[str] = []
    token = _raw(s.bot_token)
    if not token:
        problems.append("missing SLACK_BOT_TOKEN")
    elif not token.startswith("xoxb-"):
        problems.append("SLACK_BOT_TOKEN must be a bot token (xoxb-...)")
    if not s.review_channel.strip():
        problems.append("missing SLACK_REVIEW_CHANNEL (a channel id such as C123ABC456)")
    problems += _url(s.api_base_url, "SLACK_API_BASE_URL")
    if s.review_url_template:
        problems += _url(s.review_url_template, "SLACK_REVIEW_URL_TEMPLATE")
        try:
            s.review_url_template.format(case_id="case-x")
        except (KeyError, IndexError, ValueError):
            problems.append("SLACK_REVIEW_URL_TEMPLATE may only use the {case_id} placeholder")
    return problems


def slack_interactivity_problems(routing: RoutingSettings) -> list[str]:
    if not routing.slack_reviewer_ids:
        return ["NOSHOW_SLACK_REVIEWERS is empty: every decision made in Slack would be refused "
                "(list Slack user ids, or * for anyone in the workspace)"]
    return []


# ---------------------------------------------------------------------------- the sections


def _apply(check: ProviderCheck, problems: list[str]) -> ProviderCheck:
    if check.status == "error" or not problems:
        return check
    return ProviderCheck(check.name, "error", "; ".join(problems))


SEE_SETTINGS = "invalid settings (see the settings section)"


def _guard(fn: Callable[[], list[str]]) -> list[str]:
    try:
        return fn()
    except ValidationError:
        return [SEE_SETTINGS]


def _sanitized(check: ProviderCheck) -> ProviderCheck:
    # pydantic's own message quotes the input value, which may be a secret
    if check.status == "error" and "ValidationError" in check.detail:
        return ProviderCheck(check.name, "error", SEE_SETTINGS)
    return check


def webhook_checks(settings: Settings) -> list[ProviderCheck]:
    routes, checks = inbound_connectors(settings)
    secrets = settings.auth.webhook_secrets
    dev_secret = (secret(settings.auth.webhook_secret) or "") == DEV_WEBHOOK_SECRET
    extra: dict[str, Callable[[], list[str]]] = {
        "events": lambda: events_problems(secrets),
        "twilio": lambda: twilio_problems(settings.twilio, sending=False),
        "sendgrid_parse": lambda: sendgrid_parse_problems(settings.sendgrid),
        "slack": lambda: slack_interactivity_problems(settings.routing),
        "mindbody": lambda: mindbody_problems(settings),
    }
    out = []
    for check in checks:
        fn = extra.get(check.name)
        if check.status == "ok" and fn is not None:
            check = _apply(check, _guard(fn))
        check = _sanitized(check)
        if check.name == "events" and check.status == "ok" and dev_secret:
            check = ProviderCheck(check.name, "ok", check.detail + " (the development secret: set "
                                                                  "NOSHOW_WEBHOOK_SECRET before going live)")
        if check.name == "mindbody" and check.status == "ok" and "mindbody" in deployment_health_sources(settings):
            check = ProviderCheck(check.name, "ok", check.detail + "; handled as health data (NOSHOW_MINDBODY_HEALTH)")
        out.append(check)
    for connector in routes.values():
        close = getattr(connector, "close", None)
        if callable(close):
            close()
    return out


def outbound_checks(settings: Settings) -> list[ProviderCheck]:
    routing = settings.routing
    problems = {
        "twilio-send": _guard(lambda: twilio_problems(settings.twilio, sending=True))
        if routing.sms_provider == "twilio" else [],
        "sendgrid-send": _guard(lambda: sendgrid_send_problems(settings.sendgrid))
        if routing.email_provider == "sendgrid" else [],
        "gmail-send": _guard(lambda: gmail_send_problems(settings)) if routing.email_provider == "gmail" else [],
        "slack-notify": _guard(lambda: slack_notify_problems(settings.slack))
        if routing.review_notifier == "slack" else [],
    }
    email = {"sendgrid-send": "sendgrid", "gmail-send": "gmail"}
    names = {"twilio-send": routing.sms_provider,
             **{n: p if p == routing.email_provider else "local" for n, p in email.items()},
             "slack-notify": routing.review_notifier}
    if any(problems.values()):
        # building would fail on the first bad provider; the format rules already say what is wrong
        return [ProviderCheck(n, "error", "; ".join(p)) if p else
                ProviderCheck(n, "ok" if names[n] != "local" else "off",
                              f"{names[n]} selected" if names[n] != "local" else "local outbox / queue")
                for n, p in problems.items()]
    with tempfile.TemporaryDirectory() as tmp:  # the send log is a file: do not create it in the data dir
        probe = settings.model_copy(update={"storage": settings.storage.model_copy(update={"data_dir": Path(tmp)})})
        try:
            _, notifiers, checks = outbound(probe, _NoChannel())  # type: ignore[arg-type]
        except Exception as exc:  # a provider SDK refusing its settings must be a line, not a traceback
            return [_sanitized(ProviderCheck("outbound", "error", f"{type(exc).__name__}: {exc}"))]
        for notifier in notifiers:
            close = getattr(notifier, "close", None)
            if callable(close):
                close()
    return [*checks, *in_app_checks(settings)]


def temporal_check(settings: Settings) -> ProviderCheck:
    t = settings.temporal
    problems = connection_problems(t)
    if problems:
        return ProviderCheck("temporal", "error", "; ".join(problems))
    if t.embedded:
        return ProviderCheck("temporal", "off", "the embedded dev server (TEMPORAL_ADDRESS unset)")
    how = "API key" if secret(t.api_key) else "mTLS" if t.tls_client_cert_path else "TLS" if t.uses_tls else "plain"
    return ProviderCheck("temporal", "ok", f"{'Temporal Cloud' if t.cloud else 'server'} at TEMPORAL_ADDRESS, "
                                           f"namespace TEMPORAL_NAMESPACE, {how}")


class _NoChannel:
    """Stands in for the local outbox: the check only builds channels, it never sends."""


def load_settings(errors: list[ProviderCheck]) -> Settings | None:
    """Every section on its own, so each bad one is named; then the whole (its cross-section rules)."""
    sections: dict[str, Any] = {}
    for name, spec in Settings.model_fields.items():
        cls = spec.annotation
        if isinstance(cls, type) and issubclass(cls, BaseSettings):
            loaded = _load(cls, name, errors)
            if loaded is not None:
                sections[name] = loaded
    if errors:
        return None
    try:
        return Settings(**sections)
    except ValidationError as exc:
        errors.append(_settings_error("settings", exc))
        return None


def collect(live: bool = False) -> dict[str, list[ProviderCheck]]:
    errors: list[ProviderCheck] = []
    settings = load_settings(errors)
    sections: dict[str, list[ProviderCheck]] = {"settings": errors}
    if settings is not None:
        sections["settings"].extend(ProviderCheck("public-url", "error", p)
                                    for p in _url(settings.api.public_base_url, "NOSHOW_PUBLIC_BASE_URL"))
        sections["settings"].extend(ProviderCheck("production", "error", p) for p in production_problems(settings))
        providers = configured_providers(settings)
        if providers and is_loopback_url(settings.api.public_base_url) and not settings.deploy.production:
            sections["settings"].append(ProviderCheck(
                "public-url", "ok", f"NOSHOW_PUBLIC_BASE_URL is loopback: {', '.join(providers)} cannot reach it "
                                    "(fine against local fakes; an error with NOSHOW_ENV=production)"))
        sections["temporal"] = [temporal_check(settings)]
        sections["webhooks"] = webhook_checks(settings)
        sections["outbound"] = outbound_checks(settings)
        sections["writeback"] = writeback_checks(settings)
        sections["reconcile"] = reconcile_checks(settings)
        if live:
            from workers.providers.live import live_checks

            sections["live"] = live_checks(settings)
    if not sections["settings"]:
        del sections["settings"]
    return sections


def connectors_check(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    live: Annotated[bool, typer.Option("--live", help="also call each configured provider once, read-only")] = False,
) -> None:
    """Validate connector settings from the environment (formats only, no network unless --live). Exit 1 on any
    error."""
    sections = collect(live)
    errors = sum(c.status == "error" for checks in sections.values() for c in checks)
    if as_json:
        typer.echo(json.dumps({name: [{"name": c.name, "status": c.status, "detail": c.detail} for c in checks]
                               for name, checks in sections.items()} | {"errors": errors}, indent=2))
    else:
        for name, checks in sections.items():
            typer.echo(name)
            for c in checks:
                typer.echo(f"  {c.name:16} {c.status:6} {c.detail}")
        typer.echo(f"{errors} error(s)" if errors else "no errors")
    if errors:
        raise typer.Exit(1)


connectors_app = typer.Typer(no_args_is_help=True, help="Connected providers: check their settings.")
connectors_app.command("check")(connectors_check)
