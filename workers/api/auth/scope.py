"""Program scope: what a principal may see. A resource of a program the caller is not scoped to does not exist
for them (404, so case ids cannot be probed); lists hold only what the caller may see, admins see everything."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, HTTPException
from temporalio.client import Client
from temporalio.service import RPCError

from domain.case import CaseState
from domain.ids import is_case_id
from workers.api.auth.principal import Principal
from workers.api.deps import Caller, State
from workflows.case import RecoveryCaseWorkflow
from workflows.search_attributes import PROGRAM

_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")  # a program name that can be quoted in a visibility query


def visibility_clause(who: Principal) -> str | None:
    """The list-query restriction for `who` (None: no restriction); an empty scope matches nothing."""
    if who.every_program:
        return None
    names = sorted(p for p in who.programs if _NAME.match(p))
    if not names:
        return "NoShowProgram = '\u0000none'"
    return "NoShowProgram IN (" + ", ".join(f"'{n}'" for n in names) + ")"


async def workflow_program(client: Client, workflow_id: str) -> str | None:
    """The program a workflow was started under (its NoShowProgram attribute), None when unknown."""
    try:
        described = await client.get_workflow_handle(workflow_id).describe()
    except RPCError:
        return None
    value = described.typed_search_attributes.get(PROGRAM)
    return value if isinstance(value, str) else None


async def visible_case(case_id: str, st: State, who: Caller) -> CaseState:
    """The case's state, when it exists and the caller's programs include its program; else 404."""
    if not is_case_id(case_id):  # another workflow's id must not be queried as a case
        raise HTTPException(404, "no such case")
    try:
        found: CaseState = await st.cases.handle(case_id).query(RecoveryCaseWorkflow.state_query)
    except RPCError:
        raise HTTPException(404, "no such case") from None
    if not who.may_see(found.program):
        raise HTTPException(404, "no such case")
    return found


VisibleCase = Annotated[CaseState, Depends(visible_case)]
