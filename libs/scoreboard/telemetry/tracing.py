"""OpenTelemetry traces, configured by the standard OTEL_* variables; nothing exported by default.

One trace follows an increment from the API's request span through PostgreSQL and Redis, into
the arq job (the context travels in the job payload as a W3C `traceparent`), the worker's apply
and publish, and the gateway's delivery (the context travels inside the stream event).
"""

from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

TRACER_NAME = "scoreboard"
# Probes and scrapes would drown the traces that matter.
UNTRACED_URLS = "healthz,readyz,metrics"


def _exporter(name: str) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    if name == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found]
                OTLPSpanExporter,
            )
        except ImportError as error:
            raise RuntimeError("OTEL_TRACES_EXPORTER=otlp needs: pip install 'scoreboard[otlp]'") from error
        exporter: SpanExporter = OTLPSpanExporter()
        return exporter
    raise RuntimeError(f"unsupported OTEL_TRACES_EXPORTER: {name}")


def configure_tracing(service: str) -> TracerProvider | None:
    """Install a tracer provider when OTEL_TRACES_EXPORTER (or an OTLP endpoint) asks for one."""
    default = "otlp" if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") else "none"
    names = [n.strip() for n in os.environ.get("OTEL_TRACES_EXPORTER", default).split(",") if n.strip()]
    names = [n for n in names if n != "none"]
    if not names:
        return None
    service_name = os.environ.get("OTEL_SERVICE_NAME", f"scoreboard-{service}")
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
    install(provider)
    return provider


def install(provider: TracerProvider) -> None:
    """Make `provider` the process's tracer provider and trace asyncpg and redis calls with it."""
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    trace.set_tracer_provider(provider)
    AsyncPGInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    RedisInstrumentor().instrument(tracer_provider=provider)


def enabled() -> bool:
    return isinstance(trace.get_tracer_provider(), TracerProvider)


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def current_traceparent() -> str | None:
    if not enabled():
        return None
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier.get("traceparent")


def context_from(traceparent: str | None) -> Context | None:
    return extract({"traceparent": traceparent}) if traceparent else None
