"""A fake FHIR R4 server with SMART Backend Services auth, built from the specifications:

- `GET /.well-known/smart-configuration` (https://hl7.org/fhir/smart-app-launch/conformance.html) naming the
  token endpoint, `private_key_jwt`, RS384 / ES384 and `client-confidential-asymmetric`;
- `POST /oauth2/token` (https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html): form
  `grant_type=client_credentials`, `scope`, `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:
  jwt-bearer`, `client_assertion`; the JWT's signature is checked with the registered public key (RS384 or
  ES384), its header (`alg`, `kid`, `typ: JWT`), `iss` = `sub` = the client id, `aud` = the token URL, `exp` at
  most five minutes ahead and not past, `jti` never seen before; a failure is 401 `{"error": "invalid_client"}`.
  Granted scopes are those requested that the client is allowed (v2 `system/Appointment.rs`, v1 `.read`);
- FHIR REST (https://hl7.org/fhir/R4/http.html): `GET /metadata`; `GET /Appointment`, `/Slot` searches (Bundle
  `searchset`, paged by `_count` with `link[next]` to `?_getpages=...`); `GET /Appointment/{id}`,
  `/Patient/{id}`, `/Slot/{id}`; `POST /Patient`; `POST /Appointment` (201, `Location`, the resource with
  `meta.versionId`; a Slot that is not free is 409); `PATCH /Appointment/{id}` with a JSON Patch
  (`application/json-patch+json`, else 415) and `If-Match: W/"<version>"` (a stale version is 412). Errors are
  `OperationOutcome`s; no or an unknown token is 401, a missing scope 403.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from connectors.inbound import opt_dt
from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PERMISSION_V1 = {"read": "rs", "write": "cud", "*": "cruds"}


def outcome(status: int, code: str, text: str) -> FakeResponse:
    return FakeResponse(status, {"resourceType": "OperationOutcome",
                                 "issue": [{"severity": "error", "code": code, "diagnostics": text}]},
                        {"Content-Type": "application/fhir+json"})


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def allows(scopes: set[str], resource: str, permission: str) -> bool:
    for scope in scopes:
        kind, _, rest = scope.partition("/")
        name, _, perms = rest.rpartition(".")
        if kind == "system" and name in (resource, "*") and permission in PERMISSION_V1.get(perms, perms):
            return True
    return False


class FakeFhir(FakeServer):
    def __init__(self, client_id: str = "noshow-backend", public_key_pem: str = "", kid: str = "key-1",
                 allowed_scopes: str = "system/Appointment.rs system/Appointment.cu system/Slot.rs "
                                       "system/Schedule.rs system/Patient.r", page_size: int = 2,
                 expires_in: int = 3600) -> None:
        self.client_id, self.kid, self.page_size, self.expires_in = client_id, kid, page_size, expires_in
        self.public_key = serialization.load_pem_public_key(public_key_pem.encode()) if public_key_pem else None
        self.allowed = set(allowed_scopes.split())
        self.tokens: dict[str, set[str]] = {}
        self.seen_jti: set[str] = set()
        self.appointments: dict[str, dict[str, Any]] = {}
        self.patients: dict[str, dict[str, Any]] = {}
        self.slots: dict[str, dict[str, Any]] = {}
        self.pages: dict[str, list[dict[str, Any]]] = {}
        self.answer_late = 0.0  # seconds a create waits, once stored, before answering (a lost answer)
        self._n = itertools.count(1)
        super().__init__()

    # ------------------------------------------------------------------ seeding

    def static_token(self, token: str = "fhir-static", scopes: str | None = None) -> str:
        self.tokens[token] = set((scopes or " ".join(self.allowed)).split())
        return token

    def add_patient(self, phone: str | None = None, email: str | None = None) -> str:
        pid = f"p{uuid.uuid4().hex[:12]}"
        telecom = ([{"system": "phone", "value": phone, "use": "mobile"}] if phone else []) + (
            [{"system": "email", "value": email}] if email else [])
        # a real chart also names the person and their conditions: the connector must read telecom only
        self.patients[pid] = {"resourceType": "Patient", "id": pid, "name": [{"family": "Chalmers",
                                                                              "given": ["Peter"]}],
                              "telecom": telecom, "gender": "male", "birthDate": "1974-12-25"}
        self._touch(self.patients[pid])
        return pid

    def add_appointment(self, patient_id: str, start: datetime, status: str = "booked", minutes: int = 30,
                        practitioner: str = "dr-593923", extra: dict[str, Any] | None = None) -> str:
        aid = f"a{uuid.uuid4().hex[:12]}"
        self.appointments[aid] = {
            "resourceType": "Appointment", "id": aid, "status": status,
            "start": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": (start + timedelta(minutes=minutes)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "participant": [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"},
                            {"actor": {"reference": f"Practitioner/{practitioner}"}, "status": "accepted"}],
            **(extra or {})}
        self._touch(self.appointments[aid])
        return aid

    def update_appointment(self, aid: str, **changes: Any) -> None:
        self.appointments[aid].update(changes)
        self._touch(self.appointments[aid])

    def add_slot(self, schedule_id: str, start: datetime, minutes: int = 30, status: str = "free") -> str:
        sid = f"s{uuid.uuid4().hex[:12]}"
        self.slots[sid] = {"resourceType": "Slot", "id": sid, "schedule": {"reference": f"Schedule/{schedule_id}"},
                           "status": status, "start": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "end": (start + timedelta(minutes=minutes)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        self._touch(self.slots[sid])
        return sid

    @staticmethod
    def _touch(resource: dict[str, Any]) -> None:
        meta = resource.setdefault("meta", {})
        meta["versionId"] = str(int(meta.get("versionId", "0")) + 1)
        meta["lastUpdated"] = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    # ------------------------------------------------------------------ routes

    def setup_routes(self) -> None:
        self.route("GET", r"^/\.well-known/smart-configuration$", self._configuration)
        self.route("POST", r"^/oauth2/token$", self._token)
        self.route("GET", r"^/metadata$", self._guard(None, "", self._metadata))
        self.route("GET", r"^/?$", self._guard(None, "", self._page))
        self.route("GET", r"^/Appointment$", self._guard("Appointment", "s", self._search_appointments))
        self.route("POST", r"^/Appointment$", self._guard("Appointment", "c", self._create))
        self.route("GET", r"^/Appointment/(?P<id>[^/]+)$", self._guard("Appointment", "r", self._read))
        self.route("PATCH", r"^/Appointment/(?P<id>[^/]+)$", self._guard("Appointment", "u", self._patch))
        self.route("GET", r"^/Slot$", self._guard("Slot", "s", self._search_slots))
        self.route("GET", r"^/Slot/(?P<id>[^/]+)$", self._guard("Slot", "r", self._read))
        self.route("GET", r"^/Patient/(?P<id>[^/]+)$", self._guard("Patient", "r", self._read))
        self.route("POST", r"^/Patient$", self._guard("Patient", "c", self._create_patient))

    def _configuration(self, req: RecordedRequest, m: Any) -> FakeResponse:
        return FakeResponse(200, {
            "issuer": self.base_url, "token_endpoint": f"{self.base_url}/oauth2/token",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "grant_types_supported": ["client_credentials"], "scopes_supported": sorted(self.allowed),
            "capabilities": ["client-confidential-asymmetric", "permission-v1", "permission-v2"]})

    def _token(self, req: RecordedRequest, m: Any) -> FakeResponse:
        form = req.form()
        refused = FakeResponse(401, {"error": "invalid_client"})
        if form.get("grant_type") != "client_credentials":
            return FakeResponse(400, {"error": "unsupported_grant_type"})
        if form.get("client_assertion_type") != ASSERTION_TYPE or not self._assertion_ok(
                form.get("client_assertion", "")):
            return refused
        asked = set(form.get("scope", "").split())
        granted = {s for s in asked if s in self.allowed or s.replace(".read", ".rs") in self.allowed}
        if not granted:
            return FakeResponse(400, {"error": "invalid_scope"})
        token = f"fhir-{uuid.uuid4().hex}"
        self.tokens[token] = granted
        return FakeResponse(200, {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in,
                                  "scope": " ".join(sorted(granted))})

    def _assertion_ok(self, assertion: str) -> bool:
        try:
            head_b64, claims_b64, sig_b64 = assertion.split(".")
            head, claims = json.loads(_unb64(head_b64)), json.loads(_unb64(claims_b64))
            signature, signed = _unb64(sig_b64), f"{head_b64}.{claims_b64}".encode()
        except ValueError:
            return False
        if head.get("typ") != "JWT" or head.get("kid") != self.kid or head.get("alg") not in ("RS384", "ES384"):
            return False
        key = self.public_key
        try:
            if head["alg"] == "RS384" and isinstance(key, RSAPublicKey):
                key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA384())
            elif head["alg"] == "ES384" and isinstance(key, ec.EllipticCurvePublicKey) and len(signature) == 96:
                der = encode_dss_signature(int.from_bytes(signature[:48], "big"), int.from_bytes(signature[48:], "big"))
                key.verify(der, signed, ec.ECDSA(hashes.SHA384()))
            else:
                return False
        except InvalidSignature:
            return False
        now = time.time()
        exp = claims.get("exp")
        if claims.get("iss") != self.client_id or claims.get("sub") != self.client_id:
            return False
        if claims.get("aud") != f"{self.base_url}/oauth2/token" or not isinstance(exp, int | float):
            return False
        if not now < exp <= now + 300 + 5:
            return False
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or jti in self.seen_jti:
            return False
        self.seen_jti.add(jti)
        return True

    def _guard(self, resource: str | None, permission: str, handler: Any) -> Any:
        def guarded(req: RecordedRequest, m: Any) -> FakeResponse:
            auth = req.headers.get("authorization", "")
            scopes = self.tokens.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
            if scopes is None:
                return outcome(401, "login", "no valid access token")
            if resource is not None and not allows(scopes, resource, permission):
                return outcome(403, "forbidden", f"the token does not allow {resource}.{permission}")
            return handler(req, m)  # type: ignore[no-any-return]
        return guarded

    def _metadata(self, req: RecordedRequest, m: Any) -> FakeResponse:
        return FakeResponse(200, {"resourceType": "CapabilityStatement", "status": "active", "fhirVersion": "4.0.1",
                                  "kind": "instance", "format": ["json"], "date": "2026-01-01"})

    def _bundle(self, req: RecordedRequest, found: list[dict[str, Any]]) -> FakeResponse:
        size = int(req.query.get("_count") or self.page_size)
        size = max(1, min(size, self.page_size))
        token = uuid.uuid4().hex
        self.pages[token] = found
        return self._page_of(token, 0, size)

    def _page_of(self, token: str, offset: int, size: int) -> FakeResponse:
        found = self.pages[token]
        body: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": len(found),
                                "link": [], "entry": [{"fullUrl": f"{self.base_url}/{r['resourceType']}/{r['id']}",
                                                       "resource": r, "search": {"mode": "match"}}
                                                      for r in found[offset:offset + size]]}
        if offset + size < len(found):
            body["link"].append({"relation": "next", "url": f"{self.base_url}/?_getpages={token}"
                                                            f"&_getpagesoffset={offset + size}&_count={size}"})
        return FakeResponse(200, body, {"Content-Type": "application/fhir+json"})

    def _page(self, req: RecordedRequest, m: Any) -> FakeResponse:
        token = req.query.get("_getpages", "")
        if token not in self.pages:
            return outcome(410, "not-found", "the search is gone")
        return self._page_of(token, int(req.query.get("_getpagesoffset") or 0), int(req.query.get("_count") or 2))

    @staticmethod
    def _compare(value: datetime | None, prefixed: str) -> bool:
        op, at = prefixed[:2], opt_dt(prefixed[2:])
        if value is None or at is None:
            return False
        return {"gt": value > at, "ge": value >= at, "lt": value < at, "le": value <= at,
                "eq": value == at}.get(op, False)

    def _search_appointments(self, req: RecordedRequest, m: Any) -> FakeResponse:
        found = list(self.appointments.values())
        for bound in req.params("_lastUpdated"):
            if bound[:2] not in ("gt", "ge", "lt", "le", "eq") or opt_dt(bound[2:]) is None:
                return outcome(400, "invalid", "bad _lastUpdated")
            found = [a for a in found if self._compare(opt_dt(a["meta"]["lastUpdated"]), bound)]
        for ident in req.params("identifier"):
            system, _, value = ident.partition("|")
            found = [a for a in found if any(i.get("system") == system and i.get("value") == value
                                             for i in a.get("identifier", []))]
        return self._bundle(req, found)

    def _search_slots(self, req: RecordedRequest, m: Any) -> FakeResponse:
        found = list(self.slots.values())
        schedule = req.query.get("schedule")
        if schedule:
            found = [s for s in found if s["schedule"]["reference"] == schedule]
        if req.query.get("status"):
            found = [s for s in found if s["status"] == req.query["status"]]
        for bound in req.params("start"):
            found = [s for s in found if self._compare(opt_dt(s["start"]), bound)]
        return self._bundle(req, sorted(found, key=lambda s: s["start"]))

    def _store(self, kind: str) -> dict[str, dict[str, Any]]:
        return {"Appointment": self.appointments, "Patient": self.patients, "Slot": self.slots}[kind]

    def _read(self, req: RecordedRequest, m: Any) -> FakeResponse:
        kind = req.path.strip("/").split("/")[0]
        found = self._store(kind).get(m["id"])
        if found is None:
            return outcome(404, "not-found", f"{kind} is not known")
        return FakeResponse(200, found, {"Content-Type": "application/fhir+json",
                                         "ETag": f'W/"{found["meta"]["versionId"]}"'})

    def _create(self, req: RecordedRequest, m: Any) -> FakeResponse:
        if not req.headers.get("content-type", "").startswith(("application/fhir+json", "application/json")):
            return outcome(415, "not-supported", "unsupported media type")
        body = req.json()
        if not isinstance(body, dict) or body.get("resourceType") != "Appointment" or not body.get("status") \
                or not body.get("participant"):
            return outcome(400, "required", "status and participant are required")
        for ref in body.get("slot", []):
            slot = self.slots.get(str(ref.get("reference", "")).removeprefix("Slot/"))
            if slot is None or slot["status"] != "free":
                return outcome(409, "conflict", "the slot is not free")
        for ref in body.get("slot", []):
            slot = self.slots[ref["reference"].removeprefix("Slot/")]
            slot["status"] = "busy"
            self._touch(slot)
        aid = f"a{next(self._n)}{uuid.uuid4().hex[:8]}"
        made = {**body, "id": aid}
        self._touch(made)
        self.appointments[aid] = made
        if self.answer_late:
            time.sleep(self.answer_late)
        return FakeResponse(201, made, {"Content-Type": "application/fhir+json",
                                        "Location": f"{self.base_url}/Appointment/{aid}/_history/1"})

    def _create_patient(self, req: RecordedRequest, m: Any) -> FakeResponse:
        body = req.json()
        if not isinstance(body, dict) or body.get("resourceType") != "Patient":
            return outcome(400, "invalid", "a Patient is expected")
        pid = f"p{uuid.uuid4().hex[:12]}"
        self.patients[pid] = {**body, "id": pid}
        self._touch(self.patients[pid])
        return FakeResponse(201, self.patients[pid], {"Content-Type": "application/fhir+json",
                                                      "Location": f"{self.base_url}/Patient/{pid}/_history/1"})

    def _patch(self, req: RecordedRequest, m: Any) -> FakeResponse:
        if req.headers.get("content-type", "").split(";")[0] != "application/json-patch+json":
            return outcome(415, "not-supported", "a PATCH body must be application/json-patch+json")
        found = self.appointments.get(m["id"])
        if found is None:
            return outcome(404, "not-found", "Appointment is not known")
        match = req.headers.get("if-match")
        if match is not None and match != f'W/"{found["meta"]["versionId"]}"':
            return outcome(412, "conflict", "version mismatch")
        ops = req.json()
        if not isinstance(ops, list):
            return outcome(400, "invalid", "a JSON Patch is a list of operations")
        for op in ops:
            if op.get("op") not in ("replace", "add") or not str(op.get("path", "")).startswith("/"):
                return outcome(400, "invalid", "unsupported patch operation")
            found[str(op["path"]).lstrip("/")] = op.get("value")
        self._touch(found)
        return FakeResponse(200, found, {"Content-Type": "application/fhir+json"})
