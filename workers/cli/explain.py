"""`noshow explain attendance|send|reply`: how the policy decides, as JSON, to test a change before it ships.

Each explainer is imported when it runs: the reply explainer needs the reply reader only, not the policy
engine's schema and linter that the other two load."""

from __future__ import annotations

from workers.cli.lazy import Lazy, lazy_group

EXPLAINERS: dict[str, Lazy] = {
    "attendance": Lazy("workers.cli.policy", "explain_attendance",
                       "Explain the attendance verdict for one appointment: verdict, confidence, reasons."),
    "send": Lazy("workers.cli.policy", "explain_send",
                 "Explain whether a message may go now, the next allowed instant, and why."),
    "reply": Lazy("workers.cli.replies", "explain_reply",
                  "Explain how a reply is understood: intent, chosen slot, confidence, review flag."),
}

explain_app = lazy_group(EXPLAINERS, no_args_is_help=True,
                         help="Explain a policy decision as JSON, to test a change.")
