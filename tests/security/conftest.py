"""An encrypting stack: the project's data converter with a payload codec, a client of its own connected to the
session dev server, and a real worker on a fresh task queue. `plain_client` (the session client) has no codec:
it sees what the Temporal server, its database and anyone with namespace access see."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest_asyncio
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from connectors.sendgrid.channel import SendGridChannel
from connectors.sendgrid.settings import SendGridSettings
from connectors.twilio.channel import TwilioChannel
from connectors.twilio.sendlog import SqliteSendLog
from connectors.twilio.settings import TwilioSettings
from domain.models import Channel
from tests.engine.conftest import settings_for
from tests.fakes.sendgrid_fake import API_KEY
from tests.fakes.twilio_fake import ACCOUNT_SID, AUTH_TOKEN
from tests.faults.harness import CALLBACK, FaultSendGrid, FaultTwilio
from tests.helpers import fast_policy
from workers.dependencies import Dependencies, build_dependencies
from workers.intake.cases import CaseService
from workers.settings import Settings
from workers.temporal.client import data_converter
from workers.temporal.codec import EncryptionCodec
from workers.worker import build_worker

# the current key encrypts; the retired one is listed to show rotation does not disturb a running stack
KEY_SPEC = "k2:" + base64.b64encode(b"\x22" * 32).decode() + ",k1:" + base64.b64encode(b"\x11" * 32).decode()


@dataclass
class EncryptedStack:
    settings: Settings
    client: Client  # encrypts and decrypts
    plain_client: Client  # no codec: the server's view
    deps: Dependencies
    cases: CaseService
    codec: EncryptionCodec


@asynccontextmanager
async def encrypted_stack(env: WorkflowEnvironment, task_queue: str, tmp: Path,
                          channels: Callable[[Path], dict[Channel, Any]] | None = None
                          ) -> AsyncIterator[EncryptedStack]:
    settings = settings_for(tmp, task_queue, fast_policy())
    settings = settings.model_copy(update={"temporal": settings.temporal.model_copy(
        update={"encryption_key": SecretStr(KEY_SPEC)})})
    converter = data_converter(settings)  # the worker's wiring: pydantic converter + EncryptionCodec from settings
    assert isinstance(converter.payload_codec, EncryptionCodec)
    client = await Client.connect(env.client.service_client.config.target_host, namespace=env.client.namespace,
                                  data_converter=converter)
    deps = build_dependencies(settings)
    if channels is not None:
        deps.channels = channels(settings.storage.data_dir)  # before the worker: activities capture the dict
    worker = build_worker(client, deps, task_queue=task_queue, max_cached_workflows=0)
    task = asyncio.create_task(worker.run())
    try:
        yield EncryptedStack(settings, client, env.client, deps, CaseService(client, deps), converter.payload_codec)
    finally:
        await worker.shutdown()
        await asyncio.gather(task, return_exceptions=True)


@pytest_asyncio.fixture
async def encrypted(env: WorkflowEnvironment, task_queue: str, tmp_path: Path) -> AsyncIterator[EncryptedStack]:
    async with encrypted_stack(env, task_queue, tmp_path) as stack:
        yield stack


@dataclass
class Providers:
    twilio: FaultTwilio
    sendgrid: FaultSendGrid

    def channels(self, data_dir: Path) -> dict[Channel, Any]:
        """The real Twilio and SendGrid connectors, pointed at the local fakes."""
        log = SqliteSendLog(data_dir / "sendlog.db")
        twilio = TwilioSettings(account_sid=ACCOUNT_SID, auth_token=SecretStr(AUTH_TOKEN), from_number="+15005550006",
                                whatsapp_from="+15005550006", status_callback_url=CALLBACK,
                                api_base_url=self.twilio.base_url, timeout_seconds=2.0)
        sendgrid = SendGridSettings(api_key=SecretStr(API_KEY), from_email="clinic@example.com",
                                    api_host=self.sendgrid.base_url, timeout_seconds=2.0)
        return {Channel.sms: TwilioChannel(twilio, send_log=log), Channel.whatsapp: TwilioChannel(twilio, send_log=log),
                Channel.email: SendGridChannel(sendgrid, send_log=log)}


@pytest_asyncio.fixture
async def providers() -> AsyncIterator[Providers]:
    twilio, sendgrid = FaultTwilio().start(), FaultSendGrid().start()
    try:
        yield Providers(twilio, sendgrid)  # type: ignore[arg-type]
    finally:
        twilio.stop()
        sendgrid.stop()


@pytest_asyncio.fixture
async def encrypted_providers(env: WorkflowEnvironment, task_queue: str, tmp_path: Path,
                              providers: Providers) -> AsyncIterator[tuple[EncryptedStack, Providers]]:
    async with encrypted_stack(env, task_queue, tmp_path, providers.channels) as stack:
        yield stack, providers
