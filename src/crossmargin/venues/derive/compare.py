"""The venue harness's comparison of a Derive case with its expected ``Result`` (§10.4).

Relative 1e-8 on option MTM, each scenario P&L, MM and IM; absolute 1e-8 on collateral MTM and
on a scenario P&L when either side is below 1e-10 in magnitude. Scenario ``i`` maps to
``reg_losses[i]``, then ``tail_losses``, then ``skew_losses``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from crossmargin.errors import InputError
from crossmargin.margin.presets.derive.core import DeriveResult, derive_margin
from crossmargin.venues.derive.case import (
    DeriveCase,
    VolSource,
    case_inputs,
    case_notes,
    case_params,
    checked_result,
    fixed18,
)

__all__ = ["ABSOLUTE_TOLERANCE", "RELATIVE_TOLERANCE", "CaseCheck", "CaseReport", "compare_case"]

#: The venue harness's comparison tolerances (§10.4).
RELATIVE_TOLERANCE = 1e-8
ABSOLUTE_TOLERANCE = 1e-8
SMALL = 1e-10


@dataclass(frozen=True, slots=True)
class CaseCheck:
    """One compared quantity."""

    name: str
    ours: float
    expected: float | None
    rule: str
    ok: bool | None

    @property
    def rel_diff(self) -> float | None:
        """``|ours − expected| / |expected|`` (``None`` without an expected value)."""
        if self.expected is None:
            return None
        if self.expected == 0.0:
            return 0.0 if self.ours == 0.0 else math.inf
        return abs(self.ours - self.expected) / abs(self.expected)

    @property
    def abs_diff(self) -> float | None:
        """``|ours − expected|``."""
        return None if self.expected is None else abs(self.ours - self.expected)


@dataclass(frozen=True, slots=True)
class CaseReport:
    """Our values beside the case's expected values, with the harness's verdict."""

    mm: CaseCheck
    im: CaseCheck
    checks: tuple[CaseCheck, ...]
    result: DeriveResult
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool | None:
        """All compared quantities within tolerance (``None`` if nothing was expected)."""
        verdicts = [c.ok for c in (self.mm, self.im, *self.checks) if c.ok is not None]
        return all(verdicts) if verdicts else None


def _expected(res: dict[str, Any], key: str) -> float | None:
    if key not in res:
        return None
    try:
        return fixed18(res[key])
    except ValueError:
        raise InputError(f"expected a number, got {res[key]!r}", path=f"Result.{key}") from None


def _check(name: str, ours: float, expected: float | None, *, absolute: bool = False) -> CaseCheck:
    if expected is None:
        return CaseCheck(name, ours, None, "", None)
    if absolute or (abs(ours) < SMALL or abs(expected) < SMALL):
        return CaseCheck(
            name, ours, expected, "abs 1e-8", abs(ours - expected) <= ABSOLUTE_TOLERANCE
        )
    ok = abs(ours - expected) <= RELATIVE_TOLERANCE * abs(expected)
    return CaseCheck(name, ours, expected, "rel 1e-8", ok)


def _scenario_expected(res: dict[str, Any], n: int) -> list[float | None]:
    flat: list[float | None] = []
    for key, pos in (("reg_losses", 2), ("tail_losses", 2), ("skew_losses", 1)):
        rows = res.get(key) or []
        for k, row in enumerate(rows):
            try:
                flat.append(fixed18(row[pos]))
            except (ValueError, IndexError, KeyError, TypeError):  # not a list of numbers
                raise InputError("malformed row", path=f"Result.{key}[{k}]") from None
    if not flat:
        return [None] * n
    if len(flat) != n:
        raise InputError(
            f"{len(flat)} expected scenario P&L rows (reg_losses + tail_losses + skew_losses) "
            f"for {n} scenarios in Parameters.Scenarios",
            path="Result",
        )
    return flat


def compare_case(case: DeriveCase, *, vols: VolSource = "svi") -> CaseReport:
    """Run the case and compare with its ``Result`` by the harness's rule (§10.4).

    A skew scenario with a spot move (the venue's ``test_67``) is computed at spot shock 1 — the
    only rule the contract has for skews — and its P&L is not compared; MM and IM are. Every
    such reading is listed in the report's notes (:func:`.case.case_notes`).
    """
    p = case_params(case)
    inputs, _ = case_inputs(case, vols=vols)
    r = checked_result(derive_margin(inputs, p))
    res = case.Result
    mm = _check("MM", float(r.mm[0]), _expected(res, "MM"))
    im = _check("IM", float(r.im[0]), _expected(res, "IM"))
    checks = [
        _check("OptionMTM", float(r.g_option_mtm[0]), _expected(res, "OptionMTM")),
        _check(
            "CollateralMTM",
            float(inputs.c_value.sum()),
            _expected(res, "CollateralMTM"),
            absolute=True,
        ),
        _check("ForwardContingency", float(r.g_basis[0]), _expected(res, "ForwardContingency")),
    ]
    exp = _scenario_expected(res, len(p.scenarios))
    for j, sc in enumerate(p.scenarios):
        label = f"scenario[{j}] {sc.spot_shock:g} {sc.vol}"
        chk = _check(label, float(r.scenario_pnl[0, j]), exp[j])
        if sc.vol in ("linear", "abs") and sc.spot_shock != 1.0:
            chk = CaseCheck(chk.name, chk.ours, chk.expected, "not compared", None)
        checks.append(chk)
    return CaseReport(mm, im, tuple(checks), r, case_notes(case, vols=vols))
