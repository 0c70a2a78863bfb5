"""Fuzz cases: one command line over mutated inputs, built deterministically from a seed.

A :class:`Case` is a command line whose arguments may name files of the case (``{in}/name``) and
outputs (``{out}/name``), the files' bytes, what the command must produce on success and — for
mutations that removed or corrupted margin data — the key of the unmutated run to compare
margins with. :func:`make_case` draws one case per index for every command of the CLI.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from . import corpus
from .mutate import (
    Mutant,
    mutate_csv,
    mutate_frame_table,
    mutate_json,
    mutate_string,
    mutate_yaml,
)


@dataclass
class Case:
    """One command line over (possibly mutated) input files."""

    command: str
    argv: list[str]
    files: dict[str, bytes] = field(default_factory=dict)
    label: str = ""
    #: relative paths under ``{out}`` the command must write on success
    outputs: tuple[str, ...] = ()
    #: the output directory must hold exactly ``outputs`` (``False``: a directory output)
    exact_outputs: bool = True
    json_stdout: bool = True
    #: the mutation removed or corrupted margin data: compare with the unmutated run
    corrupts: bool = False
    #: the unmutated case (same command line, seed files) for the margin comparison
    baseline: Case | None = None
    #: input kind -> file name, for the loader checks
    mutated: dict[str, str] = field(default_factory=dict)


def _mutate_file(rng: random.Random, seed: corpus.Seed) -> Mutant:
    if seed.name.endswith((".yaml", ".yml")):
        return mutate_yaml(rng, seed.data)
    if seed.name.endswith(".csv"):
        return mutate_csv(rng, seed.data, seed.kind)
    return mutate_json(rng, seed.data, seed.kind)


def _with_mutation(
    rng: random.Random,
    command: str,
    argv: list[str],
    seeds: dict[str, corpus.Seed],
    target: str,
    *,
    outputs: tuple[str, ...] = (),
    exact_outputs: bool = True,
    json_stdout: bool = True,
) -> Case:
    """A case whose ``target`` seed is mutated; its unmutated twin is the baseline."""
    files = {s.name: s.data for s in seeds.values()}
    base = Case(command, list(argv), dict(files), "unmutated", outputs, exact_outputs, json_stdout)
    seed = seeds[target]
    m = _mutate_file(rng, seed)
    name = m.name or seed.name
    files[seed.name] = m.data
    return Case(command, argv, files, f"{seed.kind} {seed.name}: {m.label}", outputs,
                exact_outputs, json_stdout, m.corrupts, base, {seed.kind: name})  # fmt: skip


MARGIN_MODELS = ("portfolio", "portfolio", "cross", "isolated", "var", "es", "deribit-pm",
                 "okx-pm", "dydx-v4", "drift-v2", "paradex-pm", "span", "derive-pmrm2")  # fmt: skip


def _margin(rng: random.Random) -> Case:
    pf, mk = rng.choice(corpus.portfolios())
    command = rng.choice(["margin", "margin", "compare", "explain"])
    seeds = {"portfolio": pf, "market": mk}
    argv = [command, f"{{in}}/{pf.name}", "-m", f"{{in}}/{mk.name}", "-f", "json"]
    if command != "compare":
        argv += ["--model", rng.choice(MARGIN_MODELS)]
    elif rng.random() < 0.3:
        argv += ["--models", "isolated,cross,portfolio,deribit-pm"]
    target = rng.choices(["portfolio", "market", "config"], [4, 5, 1])[0]
    if target == "config" or rng.random() < 0.1:
        seeds["config"] = rng.choice([corpus.config(), corpus.small_config()])
        argv += ["-c", f"{{in}}/{seeds['config'].name}"]
    case = _with_mutation(rng, command, argv, seeds, target)
    case.corrupts = case.corrupts and target != "config"
    return case


def _whatif(rng: random.Random) -> Case:
    pf, mk = rng.choice(corpus.portfolios()[:4])
    trades = rng.sample(corpus.TRADES, rng.randint(1, 2))
    seeds = {"portfolio": pf, "market": mk}
    if rng.random() < 0.5:
        i = rng.randrange(len(trades))
        trades[i], label = mutate_string(rng, trades[i])
        argv = ["whatif", f"{{in}}/{pf.name}", "-m", f"{{in}}/{mk.name}", "-f", "json"]
        for t in trades:
            argv += ["-t", t]
        return Case("whatif", argv, {s.name: s.data for s in seeds.values()},
                    f"trade {trades[i]!r}: {label}")  # fmt: skip
    argv = ["whatif", f"{{in}}/{pf.name}", "-m", f"{{in}}/{mk.name}", "-f", "json"]
    for t in trades:
        argv += ["-t", t]
    return _with_mutation(rng, "whatif", argv, seeds, rng.choice(["portfolio", "market"]))


def _price(rng: random.Random) -> Case:
    _, mk = rng.choice(corpus.portfolios()[:2])
    names = rng.sample(corpus.INSTRUMENTS, rng.randint(1, 3))
    if rng.random() < 0.6:
        i = rng.randrange(len(names))
        names[i], label = mutate_string(rng, names[i])
        return Case("price", ["price", *names, "-m", f"{{in}}/{mk.name}", "-f", "json"],
                    {mk.name: mk.data}, f"instrument {names[i]!r}: {label}")  # fmt: skip
    return _with_mutation(rng, "price", ["price", *names, "-m", f"{{in}}/{mk.name}", "-f", "json"],
                          {"market": mk}, "market")  # fmt: skip


def _batch(rng: random.Random) -> Case:
    pos, col = corpus.tables()
    mk = corpus.portfolios()[4][1]
    out = rng.choice(["r.csv", "r.parquet", "r.json"])
    target = rng.choices(["positions", "collateral", "market"], [5, 2, 2])[0]
    seeds = {"positions": pos, "collateral": col, "market": mk}
    fmt = rng.choices(["csv", "parquet", "json"], [5, 2, 2])[0]
    if target != "market" and fmt != "csv":
        seed = seeds[target]
        m = mutate_frame_table(rng, seed.data, seed.kind, fmt)
        name = seed.name.replace(".csv", f".{fmt}")
        files = {pos.name: pos.data, col.name: col.data, mk.name: mk.data, name: m.data}
        names = {k: (name if k == target else s.name) for k, s in seeds.items()}
        argv = ["batch", f"{{in}}/{names['positions']}", "--collateral",
                f"{{in}}/{names['collateral']}", "-m", f"{{in}}/{mk.name}", "-o", f"{{out}}/{out}"]  # fmt: skip
        base_argv = ["batch", f"{{in}}/{pos.name}", "--collateral", f"{{in}}/{col.name}", "-m",
                     f"{{in}}/{mk.name}", "-o", f"{{out}}/{out}"]  # fmt: skip
        base = Case("batch", base_argv, {s.name: s.data for s in seeds.values()}, "unmutated",
                    (out,), json_stdout=False)  # fmt: skip
        return Case("batch", argv, files, f"{target} {name}: {m.label}", (out,),
                    json_stdout=False, corrupts=m.corrupts, baseline=base,
                    mutated={target: name})  # fmt: skip
    argv = ["batch", f"{{in}}/{pos.name}", "--collateral", f"{{in}}/{col.name}", "-m",
            f"{{in}}/{mk.name}", "-o", f"{{out}}/{out}"]  # fmt: skip
    if rng.random() < 0.2:
        argv += ["--model", rng.choice(["cross", "isolated", "var"])]
    return _with_mutation(rng, "batch", argv, seeds, target, outputs=(out,), json_stdout=False)


def _liquidate(rng: random.Random) -> Case:
    pf, mk = rng.choice([corpus.portfolios()[3], corpus.portfolios()[4], corpus.portfolios()[0]])
    argv = ["liquidate", f"{{in}}/{pf.name}", "-m", f"{{in}}/{mk.name}", "-f", "json",
            "--policy", rng.choice(["full", "partial"])]  # fmt: skip
    if rng.random() < 0.3:
        argv += ["--model", rng.choice(["cross", "isolated", "portfolio"])]
    seeds = {"portfolio": pf, "market": mk}
    if rng.random() < 0.35:
        shock, label = mutate_string(rng, rng.choice(corpus.SHOCKS[:4]))
        return Case("liquidate", [*argv, "--shock", shock],
                    {s.name: s.data for s in seeds.values()}, f"shock {shock!r}: {label}")  # fmt: skip
    return _with_mutation(rng, "liquidate", argv, seeds, rng.choice(["portfolio", "market"]))


def _cascade(rng: random.Random) -> Case:
    mk = corpus.portfolios()[4][1]
    venue = rng.choice([*corpus.VENUES, "{in}/venue_accounts.json"])
    files = {mk.name: mk.data}
    if venue.startswith("{in}"):
        files["venue_accounts.json"] = corpus.portfolios()[4][0].data
    outputs = tuple(o for o in ("c.json", "l.csv", "c.png") if rng.random() < (0.05 if o == "c.png" else 0.4))  # fmt: skip
    argv = ["cascade", venue, "-m", f"{{in}}/{mk.name}", "--no-progress", "-f", "json",
            "--regimes", rng.choice(["isolated,cross,portfolio", "cross,portfolio", "portfolio"])]  # fmt: skip
    for o in outputs:
        argv += [{"c.json": "--out", "l.csv": "--ledger", "c.png": "--plot"}[o], f"{{out}}/{o}"]
    what = rng.choice(["venue", "shock", "shock-file", "market"])
    if what == "shock-file":
        sh = corpus.shock()
        seeds = {"market": mk, "shock": sh}
        if venue.startswith("{in}"):
            seeds["portfolio"] = corpus.portfolios()[4][0]
        return _with_mutation(rng, "cascade", [*argv, "-s", f"{{in}}/{sh.name}"], seeds, "shock",
                              outputs=outputs)  # fmt: skip
    shock = rng.choice(corpus.SHOCKS[:4])
    label = "unmutated"
    if what == "shock":
        shock, label = mutate_string(rng, shock)
        label = f"shock {shock!r}: {label}"
    elif what == "venue" and not venue.startswith("{in}"):
        venue, label = mutate_string(rng, venue)
        argv[1] = venue
        label = f"venue {venue!r}: {label}"
        if any(ch.isdigit() for ch in venue) and len(venue.split(":")) > 1:
            digits = venue.split(":")[1]
            if digits.isdigit() and int(digits) > 5000:  # keep the run short
                argv[1] = "synthetic:5000"
    elif what == "market":
        seeds = {"market": mk}
        if venue.startswith("{in}"):
            seeds["portfolio"] = corpus.portfolios()[4][0]
        return _with_mutation(rng, "cascade", [*argv, "-s", shock], seeds, "market",
                              outputs=outputs)  # fmt: skip
    return Case("cascade", [*argv, "-s", shock], files, label, outputs)


def _backtest(rng: random.Random) -> Case:
    book = rng.choice(corpus.backtest_books())
    hist = corpus.history()
    argv = ["backtest", f"{{in}}/{book.name}", "--history", f"{{in}}/{hist.name}",
            "--start", "2019-03-01", "--end", "2019-07-31", "--models",
            rng.choice(["portfolio", "cross", "isolated,portfolio"]), "-f", "json"]  # fmt: skip
    outputs: tuple[str, ...] = ()
    if rng.random() < 0.3:
        argv += ["--out", "{out}/report", "--report", rng.choice(["none", "html"])]
        outputs = ("report",)
    seeds = {"backtest_book": book, "history": hist}
    target = rng.choice(["backtest_book", "history"])
    return _with_mutation(rng, "backtest", argv, seeds, target, outputs=outputs,
                          exact_outputs=False)  # fmt: skip


def _history(rng: random.Random) -> Case:
    hist = corpus.history()
    return _with_mutation(rng, "history", ["history", f"{{in}}/{hist.name}", "-f", "json"],
                          {"history": hist}, "history")  # fmt: skip


def _oracles(rng: random.Random) -> Case:
    rec = corpus.oracle_records()
    argv = ["oracles", f"{{in}}/{rec.name}", "-f", "json"]
    seeds = {"oracles": rec}
    outputs: tuple[str, ...] = ()
    if rng.random() < 0.5:
        mk = corpus.portfolios()[0][1]
        seeds["market"] = mk
        argv += ["--market", f"{{in}}/{mk.name}", "--out", "{out}/merged.json"]
        outputs = ("merged.json",)
    if rng.random() < 0.3:
        sym, label = mutate_string(rng, "WSTETH,AUSDC")
        return Case("oracles", [*argv, "--symbols", sym], {s.name: s.data for s in seeds.values()},
                    f"symbols {sym!r}: {label}", outputs)  # fmt: skip
    return _with_mutation(rng, "oracles", argv, seeds, rng.choice(list(seeds)), outputs=outputs)


def _venue_case(rng: random.Random) -> Case:
    seed = rng.choice(corpus.venue_cases())
    if seed.kind == "derive_case":
        argv = ["venue-case", "derive-pmrm2", f"{{in}}/{seed.name}", "-f", "json"]
        outputs: tuple[str, ...] = ()
        if rng.random() < 0.3:
            argv += ["--emit-portfolio", "{out}/pf.json", "--emit-market", "{out}/mk.json"]
            outputs = ("pf.json", "mk.json")
        if rng.random() < 0.5:
            argv.append("--direct-only")
    else:
        argv, outputs = ["venue-case", "span", f"{{in}}/{seed.name}", "-f", "json"], ()
    return _with_mutation(rng, "venue-case", argv, {seed.kind: seed}, seed.kind, outputs=outputs)


def _small(rng: random.Random) -> Case:
    """presets, schema, models: command-line values only."""
    which = rng.choice(["presets", "schema", "models"])
    if which == "presets":
        name, label = mutate_string(rng, rng.choice(["deribit-pm", "drift-v2", "span"]))
        return Case("presets", ["presets", name, "-f", "json"], label=f"preset {name!r}: {label}")
    if which == "schema":
        kind, label = mutate_string(rng, rng.choice(["portfolio", "market", "config"]))
        return Case("schema", ["schema", kind], label=f"schema {kind!r}: {label}")
    return Case("models", ["models"], label="models", json_stdout=False)


_VALUES = ("", " ", ",", "nan", "inf", "-inf", "-1", "0", "1", "0.5", "1e400", "9" * 30, "x",
           "é", "cross,cross", "portfolio", "all", "2019-06-01", "2019-02-30", "0001-01-01",
           "--", "-1e-300")  # fmt: skip
#: command line (valid) -> options whose values are fuzzed
_OPTION_LINES: tuple[tuple[list[str], tuple[str, ...]], ...] = (
    (["margin", "{ex}/crypto_book.json", "-m", "{ex}/market_crypto.json", "-f", "json"],
     ("--model", "--format", "--history")),
    (["compare", "{ex}/crypto_book.json", "-m", "{ex}/market_crypto.json", "-f", "json"],
     ("--models", "--format")),
    (["whatif", "{ex}/venue_accounts.json", "-m", "{ex}/market_venue.json", "-t", "BTC-PERP:1",
      "-f", "json"], ("--account", "--model", "--trade")),
    (["batch", "{ex}/venue_positions.csv", "--collateral", "{ex}/venue_collateral.csv", "-m",
      "{ex}/market_venue.json", "-o", "{out}/r.csv"], ("--model", "--base-currency")),
    (["liquidate", "{ex}/liquidation_book.json", "-m", "{ex}/market_crypto.json", "-f", "json"],
     ("--policy", "--insurance-fund", "--last-resort", "--account", "--shock", "--model")),
    (["cascade", "synthetic:20", "-m", "{ex}/market_crypto.json", "-s", "*=-0.3", "-f", "json",
      "--no-progress"], ("--rounds", "--insurance-fund", "--regimes", "--policy",
                         "--collateral-mode", "--last-resort", "--shock")),
    (["backtest", "btc_static", "--start", "2019-06-01", "--end", "2019-08-01", "--models",
      "portfolio", "-f", "json"], ("--mpor", "--confidence", "--start", "--end", "--max-gap",
                                   "--corr-window", "--stale-run", "--drop-print", "--gaps",
                                   "--engine", "--models")),
    (["oracles", "{in}/oracles.json", "-f", "json"], ("--symbols", "--timeout")),
    (["venue-case", "derive-pmrm2", "{data}/derive_test_29_perps_basic_perp.json", "-f", "json"],
     ("--vols", "--underlying")),
    (["price", "BTC-PERP", "-m", "{ex}/market_crypto.json", "-f", "json"], ("--format",)),
)  # fmt: skip


def _options(rng: random.Random) -> Case:
    """A valid command line with one option given an odd value."""
    line, options = rng.choice(_OPTION_LINES)
    opt = rng.choice(options)
    value = rng.choice(_VALUES)
    from crossmargin.cli.cmd_info import examples_dir

    argv = [a.replace("{ex}", str(examples_dir())).replace("{data}", str(corpus.DATA))
            for a in line]  # fmt: skip
    argv = [*argv, opt, value]
    files = {"oracles.json": corpus.oracle_records().data} if "oracles" in line else {}
    outputs = ("r.csv",) if "batch" in line else ()
    return Case(line[0], argv, files, f"option {opt} {value!r}", outputs,
                json_stdout="batch" not in line)  # fmt: skip


#: (builder, weight): how often each command is drawn.
BUILDERS: tuple[tuple[Callable[[random.Random], Case], int], ...] = (
    (_margin, 30),
    (_whatif, 6),
    (_price, 5),
    (_batch, 14),
    (_liquidate, 8),
    (_cascade, 9),
    (_backtest, 5),
    (_history, 5),
    (_oracles, 5),
    (_venue_case, 8),
    (_small, 3),
    (_options, 8),
)


def make_case(seed: int, index: int) -> Case:
    """The ``index``-th case of the run seeded with ``seed`` (deterministic)."""
    rng = random.Random(f"{seed}:{index}")
    builders, weights = zip(*BUILDERS, strict=True)
    return rng.choices(builders, weights)[0](rng)
