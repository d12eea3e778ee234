"""OpenTelemetry tracing, off by default, turned on by the standard OpenTelemetry variables.

``OTEL_TRACES_EXPORTER``: ``none`` (the default), ``otlp`` or ``console``. With
``otlp``, the exporter reads the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``..._TRACES_ENDPOINT``), ``..._HEADERS`` and ``..._PROTOCOL`` (``http/protobuf``,
the default, which the ``[tracing]`` extra brings; ``grpc`` needs
``opentelemetry-exporter-otlp-proto-grpc``); ``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES`` name the process. ``OTEL_SDK_DISABLED=true`` turns it
off whatever the rest says.

When on, every connection (:meth:`TemporalSettings.connect`) carries the SDK's
:class:`temporalio.contrib.opentelemetry.TracingInterceptor`: a start from the CLI
or the Python API opens a trace that the workflow, its activities and (through
:func:`http_span`) each Arkor API request of those activities continue. A process
that set up its own tracer provider keeps it; otherwise one is installed with a
batching exporter. Nothing here needs OpenTelemetry installed while tracing is off.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

try:
    from opentelemetry import trace as _otel_trace
except ImportError:  # the [tracing] extra is not installed: no spans, ever
    _otel_trace = None  # type: ignore[assignment]

ENV_EXPORTER = "OTEL_TRACES_EXPORTER"
EXPORTERS = ("none", "otlp", "console")
DEFAULT_SERVICE = "arkor-temporal"
_EXTRA_HINT = "install the tracing extra: pip install 'arkor-temporal[tracing]'"
_JOB_PATH = re.compile(r"^/v1/jobs/[^/]+")


class TracingConfigError(ValueError):
    """The tracing settings cannot work; the message names the variable and the fix."""


@dataclass(frozen=True)
class Tracing:
    """Tracing is on, exporting to ``exporter`` (``otlp`` or ``console``)."""

    exporter: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Tracing | None:
        """The tracing ``env`` asks for; None when it is off (the default)."""
        env = os.environ if env is None else env
        if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            return None
        raw = env.get(ENV_EXPORTER, "").strip()
        exporter = raw.lower() or "none"
        if exporter not in EXPORTERS:
            raise TracingConfigError(
                f"{ENV_EXPORTER}={raw!r} is not an exporter this process has: use "
                f"{', '.join(EXPORTERS)} (or leave it unset for none)"
            )
        if exporter == "none":
            return None
        try:
            import opentelemetry.sdk.trace  # noqa: F401
            import temporalio.contrib.opentelemetry  # noqa: F401
        except ImportError:
            raise TracingConfigError(
                f"{ENV_EXPORTER}={raw} needs OpenTelemetry, which is not installed: {_EXTRA_HINT}"
            ) from None
        if exporter == "otlp":
            _otlp_exporter_class(env)  # a missing exporter package is refused now, not later
        return cls(exporter)

    def interceptors(self, service: str = DEFAULT_SERVICE) -> list[Any]:
        """The Temporal interceptors of a traced connection; installs the tracer provider."""
        from temporalio.contrib.opentelemetry import TracingInterceptor

        _install(self.exporter, service)
        return [TracingInterceptor()]


def _otlp_exporter_class(env: Mapping[str, str]) -> Any:
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    try:
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcExporter,
            )

            return GrpcExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpExporter,
        )
    except ImportError:
        package = f"opentelemetry-exporter-otlp-proto-{'grpc' if protocol == 'grpc' else 'http'}"
        raise TracingConfigError(
            f"{ENV_EXPORTER}=otlp over {protocol} needs {package}, which is not installed: "
            + (f"pip install {package}" if protocol == "grpc" else _EXTRA_HINT)
        ) from None
    return HttpExporter


def _install(exporter: str, service: str) -> None:
    """Set the global tracer provider, unless the process has one of its own already."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    assert _otel_trace is not None  # Tracing.from_env checked that OpenTelemetry is there
    if isinstance(_otel_trace.get_tracer_provider(), TracerProvider):
        return  # the application's own (or installed by an earlier connection)
    name = os.environ.get("OTEL_SERVICE_NAME") or service
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    span_exporter = (
        ConsoleSpanExporter() if exporter == "console" else _otlp_exporter_class(os.environ)()
    )
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    _otel_trace.set_tracer_provider(provider)


def shutdown_tracing() -> None:
    """Export the spans still buffered; for processes that leave without interpreter teardown."""
    if _otel_trace is None:
        return
    provider = _otel_trace.get_tracer_provider()
    shutdown = getattr(provider, "shutdown", None)
    if callable(shutdown):
        shutdown()


class _Span:
    """What :func:`http_span` yields: records the answer's status, or nothing when off."""

    def __init__(self, span: Any | None) -> None:
        self._span = span

    def answered(self, status: int) -> None:
        if self._span is None:
            return
        self._span.set_attribute("http.response.status_code", status)
        if status >= 400:
            from opentelemetry.trace import Status, StatusCode

            self._span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))


def http_route(path: str) -> str:
    """A request path with the job id as a placeholder (span names stay few)."""
    return _JOB_PATH.sub("/v1/jobs/{id}", path)


@contextlib.contextmanager
def http_span(method: str, host: str, path: str) -> Iterator[_Span]:
    """A client span around one Arkor API request (a no-op span while tracing is off)."""
    if _otel_trace is None:
        yield _Span(None)
        return
    tracer = _otel_trace.get_tracer("arkor_cloud")
    with tracer.start_as_current_span(
        f"{method} {http_route(path)}",
        kind=_otel_trace.SpanKind.CLIENT,
        attributes={"http.request.method": method, "server.address": host, "url.path": path},
    ) as span:
        yield _Span(span if span.is_recording() else None)
