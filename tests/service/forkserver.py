"""A fork server for the kill -9 tests: imports the service once, then forks service processes.

Importing the service stack takes a few seconds of CPU (NumPy, SciPy, SQLAlchemy, FastAPI);
twenty kills and restarts would spend most of their time importing. This process imports it
once and forks: each child opens the database (taking the writer lease and recovering the
engine from snapshot + journal, as ``crossmargin serve`` does: ``Service.open`` then the same
uvicorn server) and serves on a socket the parent bound. A child is a real, separate OS process;
``kill`` sends it SIGKILL, so no shutdown code of it runs.

Protocol (one JSON object per line on stdin; one answer per line on stdout):
``{"op": "spawn", "db": PATH}`` → ``{"pid": N, "url": "http://127.0.0.1:P"}``;
``{"op": "kill", "pid": N}`` → ``{"killed": N, "status": S}`` (SIGKILL, reaped).
The admin key comes from ``CROSSMARGIN_ADMIN_KEY``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys


def _serve(db: str, sock: socket.socket) -> None:
    from crossmargin.cli.cmd_info import examples_dir
    from crossmargin.service.config import ServiceConfig, load_admin_key
    from crossmargin.service.runtime import Service
    from crossmargin.service.server import build_server

    ex = examples_dir()
    cfg = ServiceConfig(
        db=db,
        market=ex / "market_venue.json",
        accounts=ex / "venue_accounts.json",
        admin_key=load_admin_key(),
        clock="inputs",
    )
    service = Service(cfg)
    service.open()
    server = build_server(
        cfg, host="127.0.0.1", port=0, access_log=False, log_level="warning", service=service
    )
    server.run(sockets=[sock])


def main() -> None:
    # everything the service needs, imported before the first fork
    import crossmargin.cli.cmd_info
    import crossmargin.service.runtime
    import crossmargin.service.server  # noqa: F401

    out = sys.stdout
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "spawn":
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            sock.listen(128)
            port = sock.getsockname()[1]
            pid = os.fork()
            if pid == 0:  # the service process
                code = 0
                try:
                    os.setpgid(0, 0)
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    devnull = os.open(os.devnull, os.O_RDONLY)
                    os.dup2(devnull, 0)
                    _serve(str(cmd["db"]), sock)
                except BaseException as exc:
                    print(f"service process failed: {exc!r}", file=sys.stderr, flush=True)
                    code = 1
                finally:
                    os._exit(code)
            sock.close()
            out.write(json.dumps({"pid": pid, "url": f"http://127.0.0.1:{port}"}) + "\n")
        elif cmd["op"] == "kill":
            pid = int(cmd["pid"])
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            out.write(json.dumps({"killed": pid, "status": status}) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
