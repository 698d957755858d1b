"""Hostile JSON built from real provider payloads, shared by the webhook fuzz tests.

The recorded fixtures (tests/connectors/fixtures) are the starting point, so mutated bodies still look like the
provider's and reach deep into each parser before something is wrong: a value of the wrong JSON type, a number
float() cannot hold, a date at datetime's limits, a key gone, or a raw splice the JSON encoder would never write.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import strategies as st

from tests.connectors.kit import FIXTURES

GRAPH_STATE = "graph-state-01"  # the Outlook clientState the fuzz apps are configured with


def fixture_docs(provider: str, graph_state: str = GRAPH_STATE) -> list[Any]:
    """The recorded payloads of `provider` (`events` = Standard Webhooks); Outlook's carry `graph_state`."""
    folder = {"events": "standard"}.get(provider, provider)
    if provider == "sendgrid":
        return [[{"email": "jane@example.com", "timestamp": 1767603700, "event": name, "sg_event_id": f"ev-{i}",
                  "sg_message_id": "abc123.filter0001", "case_id": "case-7", "message_id": "case-7:offer",
                  "type": "bounce", "reason": "550 mailbox unavailable", "asm_group_id": 12}]
                for i, name in enumerate(["delivered", "bounce", "dropped", "open", "group_unsubscribe", "spamreport",
                                          "unsubscribe", "click", "deferred", "brand_new"])]
    docs = [json.loads(p.read_text()) for p in sorted((FIXTURES / folder).glob("*.json"))]
    if provider == "outlook":
        for doc in docs:  # our clientState, so the notification authenticates
            for item in doc.get("value", []):
                if isinstance(item, dict) and "clientState" in item:
                    item["clientState"] = graph_state
        docs = [d for d in docs if isinstance(d, dict) and any("clientState" in i for i in d.get("value", []))]
    return docs


hostile_values = st.one_of(
    st.sampled_from([
        None, True, False, 0, -1, 10**400, -(10**400), 2**63, 1e308, -1e308, 1e-300, "", " ", "²", "NaN",
        "2026-13-45T99:99:99Z", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00",
        "0001-01-01", "99999999999999999999999", "-99999999999", 253402300800000, -62135596800, "Europe/Nowhere",
        "a" * 5000, [], {}, [None], {"": []}, "\x00", "💥",
    ]),
    st.text(max_size=30),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.recursive(st.none() | st.integers() | st.text(max_size=5),
                 lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                 max_leaves=6),
)
RAW_SPLICES = [b"1e999", b"-1e999", b"9" * 5000, b'"\\ud800"', b'"\\udfff x"', b"[" * 5000 + b"]" * 5000,
               b'{"\\ud83d": 1}']


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        doc = doc[key]
    return doc


@st.composite
def mutated_json(draw: st.DrawFn, provider: str, graph_state: str = GRAPH_STATE) -> bytes:
    """A recorded payload of `provider` with 1-4 values replaced or keys dropped; sometimes a raw splice the
    JSON encoder cannot produce (an overflowing float, a 5,000-digit integer, a lone surrogate escape)."""
    doc = copy.deepcopy(draw(st.sampled_from(fixture_docs(provider, graph_state))))
    marker = "\x1fSPLICE\x1f"
    splice: bytes | None = None
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        if not path:
            continue
        parent = _parent(doc, path)
        action = draw(st.sampled_from(["replace", "replace", "drop", "splice"]))
        if action == "drop":
            del parent[path[-1]]
        elif action == "splice" and splice is None:
            splice = draw(st.sampled_from(RAW_SPLICES))
            parent[path[-1]] = marker
        else:
            parent[path[-1]] = copy.deepcopy(draw(hostile_values))  # sampled values are shared objects
    body = json.dumps(doc).encode()
    if splice is not None:
        body = body.replace(json.dumps(marker).encode(), splice, 1)
    return body


def short_id(value: object) -> str:
    """A readable pytest id for a parameter that may be 100,000 characters long."""
    text = repr(value)
    return text if len(text) <= 24 else f"{text[:16]}..({len(text)})"
