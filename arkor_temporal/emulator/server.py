"""Run the emulator inside another program, on its own thread and event loop.

Its own loop keeps the simulated timing honest even when the embedding
program's loop is busy (tests run Temporal workers in the same process).
"""

from __future__ import annotations

import asyncio
import threading
import time
from types import TracebackType

import uvicorn

from arkor_temporal.emulator.app import create_app
from arkor_temporal.emulator.config import EmulatorConfig
from arkor_temporal.emulator.simulation import resume_simulations
from arkor_temporal.emulator.store import Store

STARTUP_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


async def serve_resuming(server: uvicorn.Server, store: Store) -> None:
    """Serve, first carrying on the jobs a state file brought back (they need the loop)."""
    resume_simulations(store)
    await server.serve()


class EmulatorServer:
    """``start()``/``stop()`` are synchronous; also usable as a context manager.

    ``store`` is exposed for in-process inspection; mutate it only through HTTP
    (``/_emulator``), since it belongs to the server thread's loop.
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.store = Store(self.config)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._port: int | None = None

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("emulator server is not running")
        return f"http://{self.config.host}:{self._port}"

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("emulator server already started")
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(self.store),
                host=self.config.host,
                port=self.config.port,
                log_level="warning",
                lifespan="on",
                timeout_graceful_shutdown=1,
            )
        )
        self._server = server
        self._thread = threading.Thread(target=self._serve, name="arkor-emulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("emulator server failed to start")
            time.sleep(0.01)
        self._port = server.servers[0].sockets[0].getsockname()[1]

    def _serve(self) -> None:
        assert self._server is not None
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(serve_resuming(self._server, self.store))
        finally:
            self._loop.close()

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            # Finish open SSE streams first; uvicorn waits for them otherwise.
            self._loop.call_soon_threadsafe(self.store.shutdown)
        self._server.should_exit = True
        self._thread.join(STOP_TIMEOUT)
        self._server = self._thread = self._loop = None
        self._port = None

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
