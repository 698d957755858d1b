"""A FHIR R4 REST client (https://hl7.org/fhir/R4/http.html) over the kit's JSON client.

Reads: `GET [base]/{type}/{id}` and searches `GET [base]/{type}?...` answering a `Bundle` (type `searchset`) whose
`link` with relation `next` is the following page (https://hl7.org/fhir/R4/http.html#paging); a next link must stay
on the server's own origin, since the bearer token goes with it. Writes: `POST [base]/Appointment` (create) and
`PATCH [base]/Appointment/{id}` with a JSON Patch (`Content-Type: application/json-patch+json`, RFC 6902) and
`If-Match: W/"<versionId>"` (https://hl7.org/fhir/R4/http.html#patch, #concurrency). Errors carry an
`OperationOutcome` whose first `issue.code` becomes the error code (https://hl7.org/fhir/R4/operationoutcome.html);
409 / 412 are write conflicts. A 401 with a SMART token repeats the grant once. Media type `application/fhir+json` (https://hl7.org/fhir/R4/http.html#mime-type).
UNVERIFIED per vendor: the page size each server honours for `_count`, and its rate limits (none documented
publicly for Epic or Oracle Health).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors.contract import PermanentProviderError
from connectors.http import segment
from connectors.oauth import BearerJsonApi, TokenSource

FHIR_JSON = "application/fhir+json"
MAX_PAGES = 50


class FhirClient(BearerJsonApi):
    provider = "fhir"

    def __init__(self, token: TokenSource, base_url: str, timeout: float = 10.0,
                 http: httpx.Client | None = None) -> None:
        super().__init__(token, base_url, timeout, http)
        self.headers.update({"Accept": FHIR_JSON})
        origin = urlsplit(self.base_url)
        self._origin = (origin.scheme, origin.netloc)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        invalidate = getattr(self._token, "invalidate", None)
        if not callable(invalidate):
            return super().request(method, path, **kwargs)
        ok = tuple(kwargs.pop("ok", ()))
        response = super().request(method, path, ok=(*ok, 401), **kwargs)
        if response.status_code == 401 and 401 not in ok:
            invalidate()  # revoked or expired before its time: one new grant, then the call again
            return super().request(method, path, ok=ok, **kwargs)
        return response

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        body = self.call("GET", f"{resource_type}/{segment(resource_id)}")
        if not isinstance(body, dict) or body.get("resourceType") != resource_type:
            raise PermanentProviderError(f"fhir: the {resource_type} read answered another resource", code="bad_body")
        return body

    def search(self, resource_type: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every matching resource of `resource_type` over all pages (included resources are left out)."""
        page: Any = self.call("GET", resource_type, params=params)
        for _ in range(MAX_PAGES):
            if not isinstance(page, dict) or page.get("resourceType") != "Bundle":
                raise PermanentProviderError("fhir: a search answered no Bundle", code="bad_body")
            for entry in page.get("entry") or []:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(resource, dict) and resource.get("resourceType") == resource_type:
                    yield resource
            following = next((link.get("url") for link in page.get("link") or []
                              if isinstance(link, dict) and link.get("relation") == "next"), None)
            if not isinstance(following, str) or not following:
                return
            if (urlsplit(following).scheme, urlsplit(following).netloc) != self._origin:
                raise PermanentProviderError("fhir: a next page link points at another server", code="foreign_link")
            page = self.call("GET", following)
        raise PermanentProviderError(f"fhir: a search ran past {MAX_PAGES} pages", code="too_many_pages")

    def create(self, resource: dict[str, Any]) -> dict[str, Any]:
        kind = str(resource.get("resourceType"))
        response = self.request("POST", kind, json_body=resource, headers={"Content-Type": FHIR_JSON,
                                                                           "Prefer": "return=representation"},
                                ambiguous_after_send=True)
        body = response.json() if response.content else {}
        if isinstance(body, dict) and body.get("resourceType") == kind and body.get("id"):
            return body
        # a server may answer 201 with only a Location header (https://hl7.org/fhir/R4/http.html#create)
        location = response.headers.get("location", "")
        parts = location.split("/_history/")[0].rstrip("/").split("/")
        if len(parts) >= 2 and parts[-2] == kind and parts[-1]:
            return {"resourceType": kind, "id": parts[-1]}
        raise PermanentProviderError(f"fhir: the {kind} create answered no id", code="no_id")

    def patch_status(self, resource_type: str, resource_id: str, status: str, version: str | None,
                     extra: list[dict[str, Any]] | None = None) -> None:
        headers = {"Content-Type": "application/json-patch+json"}
        if version:
            headers["If-Match"] = f'W/"{version}"'
        ops = [{"op": "replace", "path": "/status", "value": status}, *(extra or [])]
        self.request("PATCH", f"{resource_type}/{segment(resource_id)}", json_body=ops, headers=headers)

    def capability(self) -> dict[str, Any]:
        body = self.call("GET", "metadata")
        if not isinstance(body, dict) or body.get("resourceType") != "CapabilityStatement":
            raise PermanentProviderError("fhir: /metadata answered no CapabilityStatement", code="bad_body")
        return body
