"""How the client reaches Temporal: TLS, an API key or mTLS client certificates (Temporal Cloud, or a self-hosted
server behind TLS), and what is wrong with those settings. Format and file checks only, no network."""

from __future__ import annotations

from temporalio.service import TLSConfig

from connectors.settings import secret
from workers.settings import TemporalSettings


def connection_problems(t: TemporalSettings) -> list[str]:
    """Why these settings cannot connect (names variables, never values)."""
    problems: list[str] = []
    cert, key = t.tls_client_cert_path, t.tls_client_key_path
    if bool(cert) != bool(key):
        problems.append("TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together: set both")
    for env, path in (("TEMPORAL_TLS_CLIENT_CERT_PATH", cert), ("TEMPORAL_TLS_CLIENT_KEY_PATH", key),
                      ("TEMPORAL_TLS_SERVER_CA_CERT_PATH", t.tls_server_ca_cert_path)):
        if path is not None and not path.is_file():
            problems.append(f"{env} names no readable file")
    if t.tls is False and (secret(t.api_key) or cert):
        problems.append("TEMPORAL_TLS=false with an API key or client certificate: credentials need TLS")
    if t.cloud:
        if not secret(t.api_key) and not cert:
            problems.append("a Temporal Cloud TEMPORAL_ADDRESS needs TEMPORAL_API_KEY, or "
                            "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH")
        if "." not in t.namespace:
            problems.append("TEMPORAL_NAMESPACE must be the Cloud namespace id (<namespace>.<account id>)")
    if t.embedded and (secret(t.api_key) or cert):
        problems.append("TEMPORAL_API_KEY or client certificates are set but TEMPORAL_ADDRESS is not")
    return problems


def tls_config(t: TemporalSettings) -> TLSConfig | bool:
    """The client's `tls` argument: False for a plain connection, True for TLS with the system's roots."""
    if not t.uses_tls:
        return False
    cert, key, ca = t.tls_client_cert_path, t.tls_client_key_path, t.tls_server_ca_cert_path
    if not (cert or ca or t.tls_server_name):
        return True
    return TLSConfig(
        client_cert=cert.read_bytes() if cert else None,
        client_private_key=key.read_bytes() if key else None,
        server_root_ca_cert=ca.read_bytes() if ca else None,
        domain=t.tls_server_name,
    )
