"""Pure array kernels: Black-76 price and Greeks, blocked evaluation, optional numba twin."""

from crossmargin.kernels.black76 import Greeks, black76_greeks, black76_price
from crossmargin.kernels.blocks import for_blocks

__all__ = ["Greeks", "black76_greeks", "black76_price", "for_blocks"]
