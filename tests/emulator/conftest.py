from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from arkor_temporal.emulator import EmulatorServer
from tests.support.emulator import api, fast_config


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorServer]:
    with EmulatorServer(fast_config()) as server:
        yield server


@pytest.fixture
def client(emu: EmulatorServer) -> Iterator[httpx.Client]:
    with api(emu.base_url) as c:
        yield c
