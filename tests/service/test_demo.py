"""``crossmargin serve --demo``: the README's command starts the example venue, prints a key,
and the crash its banner prints moves accounts (the dashboard's story, end to end)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import httpx


def test_serve_demo_starts_and_its_crash_moves_accounts(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("crossmargin")
    env = {k: v for k, v in os.environ.items() if k != "CROSSMARGIN_ADMIN_KEY"}
    proc = subprocess.Popen(
        [str(exe), "serve", "--demo", "--port", "0", "--db", str(tmp_path / "demo.db")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    up = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "Uvicorn running on" in line:
                up.set()
        up.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert up.wait(120), "".join(lines)
        out = "".join(lines)
        url = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", out)
        assert url, out
        key = re.search(r"DEMO admin key.*\n\s+(demo-\S+)", out)
        crash = re.search(r"-d '(\{.*\})'", out)
        assert key and crash, out
        headers = {"Authorization": f"Bearer {key.group(1)}"}
        with httpx.Client(base_url=url.group(1), headers=headers, timeout=60) as c:
            before = c.get("/v1/accounts", params={"limit": 1}).json()
            assert before["total"] == 1000 and before["counts"]["healthy"] == 1000
            r = c.post(
                "/v1/market", content=crash.group(1), headers={"Content-Type": "application/json"}
            )
            assert r.status_code == 200, r.text
            assert {e["type"] for e in r.json()["results"][0]["events"]} >= {"bankrupt"}
            after = c.get("/v1/accounts", params={"limit": 1}).json()
            assert after["counts"]["healthy"] < 1000 and after["counts"]["frozen"] == 0
            assert after["items"][0]["status"] == "bankrupt"  # lowest margin ratio first
            assert c.get("/", follow_redirects=False).headers["location"] == "/login"
    finally:
        proc.terminate()
        proc.wait(30)
