"""Fixtures of the client suite: one real emulator on loopback for the module's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from arkor_cloud import ClientSettings
from arkor_temporal.emulator import EmulatorConfig, EmulatorServer
from tests.support.settings import emulator_settings


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(steps_per_second=200, ping_interval=0.2, queue_seconds=0.05)
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture
def emu_settings(emu: EmulatorServer) -> ClientSettings:
    return emulator_settings(emu.base_url, timeout=5.0)
