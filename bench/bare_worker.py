"""A worker process for the bare baseline, configured like `workers.worker` (same converter, thread pool
and workflow cache), so the throughput ratio compares workflows, not worker settings.

    TEMPORAL_ADDRESS=127.0.0.1:PORT BENCH_TASK_QUEUE=q python -m bench.bare_worker
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from bench.bare import BareWorkflow, noop
from workers.settings import Settings


async def main() -> None:
    client = await Client.connect(os.environ["TEMPORAL_ADDRESS"], data_converter=pydantic_data_converter)
    worker = Worker(
        client,
        task_queue=os.environ["BENCH_TASK_QUEUE"],
        workflows=[BareWorkflow],
        activities=[noop],
        activity_executor=ThreadPoolExecutor(max_workers=32),
        max_cached_workflows=Settings().temporal.max_cached_workflows,
    )
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main())
