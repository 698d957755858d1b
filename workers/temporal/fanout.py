"""An opt-out reaches every open case of the contact: the consent ledger already blocks their sends, the signal
lets each close at once with the right stage. Cases are found by their opaque contact key, never by address."""

from __future__ import annotations

import structlog
from temporalio.client import Client

from domain.case import OptOutNotice
from workflows.case import RecoveryCaseWorkflow

log = structlog.get_logger(__name__)


async def stop_open_cases(client: Client, contact_key: str, event_id: str, except_case: str | None) -> None:
    """Signal every running case of a contact that it opted out (the consent ledger already blocks sends)."""
    query = f"NoShowContactKey = '{contact_key}' AND ExecutionStatus = 'Running'"
    async for wf in client.list_workflows(query):
        if wf.id == except_case:
            continue
        try:
            await client.get_workflow_handle(wf.id).signal(RecoveryCaseWorkflow.opted_out,
                                                        OptOutNotice(event_id=event_id, channel="*"))
        except Exception as exc:  # a case that closed meanwhile needs no signal
            log.info("opt_out_fanout_skipped", case_id=wf.id, error=type(exc).__name__)
