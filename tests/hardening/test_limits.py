"""Issue 9: the input limits of :mod:`crossmargin.limits` — each one an error naming the file.

Huge files, /dev/zero, 100 000 nested arrays, 4 300+ digit integers, over-long strings,
duplicate keys (JSON and YAML), YAML alias bombs and the HTTP oracle's response size.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from crossmargin.config import load_config
from crossmargin.errors import ConfigError, InputError, MarketDataError
from crossmargin.io.market import load_market
from crossmargin.io.oracles import HttpJsonOracle
from crossmargin.io.portfolio import load_portfolios
from crossmargin.limits import (
    MAX_DEPTH,
    MAX_INPUT_BYTES,
    MAX_NUMBER_CHARS,
    MAX_STRING_CHARS,
    MAX_YAML_NODES,
    check_structure,
    load_json_bounded,
    parse_json,
    parse_yaml,
    read_bounded_bytes,
    read_bounded_text,
)

DEV_ZERO = Path("/dev/zero")


def test_dev_zero_is_refused_at_the_limit() -> None:
    with pytest.raises(InputError, match="larger than the input limit of 4096 bytes") as e:
        read_bounded_bytes(DEV_ZERO, what="portfolio", limit=4096)
    assert e.value.path == "/dev/zero"


@pytest.mark.skipif(not DEV_ZERO.exists(), reason="no /dev/zero on this system")
def test_portfolio_from_dev_zero_is_an_input_error() -> None:
    # the default limit applies: 64 MiB of zeros are read, then refused (no MemoryError)
    with pytest.raises(InputError, match="larger than the input limit"):
        load_portfolios(DEV_ZERO)


def test_huge_regular_file_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as f:  # sparse: costs no disk and is never read
        f.truncate(MAX_INPUT_BYTES + 1)
    with pytest.raises(InputError, match=r"larger than the input limit of 64 MiB") as e:
        load_market(big)
    assert e.value.path == str(big)


def test_missing_directory_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="portfolio file not found"):
        load_portfolios(tmp_path / "nope.json")
    with pytest.raises(InputError, match="is a directory"):
        load_portfolios(tmp_path)
    bad = tmp_path / "latin1.json"
    bad.write_bytes(b'{"account": "caf\xe9"}')
    with pytest.raises(InputError, match=r"not UTF-8 text \(byte 16\)"):
        load_portfolios(bad)


def test_bom_is_dropped(tmp_path: Path) -> None:
    p = tmp_path / "bom.json"
    p.write_bytes(b'\xef\xbb\xbf{"a": 1}')
    assert load_json_bounded(p, what="x") == {"a": 1}
    assert read_bounded_text(p, what="x") == '{"a": 1}'


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5_000, 100_000])
def test_deep_nesting_is_refused(tmp_path: Path, depth: int) -> None:
    p = tmp_path / "deep.json"
    p.write_text('{"account": "a", "positions": ' + "[" * depth + "]" * depth + "}")
    with pytest.raises(InputError, match=f"nested deeper than {MAX_DEPTH} levels") as e:
        load_portfolios(p)
    assert e.value.path == str(p)


def test_nesting_at_the_limit_parses() -> None:
    doc = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert parse_json(doc, source="x") is not None


def test_deep_path_is_named() -> None:
    doc = {"a": [{"b": [[[]]]}]}
    node: list[object] = []
    cur = node
    for _ in range(MAX_DEPTH):
        nxt: list[object] = []
        cur.append(nxt)
        cur = nxt
    doc["x"] = node  # type: ignore[assignment]
    with pytest.raises(InputError, match=r"at x\[0\]\[0\]"):
        check_structure(doc, source="doc")


@pytest.mark.parametrize(
    "literal", ["1" * 400, "1" * 4_301, "-" + "9" * 10_000, "0." + "1" * 100, "1e" + "9" * 80]
)
def test_long_number_literals_are_refused(tmp_path: Path, literal: str) -> None:
    p = tmp_path / "n.json"
    p.write_text('{"account": "a",\n "collateral": {"USDC": ' + literal + "}}")
    with pytest.raises(
        InputError, match=f"number literal of {len(literal)} characters at line 2"
    ) as e:
        load_portfolios(p)
    assert e.value.path == str(p)
    assert str(MAX_NUMBER_CHARS) in e.value.reason


def test_numbers_within_the_limit_still_checked_by_the_schema(tmp_path: Path) -> None:
    p = tmp_path / "n.json"
    # 64 digits parse, then overflow float range -> refused by the schema with its path
    p.write_text('{"account": "a", "collateral": {"USDC": 1e400}}')
    with pytest.raises(InputError, match=r"collateral\.USDC: must be finite, got inf"):
        load_portfolios(p)
    p.write_text('{"account": "a", "collateral": {"USDC": ' + "9" * 60 + "}}")
    (pf,), _ = load_portfolios(p)
    assert pf.collateral["USDC"] == pytest.approx(1e60)


def test_long_strings_and_keys_are_refused() -> None:
    long = "x" * (MAX_STRING_CHARS + 1)
    with pytest.raises(InputError, match=r"longer than 4096 characters \(at positions\[1\]"):
        parse_json(json.dumps({"positions": [{}, {"instrument": long}]}), source="f")
    with pytest.raises(InputError, match="longer than 4096 characters"):
        parse_json(json.dumps({long: 1}), source="f")
    with pytest.raises(InputError, match="longer than 4096 characters"):
        parse_json(json.dumps([long]), source="f")
    assert parse_json(json.dumps(["x" * MAX_STRING_CHARS]), source="f")


def test_duplicate_json_keys_anywhere() -> None:
    with pytest.raises(InputError, match="duplicate key 'quantity'"):
        parse_json('{"positions": [{"quantity": 1, "quantity": 2}]}', source="f")


def test_errors_take_the_requested_type() -> None:
    with pytest.raises(MarketDataError, match="nested deeper"):
        parse_json("[" * 10_000 + "]" * 10_000, source="http://x", error=MarketDataError)


# -- YAML -------------------------------------------------------------------------------------------
def test_yaml_duplicate_keys_name_the_path() -> None:
    text = "risk_classes:\n  crypto:\n    grid: {}\n    grid: {}\n"
    with pytest.raises(
        ConfigError, match=r"duplicate key 'grid' at risk_classes.crypto.grid \(line 4\)"
    ):
        parse_yaml(text, source="c.yaml", error=ConfigError)


def test_yaml_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    with pytest.raises(InputError, match="more than 100 YAML alias references"):
        parse_yaml("\n".join(lines), source="bomb.yaml")


def test_yaml_deep_and_long_numbers() -> None:
    with pytest.raises(InputError, match="nested deeper than 64"):
        parse_yaml("[" * 200 + "]" * 200, source="d.yaml")
    with pytest.raises(InputError, match="nested deeper than 64"):
        parse_yaml("x: " + "[" * 100_000 + "]" * 100_000, source="d.yaml")  # no quadratic scan
    with pytest.raises(InputError, match="nested deeper than 64"):
        parse_yaml("x:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 80)), source="b.yaml")
    with pytest.raises(InputError, match="number at x \\(line 1\\) has 5000 characters"):
        parse_yaml("x: " + "1" * 5000, source="n.yaml")


def test_yaml_extreme_timestamp_parses_without_overflow() -> None:
    assert parse_yaml("x: 0001-01-01 00:00:00+05:00", source="n.yaml")["x"].year == 1


def test_yaml_merge_keys_still_work() -> None:
    doc = parse_yaml("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n", source="m.yaml")
    assert doc["other"] == {"x": 1, "y": 2}


def test_config_duplicate_key_is_a_config_error(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("version: 1\nmm_factor: 0.8\nmm_factor: 0.5\n")
    with pytest.raises(ConfigError, match="duplicate key 'mm_factor'"):
        load_config(p)


# -- HTTP oracle -------------------------------------------------------------------------------------
class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"[" * 10 + b"0" * (2 * 1024 * 1024) if self.path == "/huge" else b"[" * 10_000
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_http_oracle_response_is_size_limited(server: str) -> None:
    with pytest.raises(MarketDataError, match="larger than the input limit of 1 MiB"):
        HttpJsonOracle(server + "/huge").fetch(["WSTETH"])


def test_http_oracle_deep_json_is_refused(server: str) -> None:
    with pytest.raises(MarketDataError, match=r"not valid JSON|nested deeper"):
        HttpJsonOracle(server + "/deep").fetch(["WSTETH"])


# -- fuzz findings (long run, seed 20261207) --------------------------------------------------------
BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)  # 72 alias references (under MAX_YAML_ALIASES) expanding to 9**8 = 43 million nodes


def test_yaml_alias_bomb_under_the_alias_count_is_refused_at_once(tmp_path: Path) -> None:
    p = tmp_path / "bomb.yaml"
    p.write_text(BILLION_LAUGHS)
    with pytest.raises(ConfigError, match=f"expand the document to more than {MAX_YAML_NODES}"):
        load_config(p)  # the fuzz run: > 90 s; counted without expanding, milliseconds
    with pytest.raises(InputError, match="recursive YAML alias"):
        parse_yaml("a: &a [1, *a]\n", source="r.yaml")
    with pytest.raises(InputError, match="recursive YAML alias"):
        parse_yaml("a: &a {b: {c: *a}}\n", source="r.yaml")


def test_yaml_aliases_within_the_expansion_limit_still_load() -> None:
    doc = parse_yaml("x: &x [1, 2]\ny: [*x, *x]\nz: *x\n", source="ok.yaml")
    assert doc == {"x": [1, 2], "y": [[1, 2], [1, 2]], "z": [1, 2]}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00" * 64, r"unacceptable character #x0000 .* at line 1 column 1"),  # ReaderError
        (b"version: 1\nx: \x07\n", r"unacceptable character #x0007 .* at line 2 column 4"),
        (b"a: 1\n  b: 2\n", r"mapping values are not allowed here at line 2 column 4"),  # Scanner
        (b"- a\nb: 1\n", r"expected <block end>, but found .* at line 2 column 1"),  # Parser
        (b"a: *nowhere\n", r"found undefined alias 'nowhere' at line 1 column 4"),  # Composer
        (b"a: !!python/object:os.system x\n", r"could not determine a constructor .* line 1"),
    ],
)
def test_every_yaml_error_is_a_config_error_naming_the_file(
    tmp_path: Path, data: bytes, reason: str
) -> None:
    p = tmp_path / "c.yaml"
    p.write_bytes(data)
    with pytest.raises(ConfigError, match=f"not valid YAML: {reason}") as e:
        load_config(p)  # the public loader raises only the typed error tree
    assert e.value.path == str(p) and "\n" not in str(e.value)
