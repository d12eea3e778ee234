"""Assemble the ASGI application: routes, error rendering, middlewares."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp

from arkor_temporal.emulator.api import ArkorApi
from arkor_temporal.emulator.errors import ApiError, render_error
from arkor_temporal.emulator.inspection import Inspection
from arkor_temporal.emulator.middleware import (
    ConnectionAbortMiddleware,
    DeprecationMiddleware,
    GlobalFaultMiddleware,
    VersionGateMiddleware,
)
from arkor_temporal.emulator.store import Store


def create_app(store: Store) -> ASGIApp:
    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        store.shutdown()

    routes = ArkorApi(store).routes() + Inspection(store).routes()
    starlette = Starlette(
        routes=routes,
        exception_handlers={ApiError: render_error, HTTPException: render_error},
        lifespan=lifespan,
    )
    app: ASGIApp = GlobalFaultMiddleware(starlette, store)
    app = VersionGateMiddleware(app, store.config.client_version_range)
    app = DeprecationMiddleware(app, lambda: store.config.deprecation)
    return ConnectionAbortMiddleware(app)
