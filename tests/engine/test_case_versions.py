"""The two case versions side by side: what LEAN_PATCH changed, as the pure answers the case asks for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.common import SearchAttributePair, TypedSearchAttributes

import workflows.search_attributes as sa
from domain.models import Stage
from policies.schema import ReviewRules
from workflows.case_versions import CLASSIC, LEAN, CaseVersion, version_for
from workflows.common import StageMark

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
STARTED = TypedSearchAttributes([SearchAttributePair(sa.STAGE, Stage.checking.value),
                                 SearchAttributePair(sa.CONTACT_KEY, "ck-1")])
# a case's moves: (stage, due time, passing); the first comes with the attributes the case started with
MOVES = [
    (Stage.checking, None, False),
    (Stage.recovering, None, True),                         # about to move again with its due time
    (Stage.recovering, T0, False),
    (Stage.recovering, T0 + timedelta(hours=4), False),     # only the due time moves
    (Stage.offering, T0 + timedelta(hours=5), False),
    (Stage.rebooked, None, False),                          # transient
    (Stage.confirmed, None, False),
]


def upserts(version: CaseVersion, started: TypedSearchAttributes) -> list[tuple[str, bool]]:
    mark, out = StageMark(), []
    for stage, at, passing in MOVES:
        first = mark.stage is None
        decision = version.upsert(mark, stage, at, passing, started if first else None)
        if decision.needed:
            out.append((stage.value, decision.with_fixed))
    return out


def test_version_for_picks_the_one_the_patch_says() -> None:
    assert version_for(True) is LEAN and version_for(False) is CLASSIC


def test_classic_upserts_every_change_of_stage_or_due_time() -> None:
    assert upserts(CLASSIC, STARTED) == [("checking", True), ("recovering", False), ("recovering", False),
                                         ("recovering", False), ("offering", False), ("rebooked", False),
                                         ("confirmed", False)]


def test_lean_upserts_only_real_stage_changes_after_a_start_with_attributes() -> None:
    assert upserts(LEAN, STARTED) == [("recovering", False), ("offering", False), ("confirmed", False)]


def test_lean_without_start_attributes_upserts_the_first_move_with_the_fixed_ones() -> None:
    assert upserts(LEAN, TypedSearchAttributes([]))[0] == ("checking", True)


def test_ledger_and_replies() -> None:
    assert (CLASSIC.carries_ledger(), CLASSIC.writes_ledger_at_checkpoints(), CLASSIC.writes_ledger_before_waiting(),
            CLASSIC.defers_last_side_effect()) == (False, True, False, False)
    assert (LEAN.carries_ledger(), LEAN.writes_ledger_at_checkpoints(), LEAN.writes_ledger_before_waiting(),
            LEAN.defers_last_side_effect()) == (True, False, True, True)
    assert not CLASSIC.classifies_replies(model_may_classify=False)
    assert LEAN.classifies_replies(model_may_classify=False) and not LEAN.classifies_replies(model_may_classify=True)


def test_routes() -> None:
    rules = ReviewRules()
    classic = CLASSIC.route(rules, "owner_approval", "owner approval needed")
    assert classic.needs_review and classic.reasons == ["owner approval needed"]
    assert classic.sla_minutes == rules.sla_minutes
    assert LEAN.route(rules, "owner_approval", "owner approval needed").needs_review
