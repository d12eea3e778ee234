"""docs/protocol.md §14.7 over a real socket: a silent connection (no pings either) is dropped."""

from __future__ import annotations

import asyncio
import json

from pydantic import SecretStr

from arkor_cloud import ArkorClient, ClientSettings, EventFollower, ReconnectPolicy

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


def chunk(text: str) -> bytes:
    data = text.encode()
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def frame(event_id: str, type_: str, **fields: object) -> str:
    payload = json.dumps({"type": type_, "jobId": "j1", **fields})
    return f"id: {event_id}\nevent: {type_}\ndata: {payload}\n\n"


async def test_silent_connection_is_dropped_and_resumed() -> None:
    opens: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        opens.append(request)
        writer.write(HEAD)
        if len(opens) == 1:
            writer.write(chunk(frame("1", "training.log", step=1)))
            await writer.drain()
            await asyncio.sleep(5)  # then silence: no data, no pings
        else:
            writer.write(chunk(frame("2", "training.completed")) + b"0\r\n\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = ClientSettings(
        base_url=f"http://127.0.0.1:{port}",
        token=SecretStr("t"),
        org_slug="o",
        project_slug="p",
    )
    policy = ReconnectPolicy(base_delay=0.01, idle_timeout=0.3, max_attempts=2)
    async with server, ArkorClient(settings) as client:
        follower = EventFollower(client, "j1", policy=policy)
        async with asyncio.timeout(5):
            events = [event async for event in follower]
    assert [e.event_id for e in events] == ["1", "2"]
    assert len(opens) == 2 and b"last-event-id: 1" in opens[1].lower()
