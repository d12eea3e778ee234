"""Logging for the worker and the CLI: stdlib and Temporal loggers rendered by structlog.

Temporal code keeps using ``workflow.logger``/``activity.logger`` (replay-aware);
this only decides how records look: JSON for machines (the default when stderr is
not a terminal, or ``ARKOR_TEMPORAL_LOG_FORMAT=json``), readable lines otherwise.
Fields bound with ``structlog.contextvars`` (the worker binds the run's workflow id,
job id and activity for each activity) appear on every line logged meanwhile.
httpx logs each request at INFO; those lines are demoted to DEBUG here, so they show
only with ``ARKOR_TEMPORAL_LOG_LEVEL=DEBUG``.
"""

from __future__ import annotations

import logging
import os
import sys

import structlog

ENV_FORMAT = "ARKOR_TEMPORAL_LOG_FORMAT"
ENV_LEVEL = "ARKOR_TEMPORAL_LOG_LEVEL"
FORMATS = ("json", "console")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Libraries that log every request at INFO.
CHATTY_LOGGERS = ("httpx",)


class LoggingConfigError(ValueError):
    """A logging setting that names no format or level; the message gives the choices."""


def _demote_to_debug(record: logging.LogRecord) -> bool:
    """A filter: an INFO record becomes DEBUG, and passes only if DEBUG is enabled."""
    if record.levelno == logging.INFO:
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)
    return True


def _choice(variable: str, given: str | None, choices: tuple[str, ...], default: str) -> str:
    raw = (given or os.environ.get(variable) or "").strip()
    if not raw:
        return default
    value = raw.upper() if variable == ENV_LEVEL else raw.lower()
    if value not in choices:
        raise LoggingConfigError(
            f"{variable}={raw!r} is not one of {', '.join(choices)}: set one of them, "
            f"or leave it unset for {default}."
        )
    return value


def configure_logging(level: str | None = None) -> None:
    """Set up the root logger; :class:`LoggingConfigError` names a bad setting."""
    fmt = _choice(ENV_FORMAT, None, FORMATS, "console" if sys.stderr.isatty() else "json")
    root_level = _choice(ENV_LEVEL, level, LEVELS, "INFO")
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
    root.setLevel(root_level)
    for name in CHATTY_LOGGERS:
        chatty = logging.getLogger(name)
        if _demote_to_debug not in chatty.filters:
            chatty.addFilter(_demote_to_debug)
