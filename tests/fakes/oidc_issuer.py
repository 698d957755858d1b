"""A local OpenID Connect issuer for tests, built from OpenID Connect Core 1.0 and Discovery 1.0 and RFC 7636:
discovery, JWKS, an authorization endpoint that signs in whoever the test names (no form) and redirects back with
a code, and a token endpoint that checks the client, the redirect URI and the PKCE S256 verifier, and answers an
RS256 ID token signed with a key generated for the run. Served by uvicorn on 127.0.0.1 on a free port.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import RSAKey


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str
    claims: dict[str, Any]


@dataclass
class FakeIssuer:
    client_id: str = "noshow"
    client_secret: str = "issuer-test-secret"
    next_claims: dict[str, Any] = field(default_factory=dict)  # who signs in at the next /authorize
    tamper: str | None = None  # "nonce" | "aud" | "iss" | "expired" | "foreign_key" | "alg_none"
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
        self.grants: dict[str, Grant] = {}
        self.app = self._build()
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict[str, Any]:
            self.requests.append("discovery")
            return {"issuer": self.url, "authorization_endpoint": f"{self.url}/authorize",
                    "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks",
                    "response_types_supported": ["code"], "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "code_challenge_methods_supported": ["S256"]}

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            self.requests.append("jwks")
            return {"keys": [self.key.as_dict(private=False)]}

        @app.get("/authorize")
        def authorize(request: Request) -> Any:
            q = request.query_params
            self.requests.append("authorize")
            if (q.get("response_type") != "code" or q.get("client_id") != self.client_id
                    or q.get("code_challenge_method") != "S256" or not q.get("code_challenge")
                    or "openid" not in (q.get("scope") or "").split()):
                return JSONResponse({"error": "invalid_request"}, 400)
            code = secrets.token_urlsafe(16)
            self.grants[code] = Grant(q["client_id"], q["redirect_uri"], q["code_challenge"], q.get("nonce", ""),
                                      dict(self.next_claims))
            return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}",
                                    status_code=302)

        @app.post("/token")
        def token(request: Request, grant_type: str = Form(), code: str = Form(), redirect_uri: str = Form(),
                  code_verifier: str = Form(), client_id: str | None = Form(None)) -> Any:
            self.requests.append("token")
            auth = request.headers.get("authorization", "")
            expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            if not secrets.compare_digest(auth, expected):
                return JSONResponse({"error": "invalid_client"}, 401)
            grant = self.grants.pop(code, None)
            challenge = base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=").decode()
            if (grant_type != "authorization_code" or grant is None or grant.redirect_uri != redirect_uri
                    or not secrets.compare_digest(challenge, grant.challenge)):
                return JSONResponse({"error": "invalid_grant"}, 400)
            return {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300,
                    "id_token": self._id_token(grant)}

        return app

    def _id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims = {"iss": self.url, "aud": self.client_id, "sub": "subject-1", "iat": now, "exp": now + 300,
                  "nonce": grant.nonce, **grant.claims}
        key = self.key
        if self.tamper == "nonce":
            claims["nonce"] = "another"
        elif self.tamper == "aud":
            claims["aud"] = "another-client"
        elif self.tamper == "iss":
            claims["iss"] = "http://127.0.0.1:1/evil"
        elif self.tamper == "expired":
            claims["exp"] = now - 3600
        elif self.tamper == "foreign_key":
            key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        elif self.tamper == "alg_none":
            header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
            import json
            payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
            return f"{header}.{payload}."
        return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)

    def __enter__(self) -> FakeIssuer:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self._server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
