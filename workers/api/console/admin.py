"""For admins: connector health (what `noshow connectors check` says), a policy check of an uploaded YAML, and
who may sign in with which role and programs (never the tokens themselves)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from policies.loader import PolicyError, line_index, parse_policy
from policies.messages import lint_policy
from workers.api.console.forms import UPLOAD_LIMIT, read_upload
from workers.api.console.views import page
from workers.api.deps import Admin, State

router = APIRouter(prefix="/console/admin", include_in_schema=False)


def _people(st: State) -> list[dict[str, str]]:
    people = [{"identity": "admin", "role": "admin", "programs": "*", "via": "NOSHOW_ADMIN_TOKEN"}]
    people += [{"identity": p.identity, "role": p.role, "programs": ", ".join(sorted(p.programs)),
                "via": "NOSHOW_REVIEWER_TOKENS"} for p in st.reviewers.values()]
    return people


def _checks() -> dict[str, list[dict[str, str]]]:
    from workers.cli.connectors import collect

    return {section: [{"name": c.name, "status": c.status, "detail": c.detail} for c in checks]
            for section, checks in collect().items()}


@router.get("", response_class=HTMLResponse)
async def admin_page(request: Request, st: State, who: Admin) -> HTMLResponse:
    return page(request, "admin.html", who, checks=_checks(), people=_people(st), result=None)


@router.post("/policy-check", response_class=HTMLResponse)
async def policy_check(request: Request, st: State, who: Admin) -> HTMLResponse:
    raw = await read_upload(request, "policy")
    lines: list[str] = []
    ok = False
    if raw is None:
        lines = ["choose a policy YAML file to check"]
    elif len(raw) > UPLOAD_LIMIT:
        lines = [f"the file is larger than {UPLOAD_LIMIT} bytes"]
    else:
        try:
            text = raw.decode("utf-8")
            policy = parse_policy(text, "uploaded.yaml")
        except UnicodeDecodeError:
            lines = ["the file is not UTF-8 text"]
        except PolicyError as exc:
            lines = list(exc.problems) or [str(exc)]
        else:
            index = line_index(text)
            for p in lint_policy(policy):
                at = next((index[p.loc[:end]] for end in range(len(p.loc), -1, -1) if p.loc[:end] in index), 1)
                lines.append(f"uploaded.yaml:{at}: {'.'.join(str(x) for x in p.loc)}: {p.severity}: {p.code}: "
                             f"{p.message}")
            ok = not any(p.severity == "error" for p in lint_policy(policy))
            lines.insert(0, f"version {policy.version}: {len(policy.programs)} program(s), "
                            f"{len(policy.templates)} template(s)")
    return page(request, "admin.html", who, checks=_checks(), people=_people(st),
                result={"ok": ok, "lines": lines})
