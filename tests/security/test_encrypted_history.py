"""A real case with encryption on: the Temporal server holds only ciphertext of the customer's data."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads, SearchAttributes

from domain.case import CaseState
from domain.models import Channel, EventType, Reply, Stage
from tests.helpers import appointment, event, eventually
from tests.security.conftest import EncryptedStack
from tests.security.sweep import Canary, decrypt_all, find, messages_of, payloads_of
from workers.temporal.codec import ENCODING
from workers.temporal.codec_server import create_codec_app
from workflows.case import RecoveryCaseWorkflow


async def state_of(stack: EncryptedStack, case_id: str) -> CaseState:
    return await stack.cases.handle(case_id).query(RecoveryCaseWorkflow.state_query)


async def test_history_fetched_without_the_codec_holds_no_plaintext(encrypted: EncryptedStack) -> None:
    canary = Canary(1)
    appt = appointment(contact_id=canary.contact_id, phone=canary.phone, email=canary.email,
                       timezone=canary.timezone)
    appt.contact.name = canary.name
    outcome = await encrypted.cases.submit_event(event(appt, EventType.no_show))
    case_id = outcome.case_id
    assert outcome.status == "accepted" and case_id
    await eventually(lambda: asyncio.sleep(0, encrypted.deps.outbox.messages(case_id)), lambda m: len(m) >= 1)
    await eventually(lambda: state_of(encrypted, case_id), lambda s: s.stage == Stage.recovering)
    text = f"Sorry, I had {canary.symptom} that morning. Can we find another time?"
    await encrypted.cases.submit_reply(
        Reply(reply_id=f"r-{uuid.uuid4().hex[:10]}", channel=Channel.sms, text=text, received_at=datetime.now(UTC)),
        sender=None, case_id=case_id)
    offering = await eventually(lambda: state_of(encrypted, case_id), lambda s: s.stage == Stage.offering)
    assert len(offering.offered) == 3  # the encrypted round trip carried the case forward normally

    needles = {**canary.strings(), "symptom": canary.symptom}
    raw = await encrypted.plain_client.get_workflow_handle(case_id).fetch_history()
    blob = b"".join(e.SerializeToString() for e in raw.events)
    assert find(blob, needles) == []
    assert find(raw.to_json(), needles) == []

    # every payload is ciphertext except search attributes, which are opaque or categorical by design
    search_attr_payloads = {p.SerializeToString() for e in raw.events
                            for sa in messages_of(e, SearchAttributes.DESCRIPTOR.full_name)
                            for p in payloads_of(sa)}
    # ... and workflow.patched markers, which the SDK writes itself (no codec): a version id, no customer data
    patch_payloads = {p.SerializeToString() for e in raw.events
                      if e.marker_recorded_event_attributes.marker_name == "core_patch" for p in payloads_of(e)}
    payloads = [p for e in raw.events for p in payloads_of(e)]
    encrypted_payloads = [p for p in payloads if p.metadata.get("encoding") == ENCODING]
    assert len(encrypted_payloads) >= 10
    assert {p.metadata["encryption-key-id"] for p in encrypted_payloads} == {b"k2"}
    assert [p for p in payloads if p.metadata.get("encoding") != ENCODING
            and p.SerializeToString() not in search_attr_payloads | patch_payloads] == []

    # positive control: the customer's data IS in the history, readable only with the key
    decrypted = await encrypted.client.get_workflow_handle(case_id).fetch_history()
    for e in decrypted.events:
        await decrypt_all(e, encrypted.codec)
    found = find(b"".join(e.SerializeToString() for e in decrypted.events), needles)
    assert {"name", "phone e164", "email", "symptom"} <= set(found)

    # a client without the key cannot read the case either
    with pytest.raises(Exception, match="encoding"):
        await encrypted.plain_client.get_workflow_handle_for(RecoveryCaseWorkflow.run, case_id).query(  # type: ignore[arg-type]
            RecoveryCaseWorkflow.state_query)

    # and the codec server decodes exactly these payloads for an engineer with a token
    app = create_codec_app(encrypted.codec, ["engineer-token"], ["http://127.0.0.1:8233"])
    started = raw.events[0].workflow_execution_started_event_attributes.input
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8234") as http:
        denied = await http.post("/decode", content=json_format.MessageToJson(started))
        assert denied.status_code == 401
        response = await http.post("/decode", content=json_format.MessageToJson(started),
                                   headers={"Authorization": "Bearer engineer-token", "X-Namespace": "default"})
    assert response.status_code == 200
    shown = Payloads()
    json_format.Parse(response.content, shown)
    assert {"name", "phone e164", "email"} <= set(find(b"".join(p.data for p in shown.payloads), needles))

    await encrypted.client.get_workflow_handle(case_id).terminate(reason="test finished")
