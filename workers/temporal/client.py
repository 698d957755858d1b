"""Connecting to Temporal with the project's data converter (pydantic, plus encryption when a key is set)."""

from __future__ import annotations

import asyncio
import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from connectors.settings import secret
from workers.settings import Settings
from workers.temporal.codec import EncryptionCodec


def data_converter(settings: Settings) -> DataConverter:
    key = secret(settings.temporal.encryption_key)
    if key is None:
        return pydantic_data_converter
    codec = EncryptionCodec.from_setting(key)
    # failure messages and stack traces go through the codec too, not only payloads
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec,
                               failure_converter_class=DefaultFailureConverterWithEncodedAttributes)


async def connect(settings: Settings, wait_seconds: float = 30.0) -> Client:
    """Connect, retrying while a freshly started server comes up."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        try:
            return await Client.connect(
                settings.temporal.target,
                namespace=settings.temporal.namespace,
                data_converter=data_converter(settings),
            )
        except RuntimeError:
            if asyncio.get_running_loop().time() >= deadline:
                raise
            await asyncio.sleep(0.5)
