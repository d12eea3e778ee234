"""Logging for the worker and the CLI: stdlib and Temporal loggers rendered by structlog.

Temporal code keeps using ``workflow.logger``/``activity.logger`` (replay-aware);
this only decides how records look: JSON for machines (the default when stderr is
not a terminal, or ``ARKOR_TEMPORAL_LOG_FORMAT=json``), readable lines otherwise.
"""

from __future__ import annotations

import logging
import os
import sys

import structlog


def configure_logging(level: str | None = None) -> None:
    fmt = os.environ.get("ARKOR_TEMPORAL_LOG_FORMAT") or (
        "console" if sys.stderr.isatty() else "json"
    )
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso"),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("ARKOR_TEMPORAL_LOG_LEVEL", "INFO"))
