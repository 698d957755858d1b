"""schemathesis against the authenticated API: with a valid admin token, and with a reviewer token scoped to
one program, generated requests for every operation get no 5xx and every response conforms to the OpenAPI
document (documented status code, content type and body schema). Kept to a few examples per operation so the
module runs well under a minute."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.conftest import FuzzApi, fuzz_settings
from tests.fuzz.test_openapi import OPERATIONS, to_httpx

TOKENS = ["Bearer dev-admin-token", "Bearer dev-reviewer-token"]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def strategy(label: str) -> st.SearchStrategy[Any]:
    return st.one_of([OPERATIONS[label].as_strategy(generation_mode=GenerationMode.POSITIVE,
                                                    headers={"Authorization": token}) for token in TOKENS])


@pytest.mark.parametrize("label", sorted(OPERATIONS))
@fuzz_settings(8)
@given(data=st.data())
async def test_authenticated_requests_conform_to_the_document(fuzz_api: FuzzApi, label: str,
                                                              data: st.DataObject) -> None:
    case = data.draw(strategy(label), label="case")
    response = await fuzz_api.http.send(to_httpx(case))
    assert response.status_code < 500, (label, response.status_code, response.text[:300])
    case.validate_response(response, checks=CHECKS)
