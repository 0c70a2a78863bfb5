"""Auto-liquidation in the live engine: money is conserved, the book is written back exactly.

For every liquidation round the engine records the accounts' value (balances at the snapshot
prices plus mark-to-market) before and after, the insurance fund and the venue's pots (fee
income, market slippage, bad debt, the ADL clearing pot); their sum must not change — to the
cent — and the live book after the write-back must be worth exactly what the liquidation
engine's own state is worth. Property-tested over random streams (crash sizes, policies, last
resorts, fund sizes).
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.config import RiskConfig, default_config
from crossmargin.live.engine import LiveEngine
from crossmargin.live.records import MarketUpdate
from crossmargin.live.settings import LiveSettings

from .streams import feed, stream, venue

CENT = 0.005


def _config(last_resort: str) -> RiskConfig:
    obj = default_config().model_dump()
    obj["liquidation"]["last_resort"] = last_resort
    return RiskConfig.model_validate(obj)


def _check_rounds(engine: LiveEngine) -> None:
    for r in engine.liquidations:
        assert abs(r["conservation_error"]) < CENT, r  # type: ignore[arg-type]
        assert abs(r["live_value_after"] - r["value_after"]) < CENT, r  # type: ignore[operator]


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    crash=st.floats(0.2, 0.7),
    policy=st.sampled_from(["partial", "full"]),
    last_resort=st.sampled_from(["adl", "socialize_profitable", "socialize_all", "none"]),
    fund=st.sampled_from([0.0, 1_000.0, 1e6]),
)
def test_money_is_conserved_across_every_liquidation(
    seed: int, crash: float, policy: str, last_resort: str, fund: float
) -> None:
    v = venue(15, seed=seed % 7)
    items = stream(v, 120, seed=seed, crash=crash, vol=0.02)
    engine = LiveEngine.open(
        market=v.market,
        accounts=v.book,
        config=_config(last_resort),
        settings=LiveSettings(auto_liquidate=policy, insurance_fund=fund),  # type: ignore[arg-type]
    )
    feed(engine, items)
    _check_rounds(engine)
    assert engine.sweep().ok


def test_a_gap_down_bankrupts_and_deleverages() -> None:
    """A −35 % jump with an empty fund: bad debt is met by ADL against opposite positions."""
    v = venue(40, seed=1)
    engine = LiveEngine.open(
        market=v.market,
        accounts=v.book,
        config=_config("adl"),
        settings=LiveSettings(auto_liquidate="full", insurance_fund=0.0),
    )
    t = v.market.as_of
    events = []
    for k, f in enumerate((0.65, 0.6)):
        u = MarketUpdate(
            feed="x",
            seq=k + 1,
            time=t + timedelta(seconds=k + 1),
            asset="BTC",
            price=v.market.assets["BTC"].price * f,
        )
        events += engine.apply(u).events
    actions = {e.cause.get("action") for e in events if e.type == "liquidation_trade"}
    assert {"close", "write_off", "adl"} <= actions
    assert "bankrupt" in {e.type for e in events}
    _check_rounds(engine)
    assert engine.sweep().ok
