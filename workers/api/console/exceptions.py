"""The staff inbox's whole list: what the local store keeps (replies nobody could route, staff tasks) and what
only the reporting ledger knows (sends no channel could deliver, reviews that lapsed), with their resolutions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select

from connectors.local.staff_inbox import StaffInbox
from reporting.ledger import Ledger
from reporting.schema import ledger_events
from workers.dependencies import Dependencies

LAPSED = "review lapsed"


def _ledger_rows(ledger: Ledger, limit: int, event_id: str | None = None) -> list[dict[str, Any]]:
    query = select(ledger_events).where(or_(
        ledger_events.c.type == "message_failed",
        and_(ledger_events.c.type == "case_closed", ledger_events.c.reason == LAPSED),
    ))
    if event_id is not None:
        query = query.where(ledger_events.c.event_id == event_id)
    with ledger.engine.connect() as conn:
        rows = conn.execute(query.order_by(ledger_events.c.at.desc()).limit(limit)).mappings().all()
    out = []
    for r in rows:
        failed = r["type"] == "message_failed"
        what = (f"could not send {r['template_id'] or 'a message'} by {r['channel'] or '?'}: {r['reason'] or '?'}"
                if failed else "nobody decided the review in time; the case was closed")
        out.append({"item_id": f"ledger:{r['event_id']}", "kind": "failed_send" if failed else "lapsed_review",
                    "case_id": r["case_id"], "channel": r["channel"], "text": what, "at": r["at"].isoformat(),
                    "resolved_by": None, "note": None, "resolved_at": None})
    return out


def inbox_items(deps: Dependencies, include_resolved: bool = False, limit: int = 200) -> list[dict[str, Any]]:
    store = StaffInbox(deps.db)
    from_ledger = _ledger_rows(deps.ledger, limit)
    done = store.resolutions([r["item_id"] for r in from_ledger])
    for row in from_ledger:
        row.update(done.get(row["item_id"], {}))
    if not include_resolved:
        from_ledger = [r for r in from_ledger if r["resolved_by"] is None]
    rows = store.items(include_resolved=include_resolved, limit=limit) + from_ledger
    return sorted(rows, key=lambda r: str(r["at"]), reverse=True)[:limit]


def resolve_item(deps: Dependencies, item_id: str, who: str, note: str | None) -> bool:
    store = StaffInbox(deps.db)
    kind, _, key = item_id.partition(":")
    if kind == "ledger":
        return bool(key) and bool(_ledger_rows(deps.ledger, 1, event_id=key)) and \
            store.record_resolution(item_id, who, note)
    return store.resolve(item_id, who, note)
