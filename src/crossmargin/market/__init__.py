"""Market data: the snapshot, per-expiry forwards/discounts and vol surfaces."""

from crossmargin.market.snapshot import AssetMarket, ExpiryMarket, MarketSnapshot
from crossmargin.market.vol import FlatVol, SmileVol, SVIVol, VolSurface

__all__ = [
    "AssetMarket",
    "ExpiryMarket",
    "FlatVol",
    "MarketSnapshot",
    "SVIVol",
    "SmileVol",
    "VolSurface",
]
