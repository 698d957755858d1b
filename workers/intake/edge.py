"""The acknowledgement's own threads.

The blocking steps between a webhook's arrival and its answer (parsing, the receipt check, the hand-off's write)
run in this small pool, not in the event loop's default one. There the deliveries being applied queue their own
store work (busy time, contact, address book, settle) and, under a burst, every acknowledgement would wait for
the whole burst's applications to pass through the same few threads first: the answer's latency grew with the
burst. Here an acknowledgement waits only for the acknowledgements ahead of it.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

EDGE_THREADS = 4  # the steps are short and mostly hold the interpreter: more threads would only take turns

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _edge_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=EDGE_THREADS, thread_name_prefix="webhook-edge")
        return _pool


async def on_edge(fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """`asyncio.to_thread`, on the acknowledgement's pool (context variables travel along, as they do there)."""
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_edge_pool(), call)
