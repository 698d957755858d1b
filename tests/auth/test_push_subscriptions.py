"""Registering Web Push subscriptions over the API: admin only, refused with a clear 409 when there is no key to
seal them with, validated (a 422 that never echoes the endpoint), stored sealed under the contact's key, and
deletable only under the contact they belong to."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from connectors.local.db import LocalDb
from domain.ids import contact_key_for
from tests.auth.conftest import auth_settings
from workers.providers.in_app import push_subscriptions

ADMIN = {"Authorization": "Bearer dev-admin-token"}
REVIEWER = {"Authorization": "Bearer tok-default"}
KEY = "k1:" + base64.b64encode(b"e" * 32).decode()
SUBSCRIPTION = {"endpoint": "https://push.example.net/push/secret-capability-123",
                "keys": {"p256dh": "B" + "A" * 86, "auth": "QUJDREVGR0hJSktMTU5PUA"}}


async def test_subscriptions_are_stored_sealed_for_the_contact(tmp_path: Path, make_app: Callable[..., Any]) -> None:
    settings = auth_settings(tmp_path)
    settings.temporal = settings.temporal.model_copy(update={"encryption_key": SecretStr(KEY)})
    _, http = make_app(settings)
    url = "/contacts/crm-123/push-subscriptions"
    assert (await http.put(url, json=SUBSCRIPTION)).status_code == 401
    assert (await http.put(url, json=SUBSCRIPTION, headers=REVIEWER)).status_code == 403
    bad = await http.put(url, json={**SUBSCRIPTION, "keys": {"p256dh": "x"}}, headers=ADMIN)
    assert bad.status_code == 422 and "secret-capability-123" not in bad.text
    created = await http.put(url, json=SUBSCRIPTION, headers=ADMIN)
    assert created.status_code == 201, created.text
    sid = created.json()["subscription_id"]
    store = push_subscriptions(settings, LocalDb(settings.storage.database))
    assert store is not None
    [(found, sub)] = store.for_contact(contact_key_for("crm-123", settings.auth.id_salt))
    assert found == sid and str(sub.endpoint) == SUBSCRIPTION["endpoint"]
    assert (await http.delete(f"/contacts/other-contact/push-subscriptions/{sid}", headers=ADMIN)).status_code == 404
    assert (await http.delete(f"{url}/{sid}", headers=ADMIN)).status_code == 204
    assert store.for_contact(contact_key_for("crm-123", settings.auth.id_salt)) == []


async def test_without_an_encryption_key_subscriptions_are_refused(make_app: Callable[..., Any]) -> None:
    _, http = make_app()
    answer = await http.put("/contacts/crm-123/push-subscriptions", json=SUBSCRIPTION, headers=ADMIN)
    assert answer.status_code == 409 and "NOSHOW_ENCRYPTION_KEY" in answer.json()["detail"]
