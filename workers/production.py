"""What production mode (`NOSHOW_ENV=production`) refuses, one line per problem naming what to set.

The worker, the API and the commands that start services call `refuse_unsafe_start` before they bind or connect;
`noshow connectors check` reports the same lines as errors. Values are never printed, only variable names.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr

import policies
from connectors.settings import EnvSection, secret
from workers.settings import AuthSettings, Settings

# sections whose secrets, once set, mean a provider calls in or is called: the public URL must then be reachable
PROVIDER_SECTIONS = ("calcom", "calendly", "google", "graph", "hubspot", "zoom", "salesforce", "zoho", "twilio",
                     "sendgrid", "slack", "acuity", "square", "sheets", "airtable")
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
# what must be the deployment's own: the webhook secret, the people's tokens, the link key and the id salt
REQUIRED_OWN = ("webhook_secret", "reviewer_tokens", "admin_token", "link_secret", "id_salt")
LISTED = ("webhook_secret", "reviewer_tokens")  # comma-separated lists, checked entry by entry
SHIPPED_POLICY = Path(policies.__file__).parent / "defaults" / "default.yaml"


def _has_secret(section: EnvSection) -> bool:
    values = (getattr(section, name) for name in type(section).model_fields)
    return any(isinstance(v, SecretStr) and secret(v) for v in values)


def configured_providers(settings: Settings) -> list[str]:
    """The providers this configuration talks to: selected in routing, or holding a secret."""
    routing = settings.routing
    found = [name for name in PROVIDER_SECTIONS if _has_secret(getattr(settings, name))]
    for chosen in (routing.sms_provider, routing.email_provider, routing.review_notifier,
                   routing.calendar_provider, routing.crm_provider):
        name = {"outlook": "graph"}.get(chosen, chosen)
        if chosen != "local" and name not in found:
            found.append(name)
    if settings.google.channels and "google" not in found:
        found.append("google")
    return sorted(found)


def is_loopback_url(url: str) -> bool:
    host = (urlsplit(url.strip()).hostname or "").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def development_secrets(auth: AuthSettings) -> list[str]:
    """Why each auth variable that must be the deployment's own is not: still the shipped development value, or
    empty."""
    problems = []
    for name in REQUIRED_OWN:
        value, default = getattr(auth, name), type(auth).model_fields[name].default
        raw = secret(value) if isinstance(value, SecretStr) else value
        shipped = secret(default) if isinstance(default, SecretStr) else default
        if not raw:
            problems.append(f"NOSHOW_{name.upper()} is empty: set your own value")
        elif raw == shipped:
            problems.append(f"NOSHOW_{name.upper()} is the development default: set your own value")
        elif isinstance(raw, str) and isinstance(shipped, str) and name in LISTED and \
                set(_entries(raw, name)) & set(_entries(shipped, name)):
            # a rotation list or a token list may still carry the development entry beside real ones
            problems.append(f"NOSHOW_{name.upper()} still lists the development default: remove it")
    return problems



def _entries(value: str, name: str) -> list[str]:
    """The comparable entries of a comma-separated list: whole secrets, or the token part of `token=who`."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    return parts if name == "webhook_secret" else [p.split("=", 1)[0] for p in parts]


def policy_problem(file: Path | None) -> str | None:
    if file is None:
        return ("NOSHOW_POLICY_FILE is unset: the shipped default policy (with its demo program) would run; "
                "point it at your approved policy")
    if file.resolve() == SHIPPED_POLICY.resolve():
        return "NOSHOW_POLICY_FILE names the shipped default policy: point it at your approved copy"
    return None


def production_problems(settings: Settings) -> list[str]:
    """Why this configuration must not run in production (empty when it may, or when not in production mode)."""
    if not settings.deploy.production:
        return []
    problems = development_secrets(settings.auth)
    policy = policy_problem(settings.policy.file)
    if policy:
        problems.append(policy)
    providers = configured_providers(settings)
    public = settings.api.public_base_url
    if providers and is_loopback_url(public):
        problems.append(f"NOSHOW_PUBLIC_BASE_URL is a loopback address but {', '.join(providers)} must reach it: "
                        "set the public https address providers and customers call")
    elif providers and urlsplit(public).scheme != "https":
        problems.append("NOSHOW_PUBLIC_BASE_URL must be https when providers call it")
    if not secret(settings.temporal.encryption_key) and not settings.deploy.allow_plaintext_history:
        problems.append("NOSHOW_ENCRYPTION_KEY is unset: names, phones and emails would sit in Temporal history in "
                        "plain text; set a key (kid:BASE64 of 32 bytes), or NOSHOW_ALLOW_PLAINTEXT_HISTORY=true "
                        "to accept that")
    if not settings.storage.shared_database:
        problems.append("NOSHOW_DATABASE_URL is unset: cases' store would be a SQLite file inside one container; "
                        "set the shared Postgres URL (postgresql+psycopg://USER:PASSWORD@HOST:5432/noshow)")
    if settings.temporal.embedded:
        problems.append("TEMPORAL_ADDRESS is unset (the embedded dev server): set your Temporal's host:port")
    if secret(settings.gohighlevel.demo_signing_key):
        # whoever holds the private half of the configured key can forge GoHighLevel deliveries
        problems.append("NOSHOW_GOHIGHLEVEL_DEMO_SIGNING_KEY is set: it is for `noshow demo` with a test key pair; "
                        "remove it and set GoHighLevel's own NOSHOW_GOHIGHLEVEL_WEBHOOK_PUBLIC_KEY")
    return problems


def refuse_unsafe_start(settings: Settings, what: str) -> None:
    """Exit with code 2 and one line per problem when production mode, or the health data rule
    (workers/health_data.py), forbids starting `what`."""
    from workers.health_data import health_problems

    problems = production_problems(settings)
    health = health_problems(settings)
    if not problems and not health:
        return
    for problem in problems:
        print(f"error: refusing to start the {what} in production: {problem}", file=sys.stderr)
    for problem in health:
        print(f"error: refusing to start the {what}: {problem}", file=sys.stderr)
    raise SystemExit(2)
