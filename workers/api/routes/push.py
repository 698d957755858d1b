"""Web Push subscriptions, registered by the business's site or app for a customer it knows: the browser's
`PushSubscription.toJSON()` under the customer's contact id (the id the appointment source uses). Admin only:
the endpoint and keys are secrets, kept sealed (NOSHOW_ENCRYPTION_KEY) and never echoed or logged."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path

from connectors.local.push_subscriptions import PushSubscription, PushSubscriptions
from domain.ids import contact_key_for
from workers.api.deps import Admin, State
from workers.api.models import Problem
from workers.providers.in_app import push_subscriptions

router = APIRouter(tags=["push"])

ContactId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")]
SubscriptionId = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]


def _store(st: State) -> PushSubscriptions:
    store = push_subscriptions(st.settings, st.deps.db)
    if store is None:
        raise HTTPException(409, "push subscriptions need NOSHOW_ENCRYPTION_KEY (they are stored sealed)")
    return store


@router.put("/contacts/{contact_id}/push-subscriptions", status_code=201,
            responses={409: {"model": Problem, "description": "no encryption key to seal subscriptions with"}},
            summary="Store a browser's Web Push subscription for a contact")
async def add_push_subscription(contact_id: ContactId, body: PushSubscription, st: State, who: Admin
                                ) -> dict[str, str]:
    store = _store(st)
    key = contact_key_for(contact_id, st.settings.auth.id_salt)
    sid = await asyncio.to_thread(store.add, key, body)
    st.deps.reviews.audit(who.identity, "push.subscribe", None, {"subscription": sid})
    return {"subscription_id": sid}


@router.delete("/contacts/{contact_id}/push-subscriptions/{subscription_id}", status_code=204,
               responses={404: {"model": Problem}, 409: {"model": Problem}},
               summary="Forget one Web Push subscription of a contact")
async def remove_push_subscription(contact_id: ContactId, subscription_id: SubscriptionId, st: State,
                                   who: Admin) -> None:
    store = _store(st)
    key = contact_key_for(contact_id, st.settings.auth.id_salt)
    owned = await asyncio.to_thread(store.for_contact, key)
    if subscription_id not in {sid for sid, _ in owned}:
        raise HTTPException(404, "no such subscription for this contact")
    await asyncio.to_thread(store.remove, subscription_id)
    st.deps.reviews.audit(who.identity, "push.unsubscribe", None, {"subscription": subscription_id})
