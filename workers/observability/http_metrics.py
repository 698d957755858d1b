"""The API's request metrics at /metrics: counts and latency by method, route template and status."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "(unmatched)"  # a path no route knows: its value is not a label (it could be anything a caller sent)


class HttpMetrics:
    """One registry per app, so tests that build several apps in a process each count their own requests."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("noshow_http_requests_total", "HTTP requests answered, by route template and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("noshow_http_request_duration_seconds", "Time to answer an HTTP request",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def route_template(routes: list[BaseRoute], scope: Scope) -> str:
    """The template of the route that answered (set by the router), else of the route that would have: a request a
    guard refused before routing (401, 413) still counts under its route."""
    routed = scope.get("route")
    if routed is not None and getattr(routed, "path", None):
        return str(routed.path)
    for route in routes:
        if route.matches(scope)[0] == Match.FULL and getattr(route, "path", None):
            return str(route.path)  # type: ignore[attr-defined]
    return UNMATCHED


class RequestMetrics:
    """Pure ASGI, outermost: every answer is counted, also the 401s, 413s and 503s the inner middleware give."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics, routes: list[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes  # the API routes, for requests refused before routing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            method = str(scope.get("method", "GET"))
            route = route_template(self.routes, scope)
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)


async def metrics_endpoint(request: Request) -> Response:
    metrics: HttpMetrics = request.app.state.http_metrics
    return metrics.render()
