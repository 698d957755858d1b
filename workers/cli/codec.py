"""`noshow codec-server`: the Temporal codec protocol, so the UI can show encrypted payloads to its operators."""

from __future__ import annotations

import typer

from workers.cli.common import fail, settings


def codec_server(host: str = "127.0.0.1", port: int = 8234, allow_unauthenticated: bool = False) -> None:
    """Serve /encode and /decode for the Temporal UI (`--ui-codec-endpoint http://127.0.0.1:8234`)."""
    import structlog
    import uvicorn

    from workers.logging import configure_logging
    from workers.temporal.codec_server import build_from_settings

    s = settings()
    try:
        app = build_from_settings(s, host, allow_unauthenticated)
    except ValueError as exc:
        fail(f"codec-server: {exc}")
    configure_logging(s)
    structlog.get_logger(__name__).info("codec_server_started", host=host, port=port,
                                        authenticated=not allow_unauthenticated)
    typer.echo(f"codec server on http://{host}:{port}")
    uvicorn.run(app, host=host, port=port, log_level="warning")
