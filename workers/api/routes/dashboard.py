"""The reporting dashboard, its data and CSV export, read from the ledger: owners and admins only, and every
export of the figures is audited (who, which view, which filters by name; no filter values, which may be free
text). An owner scoped to some programs sees only their figures; `?program=` another program answers 404."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request

from reporting.dashboard import dashboard_router
from reporting.metrics import Programs
from workers.api.auth.principal import Principal
from workers.api.deps import Owner, State

EXPORTS = ("/dashboard/export.csv", "/dashboard/data.json")


async def owner_with_audit(request: Request, st: State, who: Owner) -> None:
    if request.url.path in EXPORTS:
        st.deps.reviews.audit(who.identity, "dashboard.export", None,
                              {"view": request.url.path.rsplit("/", 1)[-1], "via": who.via,
                               "filters": sorted(request.query_params.keys())})


def programs_of(who: Principal) -> Programs:
    """The programs whose figures `who` may see; None: every program's, and those of no known program."""
    return None if who.every_program else frozenset(who.programs)


def owner_programs(who: Owner) -> Programs:
    return programs_of(who)


def router_for(app: FastAPI) -> APIRouter:
    # the ledger is read through the app state, so a test can swap the dependencies after start-up
    return dashboard_router(lambda: app.state.noshow.deps.ledger, dependencies=[Depends(owner_with_audit)],
                            programs=owner_programs)
