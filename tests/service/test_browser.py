"""The dashboard in a real browser: Playwright for Python driving Debian's Chromium.

The test starts the service itself (a thread, a free loopback port) and the browser headless
(``--no-sandbox --disable-background-networking``; ``playwright install`` is never needed: the
browser is ``/usr/bin/chromium``, installed by ``.ci/system-deps``). It logs in with the admin
key, reads the accounts table and the status counts, posts a market crash through the API and
watches, without a reload, the account turn red and the event appear; then drills down into
the account (breakdown, heat map, what-if form, the account Greeks table with the API's
numbers) and into an option book's Greeks. Screenshots go to ``$CROSSMARGIN_ARTIFACTS`` (default: the test's temp dir).

The page loads nothing from the internet: every request the browser makes is checked to go to
the service's own origin.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from .helpers import ADMIN_KEY, Running, start_service, stop_service

CHROMIUM = Path("/usr/bin/chromium")
#: The account the crash moves from healthy to liquidation (the venue example at BTC 50 000).
VICTIM = "vol-seller-04"
#: An option market maker on BTC and ETH (the venue example): every Greek is non-zero.
OPTIONS = "mm-01"
#: How long the page may take to show a pushed change (a loaded CI machine; usually < 1 s).
LIVE_MS = 20_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "Chromium is installed by .ci/system-deps (apt-get install chromium)"
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    out = Path(os.environ.get("CROSSMARGIN_ARTIFACTS", tmp_path)) / "browser"
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    r = start_service(str(tmp_path / "ui.db"))
    try:
        yield r
    finally:
        stop_service(r)


def _ratio(text: str) -> float:
    t = text.strip().replace(",", "")
    return float(t) if t not in ("", "–", "-", "nan") else float("inf")


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _check_greeks(page: Page, greeks: dict[str, Any]) -> None:
    """The drill-down's Greeks table shows the margin JSON's ``greeks`` (as rendered)."""
    table = page.locator("#greeks-table")
    expect(table).to_be_visible()
    head = table.locator("thead").inner_text()
    for title in ("delta", "delta cash", "gamma", "gamma cash", "vega", "theta"):
        assert title in head, head
    rows = greeks["per_underlying"]
    assert rows, "the victim holds positions: it has Greeks"
    expect(table.locator("tr.greeks-row")).to_have_count(len(rows))
    shown = {}
    for row in rows:
        tr = table.locator(f'tr.greeks-row[data-underlying="{row["underlying"]}"]')
        expect(tr).to_be_visible()
        cells = tr.locator("td[data-greek]")
        keys = cells.evaluate_all("cs => cs.map(c => c.dataset.greek)")
        shown[row["underlying"]] = dict(zip(keys, cells.all_inner_texts(), strict=True))
    for row in rows:
        got = shown[row["underlying"]]
        assert got["delta"] == f"{row['delta']:,.4f}", (row, got)
        assert got["gamma"] == f"{row['gamma']:,.6f}", (row, got)
        for key in ("spot", "delta_cash", "gamma_cash", "vega", "theta"):
            assert got[key] == _money(row[key]), (key, row, got)
    total = table.locator("tr.greeks-total")
    expect(total).to_be_visible()
    for key, value in greeks["account"].items():
        expect(total.locator(f'td[data-greek="{key}"]')).to_have_text(_money(value))
    # the account line is the sum of the cash figures of the underlyings
    assert greeks["account"]["delta_cash"] == pytest.approx(
        sum(r["delta_cash"] for r in rows), rel=1e-9, abs=1e-6
    )


def test_dashboard_login_table_live_crash_and_drill_down(
    browser: Browser, running: Running, artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    foreign: list[str] = []
    context.on(
        "request",
        lambda req: None if req.url.startswith(running.url) else foreign.append(req.url),
    )
    errors: list[str] = []
    page: Page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(LIVE_MS)

    # -- log in by key: the dashboard redirects to the login page, the key gives a cookie --------
    page.goto(running.url + "/")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.fill("#key", "not-the-key-" + "x" * 30)
    page.click("button[type=submit]")
    expect(page.locator("p.error")).to_be_visible()
    assert not context.cookies()
    page.fill("#key", ADMIN_KEY)
    page.click("button[type=submit]")
    expect(page).to_have_url(running.url + "/")
    (cookie,) = context.cookies()
    assert cookie["name"] == "cm_session" and cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict" and ADMIN_KEY not in cookie["value"]
    expect(page.locator("#stream-state")).to_have_text("live")

    # -- the accounts table, closest to liquidation first, and the status counts ----------------
    with running.client() as api:
        listing = api.get("/v1/accounts").json()
    rows = page.locator("#accounts-table tbody tr.row")
    expect(rows).to_have_count(listing["total"])
    shown = rows.evaluate_all("rs => rs.map(r => r.dataset.account)")
    assert shown == [a["account"] for a in listing["items"]]
    ratios = [
        _ratio(t)
        for t in page.locator("#accounts-table tbody tr.row td:nth-child(3)").all_inner_texts()
    ]
    assert ratios == sorted(ratios), ratios
    for status, n in listing["counts"].items():
        expect(page.locator(f'.counts .n[data-status="{status}"]')).to_have_text(str(n))
    victim = page.locator(f'#accounts-table tr.row[data-account="{VICTIM}"]')
    expect(victim).to_have_attribute("data-status", "healthy")
    healthy_bg = victim.evaluate("r => getComputedStyle(r).backgroundColor")
    page.screenshot(path=str(artifacts / "1-venue-before.png"), full_page=True)

    # -- a crash through the API: the row turns red and the event appears, without a reload ----
    page.evaluate("window.__sameDocument = 'yes'")
    with running.client() as api:
        r = api.post(
            "/v1/market",
            json={
                "type": "market",
                "feed": "ui",
                "time": "2026-11-22T08:00:10Z",
                "asset": "BTC",
                "price": 50000,
            },
        )
        assert r.status_code == 200, r.text
        after = api.get("/v1/accounts").json()
    event = page.locator(f'#feed li.event.type-liquidation[data-account="{VICTIM}"]')
    expect(event).to_have_count(1, timeout=LIVE_MS)
    expect(event).to_contain_text("healthy → liquidation")
    victim = page.locator(f'#accounts-table tr.row[data-account="{VICTIM}"]')
    expect(victim).to_have_attribute("data-status", "liquidation", timeout=LIVE_MS)
    badge = victim.locator(".badge")
    expect(badge).to_have_css("background-color", "rgb(179, 38, 30)")  # --liq: #b3261e
    assert victim.evaluate("r => getComputedStyle(r).backgroundColor") != healthy_bg
    for status, n in after["counts"].items():
        expect(page.locator(f'.counts .n[data-status="{status}"]')).to_have_text(
            str(n), timeout=LIVE_MS
        )
    shown = rows.evaluate_all("rs => rs.map(r => r.dataset.account)")
    assert shown == [a["account"] for a in after["items"]]
    assert page.evaluate("window.__sameDocument") == "yes", "the page was reloaded"
    # tick → event latency: on the server (status) and measured in this browser
    expect(page.locator("#client-latency")).to_contain_text("ms", timeout=LIVE_MS)
    expect(page.locator("#latency")).to_contain_text("ms", timeout=LIVE_MS)
    page.screenshot(path=str(artifacts / "2-venue-after-crash.png"), full_page=True)

    # -- drill-down into the account --------------------------------------------------------------
    victim.locator("th a").click()
    expect(page).to_have_url(f"{running.url}/accounts/{VICTIM}")
    expect(page.locator("#acct-status")).to_have_text(re.compile("liquidation", re.I))
    with running.client() as api:
        margin = api.get(f"/v1/accounts/{VICTIM}").json()
    underlyings = {b["underlying"] for b in margin["breakdown"]}
    breakdown = page.locator("section[aria-labelledby=bd-title] tbody th").all_inner_texts()
    assert set(breakdown) == underlyings
    heat = page.locator("table.heat")
    assert heat.count() >= 1
    # the worst scenario is outlined: a grid cell, or a tail scenario in the list beside the grid
    expect(page.locator("table.heat td.worst, li.worst")).to_have_count(len(underlyings))
    expect(page.locator("section[aria-labelledby=bd-title] thead")).to_contain_text("net delta")
    # the account Greeks: one row per underlying and the account totals, the API's numbers
    _check_greeks(page, margin["greeks"])
    expect(page.locator(f'#feed li.event[data-account="{VICTIM}"]')).not_to_have_count(0)
    # the what-if form (htmx + CSRF header) answers before/after without changing anything
    seq = margin["live"]["seq"]
    page.fill("#wi-instrument", "BTC-PERP")
    page.fill("#wi-quantity", "-1")
    page.fill("#wi-price", "52000")
    page.click("form.whatif button[type=submit]")
    expect(page.locator("#whatif-result")).to_contain_text("before")
    expect(page.locator("#whatif-result")).to_contain_text("after")
    with running.client() as api:
        assert api.get(f"/v1/accounts/{VICTIM}").json()["live"]["seq"] == seq
    page.screenshot(path=str(artifacts / "3-account.png"), full_page=True)

    # -- an option book's Greeks (two underlyings): gamma, vega and theta too ------------------
    page.goto(f"{running.url}/accounts/{OPTIONS}")
    with running.client() as api:
        greeks = api.get(f"/v1/accounts/{OPTIONS}").json()["greeks"]
    assert len(greeks["per_underlying"]) >= 2
    assert all(r["gamma"] != 0 and r["vega"] != 0 for r in greeks["per_underlying"]), greeks
    _check_greeks(page, greeks)
    page.screenshot(path=str(artifacts / "4-account-greeks.png"), full_page=True)

    assert not errors, errors
    assert not foreign, f"the page loaded from elsewhere: {foreign}"
    context.close()


def test_the_page_works_offline(browser: Browser, running: Running) -> None:
    """With every non-loopback request blocked, htmx and the styles still load (vendored)."""
    context = browser.new_context()
    blocked: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(running.url):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.goto(running.url + "/login")
    page.fill("#key", ADMIN_KEY)
    page.click("button[type=submit]")
    expect(page).to_have_url(running.url + "/")
    page.wait_for_load_state("load")  # scripts evaluated (a loaded machine can lag the URL)
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.evaluate("getComputedStyle(document.body).fontFamily")
    expect(page.locator("#accounts-table tbody tr.row").first).to_be_visible()
    assert not blocked, blocked
    context.close()
