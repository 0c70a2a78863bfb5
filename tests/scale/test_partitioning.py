"""The partitioning helper and dataset discovery: accounts whole, nothing lost, order kept."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.errors import InputError
from crossmargin.scale.dataset import MANIFEST, check_disjoint, open_dataset, scan_partition
from crossmargin.scale.keys import account_buckets, account_keys, hash_keys
from crossmargin.scale.partitioning import write_dataset

from .helpers import venue_tables, write_tables


def _rows(df: pd.DataFrame) -> list[tuple[object, ...]]:
    return sorted(map(tuple, df.astype(str).to_numpy().tolist()))


def test_every_account_lies_in_exactly_one_partition_and_no_row_is_lost(tmp_path: Path) -> None:
    pos, col = venue_tables(300, 3000)
    p, c = write_tables(tmp_path / "in", pos, col)
    ds = write_dataset(p, c, tmp_path / "ds", partitions=5)
    assert len(ds.partitions) == 5 and ds.described
    owner: dict[str, int] = {}
    parts_p, parts_c = [], []
    for k, part in enumerate(ds.partitions):
        pp, cc = pd.read_parquet(part.positions), pd.read_parquet(part.collateral)
        parts_p.append(pp)
        parts_c.append(cc)
        for a in set(pp["account"]) | set(cc["account"]):
            assert owner.setdefault(a, k) == k, f"account {a} split"
        assert part.facts is not None
        assert part.facts.positions_rows == len(pp) and part.facts.collateral_rows == len(cc)
        accounts = sorted(set(pp["account"]) | set(cc["account"]))
        assert part.facts.accounts == len(accounts)
        assert (part.facts.first_account, part.facts.last_account) == (accounts[0], accounts[-1])
        assert part.facts.positions_bytes == part.positions.stat().st_size
    assert _rows(pd.concat(parts_p)) == _rows(pos)
    assert _rows(pd.concat(parts_c)) == _rows(col)
    # within a partition, an account's rows keep their input order (netting sums in that order)
    for pp in parts_p:
        for a, g in pp.groupby("account", sort=False):
            src = pos[pos["account"] == a]
            assert g["instrument"].tolist() == src["instrument"].tolist()


def test_manifest_lists_instruments_in_input_order_with_their_first_holder(tmp_path: Path) -> None:
    pos, col = venue_tables(200, 2000)
    p, c = write_tables(tmp_path / "in", pos, col)
    ds = write_dataset(p, c, tmp_path / "ds", partitions=3)
    assert ds.instruments is not None
    assert [n for n, _, _ in ds.instruments] == list(pd.unique(pos["instrument"]))
    for name, k, row in ds.instruments:
        part = pd.read_parquet(ds.partitions[k].positions)
        assert part["instrument"].iloc[row] == name
        # the first row of that name in the input is the first row of it in its partition
        assert (part["instrument"].iloc[:row] != name).all()
    doc = json.loads((tmp_path / "ds" / MANIFEST).read_text())
    assert doc["partitioning"] == {
        "by": "account",
        "hash": doc["partitioning"]["hash"],
        "partitions": 3,
    }


def test_account_spellings_the_engine_treats_as_one_account_share_a_partition(
    tmp_path: Path,
) -> None:
    pos = pd.DataFrame(
        {
            "account": ["acct-1", " acct-1", "acct-1 ", "acct-2"],
            "instrument": ["BTC-PERP"] * 4,
            "quantity": [1.0, 2.0, 3.0, 4.0],
        }
    )
    col = pd.DataFrame(
        {"account": ["acct-1  ", "acct-2"], "asset": ["USDC"] * 2, "amount": [1.0, 2.0]}
    )
    p, c = write_tables(tmp_path / "in", pos, col)
    ds = write_dataset(p, c, tmp_path / "ds", partitions=7)
    homes = {
        k
        for k, part in enumerate(ds.partitions)
        for a in pd.read_parquet(part.positions)["account"].tolist()
        + pd.read_parquet(part.collateral)["account"].tolist()
        if a.strip() == "acct-1"
    }
    assert len(homes) == 1


@settings(max_examples=40)
@given(
    names=st.lists(
        st.text(min_size=1, max_size=12).filter(lambda s: s.strip() != ""), min_size=1, max_size=60
    ),
    n=st.integers(min_value=1, max_value=33),
)
def test_the_account_hash_is_a_function_of_the_stripped_key(names: list[str], n: int) -> None:
    codes, keys = account_keys(pd.Series(names, dtype=object), what="positions")
    assert [keys[c] for c in codes] == [s.strip() for s in names]
    b = account_buckets(keys, n)
    assert ((b >= 0) & (b < n)).all()
    again = account_buckets(np.asarray([k for k in keys], dtype=object), n)
    assert (b == again).all()
    # the same key always hashes the same, wherever it comes from
    assert (hash_keys(keys) == hash_keys(np.asarray(list(keys), dtype=object))).all()


def test_csv_input_streams_to_the_same_dataset_as_parquet(tmp_path: Path) -> None:
    pos, col = venue_tables(150, 1500)
    p, c = write_tables(tmp_path / "in", pos, col)
    pos.to_csv(tmp_path / "p.csv", index=False)
    col.to_csv(tmp_path / "c.csv", index=False)
    a = write_dataset(p, c, tmp_path / "a", partitions=4)
    b = write_dataset(
        tmp_path / "p.csv", tmp_path / "c.csv", tmp_path / "b", partitions=4, batch_rows=100
    )
    assert a.instruments == b.instruments
    for pa_, pb in zip(a.partitions, b.partitions, strict=True):
        x, y = pd.read_parquet(pa_.positions), pd.read_parquet(pb.positions)
        assert x["account"].tolist() == y["account"].tolist()
        assert np.array_equal(x["quantity"].to_numpy(), y["quantity"].to_numpy())


def test_helper_refuses_bad_requests_and_leaves_nothing_behind(tmp_path: Path) -> None:
    pos, col = venue_tables(50, 300)
    p, c = write_tables(tmp_path / "in", pos, col)
    (tmp_path / "exists").mkdir()
    with pytest.raises(InputError, match="already exists"):
        write_dataset(p, c, tmp_path / "exists")
    with pytest.raises(InputError, match="between 1 and"):
        write_dataset(p, c, tmp_path / "x", partitions=0)
    bad = pos.rename(columns={"quantity": "qty"})
    bad.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(InputError, match="missing column 'quantity'"):
        write_dataset(tmp_path / "bad.parquet", c, tmp_path / "y", partitions=2)
    empty = pos.copy()
    empty.loc[7, "account"] = "   "
    empty.to_parquet(tmp_path / "empty.parquet")
    with pytest.raises(InputError, match=r"positions\[0:\]\[7\]\.account: must not be empty"):
        write_dataset(tmp_path / "empty.parquet", c, tmp_path / "z", partitions=2)
    assert sorted(e.name for e in tmp_path.iterdir()) == [
        "bad.parquet",
        "empty.parquet",
        "exists",
        "in",
    ]


def test_a_directory_of_files_pairs_by_name_order_and_a_split_account_is_refused(
    tmp_path: Path,
) -> None:
    pos, col = venue_tables(120, 900)
    d = tmp_path / "d"
    (d / "pos").mkdir(parents=True)
    (d / "col").mkdir()
    accounts = sorted(set(pos["account"]) | set(col["account"]))
    halves = [set(accounts[:60]), set(accounts[60:])]
    for k, h in enumerate(halves):
        pos[pos["account"].isin(h)].to_parquet(d / "pos" / f"p{k}.parquet")
        col[col["account"].isin(h)].to_parquet(d / "col" / f"c{k}.parquet")
    ds = open_dataset(d / "pos", d / "col")
    assert [p.name for p in ds.partitions] == ["p0", "p1"] and not ds.described
    scans = [scan_partition(None, p) for p in ds.partitions]
    check_disjoint(ds, scans)  # disjoint: fine
    assert scans[0].facts.accounts == 60 and scans[0].facts.first_account == accounts[0]
    # move one account's collateral into the other partition: it would be margined in halves
    moved = accounts[3]
    c0 = col[col["account"].isin(halves[0]) & (col["account"] != moved)]
    c1 = col[col["account"].isin(halves[1]) | (col["account"] == moved)]
    c0.to_parquet(d / "col" / "c0.parquet")
    c1.to_parquet(d / "col" / "c1.parquet")
    ds = open_dataset(d / "pos", str(d / "col" / "c*.parquet"))
    scans = [scan_partition(None, p) for p in ds.partitions]
    with pytest.raises(InputError, match=f"account '{moved}' is in two partitions"):
        check_disjoint(ds, scans)


def test_dataset_shapes_that_do_not_pair_are_refused(tmp_path: Path) -> None:
    pos, col = venue_tables(40, 200)
    p, c = write_tables(tmp_path / "in", pos, col)
    ds = write_dataset(p, c, tmp_path / "ds", partitions=2)
    with pytest.raises(InputError, match="drop --collateral"):
        open_dataset(tmp_path / "ds", c)
    with pytest.raises(InputError, match="needs --collateral"):
        open_dataset(p)
    with pytest.raises(InputError, match="1 collateral files for 2 positions files"):
        open_dataset(tmp_path / "ds" / "positions", tmp_path / "in" / "c*.parquet")
    with pytest.raises(InputError, match="no positions file matches"):
        open_dataset(tmp_path / "nothing-*.parquet", c)
    assert len(ds.partitions) == 2


def test_an_account_found_in_the_wrong_hash_bucket_is_refused(tmp_path: Path) -> None:
    from crossmargin.scale.dataset import check_bucket

    pos, col = venue_tables(60, 300)
    p, c = write_tables(tmp_path / "in", pos, col)
    ds = write_dataset(p, c, tmp_path / "ds", partitions=3)
    part = ds.partitions[0]
    own = pd.read_parquet(part.positions)["account"].unique().tolist()
    check_bucket(part, own)  # its own accounts: fine
    foreign = pd.read_parquet(ds.partitions[1].positions)["account"].iloc[0]
    with pytest.raises(InputError, match=f"account '{foreign}' belongs to another partition"):
        check_bucket(part, [*own, foreign])
