"""A fake Web Push service (RFC 8030 section 5): `POST /push/{id}` takes an encrypted message and answers 201
Created with a `Location`, as the RFC shows; a subscription marked gone answers 410 Gone (section 7.3). It checks
what a push service checks before accepting: a `TTL` header, an `aes128gcm` body (RFC 8291) and a VAPID
`Authorization: vapid t=<JWT>,k=<key>` (RFC 8292) whose ES256 signature verifies with `k` and whose `aud` is
this origin. Every request is kept, encrypted, for the test to decrypt with the browser's private key."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class WebPushFake(FakeServer):
    def __init__(self) -> None:
        self.gone: set[str] = set()  # subscription ids whose push service answers 410
        self.accepted: list[RecordedRequest] = []
        super().__init__()

    def setup_routes(self) -> None:
        self.route("POST", r"/push/(?P<sub>[A-Za-z0-9_\-]+)", self._push)

    def endpoint(self, sub: str | None = None) -> str:
        return f"{self.base_url}/push/{sub or uuid.uuid4().hex}"

    def _push(self, req: RecordedRequest, match: re.Match[str]) -> FakeResponse:
        if match["sub"] in self.gone:
            return FakeResponse(410, {"errno": 106, "message": "subscription expired"})
        if "ttl" not in req.headers:
            return FakeResponse(400, {"message": "TTL header required"})
        if req.headers.get("content-encoding") != "aes128gcm":
            return FakeResponse(415, {"message": "aes128gcm only"})
        if not self._vapid_ok(req.headers.get("authorization", "")):
            return FakeResponse(403, {"message": "VAPID signature invalid"})
        self.accepted.append(req)
        return FakeResponse(201, None, {"Location": f"{self.base_url}/message/{uuid.uuid4().hex}"})

    def _vapid_ok(self, header: str) -> bool:
        found = re.fullmatch(r"vapid t=([^,]+),\s*k=(\S+)", header)
        if not found:
            return False
        token, key = found.groups()
        try:
            head, claims, signature = token.split(".")
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _b64url(key))
            raw = _b64url(signature)
            der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
            public.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
            payload = json.loads(_b64url(claims))
        except (ValueError, InvalidSignature):
            return False
        return bool(payload.get("aud") == self.base_url and payload.get("exp", 0) > time.time()
                    and str(payload.get("sub", "")).startswith(("mailto:", "https:")))
