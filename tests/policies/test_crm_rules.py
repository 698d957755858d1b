"""CRM write rules: writable fields only, protected never, notes appended, before/after in the plan."""

from __future__ import annotations

from policies.crm_rules import plan_write
from policies.schema import CrmRules


def test_writable_fields_change_with_before_and_after() -> None:
    plan = plan_write(CrmRules(), {"outcome": "booked"}, {"outcome": "no_show", "risk_flag": "repeat"})
    assert [(c.field, c.before, c.after, c.mode) for c in plan.changes] == [
        ("outcome", "booked", "no_show", "set"), ("risk_flag", None, "repeat", "set")
    ]


def test_protected_fields_are_never_written_in_any_spelling() -> None:
    desired = {"owner_notes": "x", "Owner Notes": "x", "billing-status": "paid", "BILLING_STATUS": "void",
               "legal_record": "x", "clinical_record": "x", "billing_code": "x", "legal_hold": "x"}
    plan = plan_write(CrmRules(), {}, desired)
    assert plan.changes == []
    assert set(plan.refused) == set(desired)
    assert all("protected" in why for why in plan.refused.values())


def test_protected_wins_over_a_misconfigured_writable_list() -> None:
    rules = CrmRules.model_construct(**{**CrmRules().model_dump(), "writable_fields": ["*"]})
    plan = plan_write(rules, {"billing_status": "paid"}, {"billing_status": "unpaid", "outcome": "x"})
    assert "billing_status" in plan.refused and [c.field for c in plan.changes] == ["outcome"]


def test_unknown_fields_are_refused() -> None:
    plan = plan_write(CrmRules(), {}, {"lifecycle_stage": "lead"})
    assert plan.refused == {"lifecycle_stage": "not in the writable fields"}


def test_notes_are_append_only_and_idempotent() -> None:
    current = {"customer_note": "Prefers mornings"}
    plan = plan_write(CrmRules(), current, {"customer_note": "Missed 23 Nov"})
    change = plan.changes[0]
    assert change.mode == "append" and change.before == "Prefers mornings"
    assert change.after == "Prefers mornings\nMissed 23 Nov"
    again = plan_write(CrmRules(), {"customer_note": change.after}, {"customer_note": "Missed 23 Nov"})
    assert again.changes == [] and again.unchanged == ["customer_note"]
    cleared = plan_write(CrmRules(), current, {"customer_note": None})
    assert "append-only" in cleared.refused["customer_note"]


def test_clearing_only_clearable_fields() -> None:
    current = {"risk_flag": "repeat", "outcome": "no_show"}
    plan = plan_write(CrmRules(), current, {"risk_flag": None, "outcome": None})
    assert [(c.field, c.mode) for c in plan.changes] == [("risk_flag", "clear")]
    assert "outcome" in plan.refused


def test_unchanged_values_are_not_rewritten_and_notes_pass_through() -> None:
    plan = plan_write(CrmRules(), {"outcome": "no_show"}, {"outcome": "no_show"}, notes=["Rebooked", " "])
    assert plan.changes == [] and plan.unchanged == ["outcome"] and plan.notes_to_append == ["Rebooked"]
