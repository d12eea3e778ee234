"""A faithful local emulator of the Arkor cloud API.

It serves the routes, auth, SSE framing, resume, cancel and inference of
docs/protocol.md with a time-compressed training simulation, scenarios and
fault injection, plus an unauthenticated inspection surface under
``/_emulator`` (see :mod:`emulator.inspection`). It deliberately shares no code
with ``arkor_cloud`` so that a client bug cannot hide a matching emulator bug.

Embedding::

    with EmulatorServer(EmulatorConfig(steps_per_second=100)) as server:
        server.base_url  # "http://127.0.0.1:<port>"
"""

from arkor_temporal.emulator.app import create_app
from arkor_temporal.emulator.config import EmulatorConfig
from arkor_temporal.emulator.faults import Faults, GlobalFaults
from arkor_temporal.emulator.server import EmulatorServer
from arkor_temporal.emulator.store import Store

__all__ = ["EmulatorConfig", "EmulatorServer", "Faults", "GlobalFaults", "Store", "create_app"]
