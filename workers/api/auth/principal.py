"""A principal: one signed-in person or token, with a role and the programs it is scoped to.

Roles are ordered: a reviewer decides reviews and reads cases of its programs; an owner also sees the dashboard
and its exports; an admin does everything (the local reply simulator, the waitlist, operations) for every program.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["reviewer", "owner", "admin"]
ROLES: tuple[Role, ...] = ("reviewer", "owner", "admin")
RANK: dict[str, int] = {role: i for i, role in enumerate(ROLES)}
EVERY_PROGRAM = "*"


@dataclass
class Principal:
    identity: str  # the configured token name, or an opaque user id: never an address for signed-in people
    role: Role
    programs: set[str]
    via: Literal["token", "session"] = "token"
    csrf: str | None = field(default=None, repr=False)  # the session's CSRF token (cookie sign-ins only)

    @property
    def every_program(self) -> bool:
        return self.role == "admin" or EVERY_PROGRAM in self.programs

    def at_least(self, role: Role) -> bool:
        return RANK[self.role] >= RANK[role]

    def may_see(self, program: str) -> bool:
        return self.every_program or program in self.programs

    def may_review(self, program: str) -> bool:
        return self.may_see(program)


def parse_programs(text: str) -> set[str]:
    return {p.strip() for p in (text or EVERY_PROGRAM).split("|") if p.strip()} or {EVERY_PROGRAM}


def parse_token_spec(spec: str, role: Role) -> dict[str, Principal]:
    """`token=identity:program1|program2,...` (no programs, or `*`: every program) into principals by token."""
    out: dict[str, Principal] = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        token, _, rest = item.partition("=")
        identity, _, programs = rest.partition(":")
        if token.strip() and identity.strip():
            out[token.strip()] = Principal(identity.strip(), role, parse_programs(programs))
    return out


def parse_slack_reviewers(spec: str) -> dict[str, set[str]]:
    """NOSHOW_SLACK_REVIEWERS: `U123:program1|program2,U456,*:program3` — a Slack user id (or `*`, anyone in the
    channel) and the programs it may decide (none named: every program)."""
    out: dict[str, set[str]] = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        user, _, programs = item.partition(":")
        if user.strip():
            out.setdefault(user.strip(), set()).update(parse_programs(programs))
    return out


def slack_principal(spec: str, user_id: str) -> Principal | None:
    """The reviewer a Slack button press acts as, or None when that Slack user may not decide at all."""
    allowed = parse_slack_reviewers(spec)
    programs = allowed.get(user_id, set()) | allowed.get(EVERY_PROGRAM, set())
    if not programs:
        return None
    return Principal(f"slack:{user_id}", "reviewer", programs)
