"""A fake OAuth 2.0 token endpoint (RFC 6749 section 5): form-encoded grants in, `{"access_token", "expires_in",
"token_type", "refresh_token"?}` out, `{"error": "invalid_grant"}` with a 400 for a refresh token it does not know.
`rotate=True` issues a new refresh token on every refresh and revokes the old one (Microsoft's behaviour)."""

from __future__ import annotations

import itertools
from typing import Any

from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest


class FakeTokenEndpoint(FakeServer):
    def __init__(self, refresh_token: str = "seed-refresh", expires_in: int = 3600, rotate: bool = False) -> None:
        self.valid_refresh = {refresh_token}
        self.expires_in, self.rotate = expires_in, rotate
        self.issued: list[str] = []
        self._n = itertools.count(1)
        super().__init__()

    def setup_routes(self) -> None:
        self.route("POST", "/token", self._token)

    def _token(self, req: RecordedRequest, m: Any) -> FakeResponse:
        form = req.form()
        grant = form.get("grant_type")
        body: dict[str, Any] = {"token_type": "Bearer", "expires_in": self.expires_in}
        if grant == "refresh_token":
            if form.get("refresh_token") not in self.valid_refresh:
                return FakeResponse(400, {"error": "invalid_grant", "error_description": "Token has been revoked."})
            if self.rotate:
                self.valid_refresh.discard(form["refresh_token"])
                new = f"refresh-{next(self._n)}"
                self.valid_refresh.add(new)
                body["refresh_token"] = new
        elif grant == "client_credentials":
            if not form.get("client_secret"):
                return FakeResponse(401, {"error": "invalid_client"})
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            if form.get("assertion", "").count(".") != 2:
                return FakeResponse(400, {"error": "invalid_grant", "error_description": "invalid assertion"})
            body.pop("expires_in")  # Salesforce's JWT answer carries no expiry
            body["instance_url"] = "https://example.my.salesforce.com"
        else:
            return FakeResponse(400, {"error": "unsupported_grant_type"})
        access = f"access-{len(self.issued) + 1}"
        self.issued.append(access)
        return FakeResponse(200, {"access_token": access, **body})
