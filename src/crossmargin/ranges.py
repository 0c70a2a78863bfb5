"""Physical ranges of market data: anything outside is a typo or a unit error, never a price.

======================  =========================================================================
field                   accepted
======================  =========================================================================
price, forward, mark    positive and finite
confidence              0 … 1 (NaN refused: ``NaN < 0.9`` is false and would pass a minimum)
implied vol             positive, at most :data:`MAX_VOL` (10 = 1 000 %; ``55`` for 55 % is
                        refused)
rate                    |r| ≤ :data:`MAX_RATE` (1 = 100 % a year, continuously compounded;
                        ``rate: -50`` is refused)
discount factor         positive, within ``exp(±(MAX_RATE·T + MAX_DISCOUNT_SLACK))`` of 1 for an
                        expiry ``T`` years away (the implied rate obeys the rate bound)
forward                 within ``exp(±(MAX_BASIS + MAX_RATE·T))`` of spot
perp funding rate       |f| ≤ 1 per funding period
======================  =========================================================================
"""

from __future__ import annotations

__all__ = ["MAX_BASIS", "MAX_DISCOUNT_SLACK", "MAX_FUNDING", "MAX_RATE", "MAX_VOL"]

#: Largest absolute continuously compounded rate (per year) in a snapshot.
MAX_RATE = 1.0
#: Largest implied volatility (10 = 1 000 % a year).
MAX_VOL = 10.0
#: Largest absolute log basis ``ln(F/S)`` beyond the rate carry ``MAX_RATE·T``.
MAX_BASIS = 0.5
#: Rounding slack of a discount factor's implied ``−ln D`` beyond ``MAX_RATE·T``.
MAX_DISCOUNT_SLACK = 0.01
#: Largest absolute perpetual funding rate per funding period.
MAX_FUNDING = 1.0
