"""Preparing a Temporal namespace for the engine: the namespace itself on a self-hosted server, then every search
attribute of `workflows.search_attributes`. Idempotent; a conflict (an attribute of another type) is an error,
never skipped, so a deploy fails before its worker starts rather than writing cases no query can find."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from workflows import search_attributes as sa


class SetupError(RuntimeError):
    """The namespace cannot be prepared; the message says what to do."""


async def ensure_namespace(client: Client, namespace: str, retention: timedelta) -> bool:
    """Register `namespace` when it does not exist; True when it was created now."""
    try:
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
        return False
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
    await client.workflow_service.register_namespace(RegisterNamespaceRequest(
        namespace=namespace, workflow_execution_retention_period=Duration(seconds=int(retention.total_seconds()))))
    return True


async def missing_search_attributes(client: Client, namespace: str) -> dict[str, int]:
    """The engine's attributes this namespace lacks, by name with their indexed type; a clash raises."""
    listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    existing = {**dict(listed.system_attributes), **dict(listed.custom_attributes)}
    missing: dict[str, int] = {}
    for key in sa.ALL:
        wanted = int(key.indexed_value_type)
        have = existing.get(key.name)
        if have is None:
            missing[key.name] = wanted
        elif int(have) != wanted:
            raise SetupError(f"search attribute {key.name} exists as {_type_name(have)}, the engine needs "
                             f"{_type_name(wanted)}: remove it or use another namespace")
    return missing


def _type_name(value: int) -> str:
    return IndexedValueType.Name(value).removeprefix("INDEXED_VALUE_TYPE_")  # type: ignore[arg-type]


async def ensure_search_attributes(client: Client, namespace: str, wait: float = 60.0,
                                   echo: Callable[[str], None] = print) -> list[str]:
    """Add the missing attributes; returns their names. Retries while a just-registered namespace propagates."""
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        try:
            missing = await missing_search_attributes(client, namespace)
            if missing:
                await client.operator_service.add_search_attributes(AddSearchAttributesRequest(
                    namespace=namespace, search_attributes=missing))  # type: ignore[arg-type]
            still = await missing_search_attributes(client, namespace)
            if not still:
                return sorted(missing)
            last = f"still missing after adding: {', '.join(sorted(still))}"
        except RPCError as exc:
            if exc.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.UNAVAILABLE):
                raise SetupError(f"Temporal refused the search attributes: {exc.message}") from exc
            last = exc.message
        if asyncio.get_running_loop().time() >= deadline:
            raise SetupError(f"search attributes not registered within {wait:.0f}s: {last}")
        echo(f"waiting for namespace {namespace}: {last}")
        await asyncio.sleep(1.0)
