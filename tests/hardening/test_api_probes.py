"""Issue 9: the public API raises only the typed error tree (``crossmargin.errors``).

Every probe in :mod:`tests.hardening.probes` calls a name of ``crossmargin.__all__`` with a bad
argument; each must raise a ``CrossMarginError`` subclass — no ``TypeError``/``AttributeError``/
``IndexError``/``OverflowError``, and no silent result (``Option(strike=0)``, ``SmileVol`` with
unsorted strikes, ``AssetMarket(confidence=NaN)``, ``black76_price`` with a negative vol, ...).
"""

from __future__ import annotations

import crossmargin as cm
from crossmargin.errors import CrossMarginError

from .probes import PROBES, run_probes


def test_probes_cover_the_public_api() -> None:
    callables = {n for n in cm.__all__ if callable(getattr(cm, n)) and n[0] != "_"}
    # error classes and protocols are not argument-taking API
    exempt = {n for n in callables if n.endswith("Error")} | {"MarginModel", "available_models"}
    exempt |= {"default_config"}  # takes no arguments
    labels = " ".join(label for label, _ in PROBES)
    missing = sorted(n for n in callables - exempt if n not in labels)
    assert not missing, f"public names without a bad-argument probe: {missing}"
    assert len(PROBES) >= 150


def test_every_probe_raises_a_typed_error() -> None:
    res = run_probes()
    assert res["untyped"] == [], "\n".join(res["untyped"])
    assert res["silent"] == [], "computed silently: " + ", ".join(res["silent"])
    assert len(res["typed"]) == len(PROBES)


def test_errors_carry_a_path() -> None:
    for label, thunk in PROBES:
        try:
            thunk()
        except CrossMarginError as exc:
            assert exc.path, f"{label}: {exc!r} has no path"
