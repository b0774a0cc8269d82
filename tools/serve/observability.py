"""What an operator sees of the REST API: request ids, one access-log line per request, Prometheus metrics.

* ``X-Request-ID``: taken from the request when it is a plausible id (letters, digits and ``._:-``,
  at most 128 characters), generated otherwise, and echoed on every response (``asgi-correlation-id``).
* Access log: one line per request on the ``tools.serve.access`` logger, e.g.
  ``POST /v1/classify 200 23.4ms id=3f2a...``; never a query string, a header or a byte of the upload.
  A request whose client disconnected before the answer is logged with 499 (nginx's "client closed").
* Metrics (``prometheus-client``, a registry per app): requests by method, route and status, a
  latency histogram by route, requests in progress, the work queue (admitted, waiting, busy workers,
  limit; work abandoned by its client and work that stopped early) read at scrape time, the
  process's memory and CPU, and the version.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Collection, Iterator
from typing import Any

from asgi_correlation_id import CorrelationIdMiddleware, correlation_id
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "REQUEST_ID_HEADER",
    "CLIENT_GONE",
    "Metrics",
    "AccessLog",
    "request_ids",
    "valid_request_id",
    "ACCESS_LOGGER",
]

REQUEST_ID_HEADER = "X-Request-ID"
CLIENT_GONE = 499  # the status logged for a request whose client disconnected (nginx's convention)
ACCESS_LOGGER = "tools.serve.access"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

access_log = logging.getLogger(ACCESS_LOGGER)


def valid_request_id(value: str) -> bool:
    """Whether a client's ``X-Request-ID`` is kept (else a new id replaces it)."""
    return _REQUEST_ID.fullmatch(value) is not None


def request_ids(app: ASGIApp) -> ASGIApp:
    """Wraps ``app`` so every request has an id, echoed in ``X-Request-ID``."""
    return CorrelationIdMiddleware(app, header_name=REQUEST_ID_HEADER, validator=valid_request_id)


def _route(scope: Scope, paths: Collection[str]) -> str:
    """The route's template (``/v1/classify``), also for a request refused before routing (a 413 from
    its Content-Length) when its path is one of ``paths``; one label for every other path."""
    route = getattr(scope.get("route"), "path", None)
    if route is None and scope.get("path") in paths:
        route = scope["path"]
    return str(route or "unmatched")


def _path(scope: Scope) -> str:
    """The path as sent (still percent-encoded, so a decoded newline cannot forge a log line)."""
    raw = scope.get("raw_path")
    if isinstance(raw, bytes):
        return raw.decode("ascii", "backslashreplace")
    return str(scope.get("path", "")).encode("unicode_escape").decode("ascii")


class _QueueCollector(Collector):
    """The work queue's figures, read when Prometheus scrapes."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        q = self.queue
        yield GaugeMetricFamily(
            "face_api_queue_admitted", "Requests running or waiting whose clients still wait", value=q.pending
        )
        yield GaugeMetricFamily("face_api_queue_waiting", "Jobs waiting for a worker thread", value=q.waiting)
        yield GaugeMetricFamily("face_api_queue_limit", "Requests admitted at once before 503", value=q.limit)
        yield GaugeMetricFamily("face_api_workers_busy", "Worker threads working now", value=q.busy)
        yield GaugeMetricFamily("face_api_workers", "Worker threads", value=q.workers)
        yield CounterMetricFamily(
            "face_api_work_abandoned", "Requests whose clients went away before the answer", value=q.abandoned
        )
        yield CounterMetricFamily(
            "face_api_work_stopped",
            "Abandoned work that stopped early (a video at its next frame)",
            value=q.stopped,
        )


class Metrics:
    """The app's Prometheus metrics, in a registry of their own (apps in one process do not mix).

    Args:
        queue: the ``WorkQueue`` whose figures are exported.
        info: constant labels of ``face_api_info`` (version, model).
    """

    def __init__(self, queue: Any, info: Callable[[], dict[str, str]]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, CPU seconds, open fds
        self.requests = Counter(
            "face_api_requests",
            "HTTP requests by method, route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "face_api_request_duration_seconds",
            "Time from the request to the end of its response, by method and route",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "face_api_requests_in_progress", "HTTP requests being handled now", registry=self.registry
        )
        self.registry.register(_QueueCollector(queue))
        self._info = info
        self._info_gauge = Gauge(
            "face_api_info",
            "The server's version and model (value 1)",
            ["version", "model"],
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        labels = self._info()
        self._info_gauge.clear()
        self._info_gauge.labels(labels.get("version", ""), labels.get("model", "")).set(1)
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class AccessLog:
    """ASGI middleware: times each HTTP request, counts it in ``metrics`` and logs one line.

    Place it inside ``request_ids`` (so the id is known) and outside everything that answers;
    ``paths`` (the app's routes, which have no path parameters) label a request answered before
    routing.
    An endpoint that learns its client has gone answers with status ``CLIENT_GONE``; that status is
    only logged and counted (the client never reads it).
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, paths: Collection[str] = ()) -> None:
        self.app = app
        self.metrics = metrics
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        self.metrics.in_progress.inc()
        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.in_progress.dec()
            seconds = time.perf_counter() - start
            method = str(scope.get("method", ""))
            self.metrics.observe(method, _route(scope, self.paths), status, seconds)
            access_log.info(
                "%s %s %d %.1fms id=%s",
                method,
                _path(scope),
                status,
                seconds * 1000,
                correlation_id.get() or "-",
            )
