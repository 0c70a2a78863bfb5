"""Run the service with uvicorn (``crossmargin serve``).

One process: uvicorn's event loop for HTTP, the engine thread for the state (see
:mod:`crossmargin.service.worker`). A stop signal first ends the event streams (so that open
SSE connections do not hold the shutdown), then uvicorn drains requests and the lifespan
closes the engine with a final snapshot.

Read replicas (``--read-only``) hold no engine and may run several uvicorn worker processes
(``--workers N``): each opens its own store handle.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import Any

import uvicorn
from fastapi import FastAPI

from crossmargin.service.app import create_app
from crossmargin.service.config import ServiceConfig
from crossmargin.service.logs import logging_config
from crossmargin.service.runtime import Service

__all__ = ["ServiceServer", "run"]

log = logging.getLogger("crossmargin.service")


class ServiceServer(uvicorn.Server):
    """A uvicorn server that ends the service's streams when asked to stop."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self.service: Service = app.state.service
        self.loop: Any = None

    def handle_exit(self, sig: int, frame: Any) -> None:
        """Stop (signal handler): end the streams, then uvicorn's graceful shutdown."""
        self._end_streams()
        super().handle_exit(sig, frame)

    def stop(self) -> None:
        """Stop from another thread (tests, embedding)."""
        self._end_streams()
        self.should_exit = True

    def _end_streams(self) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.service.begin_shutdown)
        else:
            self.service.begin_shutdown()

    @property
    def port(self) -> int:
        """The port it listens on (after start-up; useful with port 0)."""
        for server in self.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        raise RuntimeError("the server is not listening")

    async def startup(self, sockets: Any = None) -> None:
        """Remember the loop, then uvicorn's start-up."""
        self.loop = asyncio.get_running_loop()
        await super().startup(sockets=sockets)


def build_server(
    config: ServiceConfig,
    *,
    host: str,
    port: int,
    access_log: bool = True,
    log_level: str = "info",
    service: Service | None = None,
) -> ServiceServer:
    """A server for ``config`` (not started)."""
    app = create_app(config, service=service)
    uv = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=logging_config(log_level),
        access_log=access_log,
        timeout_graceful_shutdown=5,
        lifespan="on",
        proxy_headers=False,
        server_header=False,
    )
    return ServiceServer(uv, app)


def run(
    config: ServiceConfig,
    *,
    host: str,
    port: int,
    access_log: bool = True,
    service: Service | None = None,
) -> None:
    """Serve until stopped (SIGINT / SIGTERM)."""
    server = build_server(config, host=host, port=port, access_log=access_log, service=service)
    try:
        server.run()
    finally:
        if service is not None and not server.started:
            service.close()
    if not server.started:
        raise SystemExit(1)


_REPLICA_ENV = "CROSSMARGIN_REPLICA_CONFIG"


def run_replicas(
    config: ServiceConfig, *, host: str, port: int, workers: int, access_log: bool = True
) -> None:
    """Serve a read replica with ``workers`` uvicorn processes (each its own store handle)."""
    import json

    os.environ[_REPLICA_ENV] = json.dumps(
        {"db": config.db, "max_body_bytes": config.max_body_bytes, "max_batch": config.max_batch}
    )
    uvicorn.run(
        "crossmargin.service.server:replica_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=logging_config(),
        access_log=access_log,
        timeout_graceful_shutdown=5,
        server_header=False,
    )


def replica_app() -> FastAPI:
    """The app of one replica worker process (``run_replicas``; configured by environment)."""
    import json

    from crossmargin.service.config import load_admin_key

    opts = json.loads(os.environ[_REPLICA_ENV])
    cfg = ServiceConfig(
        db=opts["db"],
        read_only=True,
        admin_key=load_admin_key(),
        max_body_bytes=opts["max_body_bytes"],
        max_batch=opts["max_batch"],
    )
    return create_app(cfg)


def in_thread(
    config: ServiceConfig, *, host: str = "127.0.0.1", port: int = 0
) -> tuple[ServiceServer, threading.Thread]:
    """Start a server in a daemon thread (tests); returns once it accepts connections."""
    server = build_server(config, host=host, port=port, access_log=False, log_level="warning")
    thread = threading.Thread(target=server.run, name="crossmargin-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the service did not start (see the log)")
        time.sleep(0.02)
    return server, thread
