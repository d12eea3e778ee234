"""The codec server: decrypts payloads for the Temporal Web UI and the ``temporal`` CLI.

Temporal's remote codec protocol: ``POST .../encode`` and ``POST .../decode`` take and
return a ``Payloads`` message in proto3 JSON (``{"payloads": [...]}``); only the
last part of the path counts, and clients send ``X-Namespace``. The Web UI calls it
from the browser, so the server answers CORS preflights for the UI's origins; with
a token set, every encode and decode needs ``Authorization: Bearer <token>``
(a preflight never carries it and never needs it).

Built on the standard library's threaded HTTP server: a production install
(``pip install arkor-temporal``) has no ASGI server, and this serves a few
requests per page of the UI. It binds to loopback unless told otherwise.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from arkor_temporal.codec.aes import AesGcmCodec
from arkor_temporal.codec.keys import CodecKeyError

log = logging.getLogger("arkor_temporal.codec")

ENV_TOKEN = "ARKOR_TEMPORAL_CODEC_TOKEN"
DEFAULT_PORT = 8081
# The dev server's Web UI (``arkor-temporal dev up``), by either loopback name.
DEFAULT_UI_ORIGINS = ("http://localhost:8233", "http://127.0.0.1:8233")
MAX_BODY_BYTES = 64 * 1024 * 1024  # Temporal caps one payload at 2 MB; a batch may hold many
ALLOWED_HEADERS = "Authorization, Content-Type, X-Namespace"
PREFLIGHT_MAX_AGE = "600"


class CodecServer:
    """The HTTP server around one codec, in a background thread or in the foreground."""

    def __init__(
        self,
        codec: AesGcmCodec,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        ui_origins: Sequence[str] = DEFAULT_UI_ORIGINS,
        token: str | None = None,
    ) -> None:
        self.codec = codec
        self.ui_origins = frozenset(origin.rstrip("/") for origin in ui_origins)
        self.token = token or None
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_forever(self) -> None:
        """Serve until :meth:`stop` (or Ctrl+C in the foreground)."""
        self._httpd.serve_forever(poll_interval=0.2)

    def start(self) -> CodecServer:
        """Serve from a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, name="codec-server")
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> CodecServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def authorized(self, header: str | None) -> bool:
        if self.token is None:
            return True
        scheme, _, given = (header or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self.token.encode()
        )

    def transform(self, operation: str, body: bytes) -> bytes:
        """``encode`` or ``decode`` a JSON ``Payloads`` body; raises ValueError on bad input."""
        try:
            payloads = json_format.Parse(body, Payloads(), ignore_unknown_fields=True)
        except (json_format.ParseError, UnicodeDecodeError) as exc:
            raise ValueError(f"the body is not a JSON Payloads message: {exc}") from None
        convert = self.codec.encrypt_all if operation == "encode" else self.codec.decrypt_all
        result = Payloads(payloads=convert(payloads.payloads))
        return json_format.MessageToJson(result, indent=None).encode()


def _handler_for(server: CodecServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_CodecRequestHandler):
        codec_server = server

    return Handler


class _CodecRequestHandler(BaseHTTPRequestHandler):
    codec_server: CodecServer
    protocol_version = "HTTP/1.1"  # keep-alive: the UI decodes a page in many requests
    server_version = "arkor-temporal-codec"

    def do_OPTIONS(self) -> None:
        origin = self._allowed_origin()
        if self.headers.get("Origin") and origin is None:
            self._reply(HTTPStatus.FORBIDDEN, {"error": self._origin_refused()})
            return
        self._reply(
            HTTPStatus.NO_CONTENT,
            headers={
                "Access-Control-Allow-Methods": "POST, OPTIONS",
                "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
            },
        )

    def do_POST(self) -> None:
        # The body first, even for a refusal: a client still sending it would see a reset,
        # and on a kept-alive connection it would be read as the next request.
        body = self._read_body()
        if body is None:
            return
        operation = self.path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        if operation not in ("encode", "decode"):
            self._reply(HTTPStatus.NOT_FOUND, {"error": "POST to .../encode or .../decode"})
            return
        if self.headers.get("Origin") and self._allowed_origin() is None:
            self._reply(HTTPStatus.FORBIDDEN, {"error": self._origin_refused()})
            return
        if not self.codec_server.authorized(self.headers.get("Authorization")):
            self._reply(
                HTTPStatus.UNAUTHORIZED,
                {"error": "missing or wrong bearer token: send `Authorization: Bearer <token>`"},
                headers={"WWW-Authenticate": 'Bearer realm="arkor-temporal codec"'},
            )
            return
        try:
            answer = self.codec_server.transform(operation, body)
        except (ValueError, CodecKeyError) as exc:  # CodecKeyError names the missing key id
            self._reply(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        self._reply(HTTPStatus.OK, raw=answer)

    def do_GET(self) -> None:
        self._reply(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "POST to .../encode or .../decode"})

    def _read_body(self) -> bytes | None:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._reply(
                HTTPStatus.LENGTH_REQUIRED,
                {"error": "send a Content-Length"},
                headers={"Connection": "close"},
            )
            self.close_connection = True
            return None
        if int(length) > MAX_BODY_BYTES:
            self._reply(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                {"error": f"at most {MAX_BODY_BYTES} bytes per request"},
                headers={"Connection": "close"},
            )
            self.close_connection = True  # the body is unread: never parse it as a request
            return None
        return self.rfile.read(int(length))

    def _allowed_origin(self) -> str | None:
        origin = (self.headers.get("Origin") or "").rstrip("/")
        return origin if origin in self.codec_server.ui_origins else None

    def _origin_refused(self) -> str:
        return (
            f"origin {self.headers.get('Origin')!r} is not allowed: start the codec server "
            "with `--ui-origin <the Web UI's origin>`"
        )

    def _reply(
        self,
        status: HTTPStatus,
        error: dict[str, Any] | None = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        body = raw if raw is not None else (json.dumps(error).encode() if error else b"")
        self.send_response(status)
        origin = self._allowed_origin()
        if origin is not None:
            self.send_header("Access-Control-Allow-Origin", origin)
            # The UI's "include cross-origin credentials" setting sends cookies.
            self.send_header("Access-Control-Allow-Credentials", "true")
        self.send_header("Vary", "Origin")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # Method, path and status only: never a body or a header (the token).
        log.info("codec %s", format % args)
