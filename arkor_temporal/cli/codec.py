"""``arkor-temporal codec-server``: decrypted payloads for the Temporal Web UI and CLI.

It reads the same keys as the worker (``ARKOR_TEMPORAL_CODEC_KEYS`` or
``ARKOR_TEMPORAL_CODEC_KEYS_FILE``) and needs no connection to Temporal: the UI and
the ``temporal`` CLI send it the payloads they fetched.
"""

from __future__ import annotations

import ipaddress
import os
import signal
from types import FrameType

import click

from arkor_temporal.cli.app import EXIT_BAD_INPUT, errors, fail
from arkor_temporal.codec import ENV_KEYS, ENV_KEYS_FILE, CodecKeyError, codec_from_env
from arkor_temporal.codec.keys import NEW_KEY_HINT
from arkor_temporal.codec.server import DEFAULT_PORT, DEFAULT_UI_ORIGINS, ENV_TOKEN, CodecServer
from arkor_temporal.logs import LoggingConfigError, configure_logging


@click.command("codec-server")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback should set a token.",
)
@click.option("--port", type=int, default=DEFAULT_PORT, show_default=True, help="Port.")
@click.option(
    "--ui-origin",
    "ui_origins",
    multiple=True,
    metavar="ORIGIN",
    help="Origin of a Web UI allowed to call it from the browser (repeatable) "
    f"[default: {' and '.join(DEFAULT_UI_ORIGINS)}].",
)
def codec_server(host: str, port: int, ui_origins: tuple[str, ...]) -> None:
    """Serve Temporal's remote codec (POST /decode, /encode) with the workers' keys.

    Point the Web UI at it (`temporal server start-dev --ui-codec-endpoint URL`, or the
    UI's "Codec Server" setting) and the temporal CLI (`--codec-endpoint URL`). Keys
    from ARKOR_TEMPORAL_CODEC_KEYS or ARKOR_TEMPORAL_CODEC_KEYS_FILE; with
    ARKOR_TEMPORAL_CODEC_TOKEN set, requests need `Authorization: Bearer <token>`
    (temporal CLI: `--codec-auth "Bearer $ARKOR_TEMPORAL_CODEC_TOKEN"`).
    """
    try:
        codec = codec_from_env(os.environ)
    except CodecKeyError as exc:
        fail(exc, EXIT_BAD_INPUT)
    if codec is None:
        fail(
            f"no encryption key is configured: list them in {ENV_KEYS} (`k1=<base64>,...`, "
            f"the workers' keys) or {ENV_KEYS_FILE}; {NEW_KEY_HINT}",
            EXIT_BAD_INPUT,
        )
    token = os.environ.get(ENV_TOKEN) or None
    origins = ui_origins or DEFAULT_UI_ORIGINS
    try:
        server = CodecServer(codec, host=host, port=port, ui_origins=origins, token=token)
    except OSError as exc:
        fail(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}): pick another with --port "
            "or --host",
            EXIT_BAD_INPUT,
        )
    try:
        configure_logging()
    except LoggingConfigError as exc:
        fail(exc, EXIT_BAD_INPUT)
    if token is None and not _loopback(host):
        errors.print(
            f"warning: no {ENV_TOKEN} on {host}: anyone who reaches this port can decrypt "
            "payloads; set a token",
            highlight=False,
        )
    errors.print(
        f"codec server on {server.url} (keys {', '.join(codec.keys.ids)}; new payloads with "
        f"{codec.keys.current}; {'bearer token required' if token else 'no token'}) "
        f"for {', '.join(origins)}\n"
        f"  Web UI:       temporal server start-dev --ui-codec-endpoint {server.url}\n"
        f"  temporal CLI: temporal workflow show -w <id> --codec-endpoint {server.url}"
        + (f' --codec-auth "Bearer ${ENV_TOKEN}"' if token else ""),
        highlight=False,
        soft_wrap=True,
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
