"""Benchmark converters: parsing, quirks, error messages and (with the engine) published optima."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from optimizer.bench.convert import ConversionError, convert, convert_all, parse_holmberg, parse_orlib_cap, parse_pmed

BENCH = Path(__file__).resolve().parents[2] / "shared" / "benchdata"
CAP = BENCH / "orlib-cap"
HOLM = BENCH / "holmberg"
PMED = BENCH / "pmed"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"benchmark data not available: {path}")
    return path


def read(folder: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{table}.csv", keep_default_na=False, dtype={"plant": str, "market": str})


def meta(folder: Path) -> dict:
    return yaml.safe_load((folder / "instance.yaml").read_text())


def raw_tokens(path: Path) -> list[str]:
    data = path.read_bytes()
    cut = data.find(b"\0")
    return (data[:cut] if cut >= 0 else data).decode().split()


# --------------------------------------------------------------------------- orlib-cap


def test_cap41_tables_match_raw_file(tmp_path):
    src = need(CAP / "cap41.txt")
    folder = convert("orlib-cap", src, tmp_path)
    assert folder == tmp_path / "cap41"
    tok = raw_tokens(src)
    m, n = int(tok[0]), int(tok[1])
    assert (m, n) == (16, 50)

    plants = read(folder, "plants").set_index("plant")
    assert len(plants) == 16
    assert plants.loc["F1", "capacity"] == 5000 == float(tok[2])
    assert plants.loc["F1", "fixed_cost"] == 7500 == float(tok[3])
    assert plants.loc["F11", "fixed_cost"] == 0 == float(tok[2 + 2 * 10 + 1])  # "5000 0." in the file
    assert (plants["closure_cost"] == 0).all() and (plants["headcount"] == 0).all()
    assert set(plants["country"]) == {"XX"}

    markets = read(folder, "markets")
    assert len(markets) == 50 and set(markets["country"]) == {"XX"}
    demand = read(folder, "demand").set_index("market")
    # customer 2: demand is the token after customer 1's block
    d2_pos = 2 + 2 * m + (1 + m)
    assert float(tok[d2_pos]) == 87
    assert demand.loc["C2", "min_units"] == demand.loc["C2", "max_units"] == 87
    assert (demand["price"] == 0).all()

    freight = read(folder, "freight").set_index(["plant", "market"])["unit_cost"]
    assert len(freight) == 16 * 50
    # c_{3,2} = 3rd cost after customer 2's demand, by hand: 3845.40000 / 87
    c32 = float(tok[d2_pos + 3])
    assert c32 == 3845.4
    assert freight[("F3", "C2")] == 3845.4 / 87  # full precision, exact round trip
    assert freight[("F1", "C1")] == 6739.725 / 146

    prod = read(folder, "production")
    assert len(prod) == 16 and set(prod["model"]) == {"M"} and (prod["unit_cost"] == 0).all()
    models = read(folder, "models")
    assert models.to_dict("records") == [{"model": "M", "powertrain": "ICE"}]

    doc = meta(folder)
    assert doc["name"] == "cap41"
    assert doc["horizon_years"] == 1 and doc["discount_rate"] == 0
    assert doc["metadata"]["published_optimum"] == pytest.approx(1040444.375)
    assert doc["metadata"]["optimum_sense"] == "min_cost"
    assert "OR-Library" in doc["metadata"]["source"]
    assert "single_sourcing" not in doc


def test_parse_matches_raw_costs():
    src = need(CAP / "cap131.txt")
    d = parse_orlib_cap(src)
    tok = raw_tokens(src)
    m, n = d["m"], d["n"]
    block = np.array(tok[2 + 2 * m:], dtype=float).reshape(n, m + 1)
    assert np.array_equal(d["demand"], block[:, 0])
    assert np.array_equal(d["cost"], block[:, 1:].T)


def test_capa_requires_capacity(tmp_path):
    src = need(CAP / "capa.txt")
    with pytest.raises(ConversionError, match=r"capa\.txt.*token #3 \(line 2, column \d+\).*capacity"):
        convert("orlib-cap", src, tmp_path)
    assert isinstance(ConversionError("x"), ValueError)
    folder = convert("orlib-cap", src, tmp_path, capacity=8000)
    assert folder.name == "capa_8000"
    plants = read(folder, "plants")
    assert len(plants) == 100 and (plants["capacity"] == 8000).all()
    assert plants["fixed_cost"].iloc[0] == 2141200  # "capacity 2141200." on line 2
    assert len(read(folder, "freight")) == 100 * 1000
    assert meta(folder)["metadata"]["published_optimum"] == pytest.approx(19240822.449)


def test_convert_all_expands_capacities(tmp_path):
    need(CAP / "capb.txt")
    src = tmp_path / "src"
    src.mkdir()
    for f in ("capb.txt", "cap41.txt", "optima.csv", "README.txt"):
        shutil.copy(CAP / f, src / f)
    out = convert_all("orlib-cap", src, tmp_path / "out")
    names = sorted(p.name for p in out)
    assert names == sorted(["cap41", "capb_5000", "capb_6000", "capb_7000", "capb_8000"])
    assert meta(tmp_path / "out" / "capb_7000")["metadata"]["published_optimum"] == pytest.approx(13198556.434)
    # a folder given to convert() behaves the same and skips README/optima files
    assert convert("orlib-cap", src, tmp_path / "out2") == tmp_path / "out2"
    assert sorted(p.name for p in (tmp_path / "out2").iterdir()) == names


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_malformed_input_names_file_and_token(tmp_path):
    ok = "2 2\n10 5.\n10 7.\n3\n1. 2.\n4\n3. 4.\n"
    d = parse_orlib_cap(_write(tmp_path, "good.txt", ok))
    assert d["cost"].tolist() == [[1.0, 3.0], [2.0, 4.0]]
    with pytest.raises(ConversionError, match=r"short\.txt: token #12 .*end of data"):
        convert("orlib-cap", _write(tmp_path, "short.txt", ok.rsplit(" ", 1)[0]), tmp_path / "o")
    with pytest.raises(ConversionError, match=r"bad\.txt: token #7 \(line 4, column 1\).*'x3'"):
        convert("orlib-cap", _write(tmp_path, "bad.txt", ok.replace("\n3\n", "\nx3\n")), tmp_path / "o")
    with pytest.raises(ConversionError, match=r"long\.txt: token #13 .*extra token '9'"):
        convert("orlib-cap", _write(tmp_path, "long.txt", ok + "9\n"), tmp_path / "o")
    with pytest.raises(ConversionError, match=r"neg\.txt: token #4 .*>= 0.*'-5\.'"):
        convert("orlib-cap", _write(tmp_path, "neg.txt", ok.replace("10 5.", "10 -5.")), tmp_path / "o")
    with pytest.raises(ConversionError, match=r"hdr\.txt: token #1 .*number of warehouses"):
        convert("orlib-cap", _write(tmp_path, "hdr.txt", "two 2\n"), tmp_path / "o")
    with pytest.raises(ConversionError, match=r"pm\.txt: token #5 .*vertex in 1\.\.3"):
        convert("pmed", _write(tmp_path, "pm.txt", "3 1 1\n1 4 7\n"), tmp_path / "o")
    with pytest.raises(ConversionError, match="no such file"):
        convert("pmed", tmp_path / "missing.txt", tmp_path / "o")
    with pytest.raises(ValueError, match="unknown kind"):
        convert("nope", tmp_path / "good.txt", tmp_path / "o")


def test_zero_demand_customer_gets_zero_freight(tmp_path):
    src = _write(tmp_path, "z.txt", "2 2\n10 5.\n10 7.\n0\n1. 2.\n4\n3. 4.\n")
    folder = convert("orlib-cap", src, tmp_path / "o")
    fr = read(folder, "freight").set_index(["plant", "market"])["unit_cost"]
    assert fr[("F1", "C1")] == 0 and fr[("F2", "C1")] == 0
    assert fr[("F1", "C2")] == 0.75 and fr[("F2", "C2")] == 1.0


# --------------------------------------------------------------------------- holmberg


def test_holmberg_p1_facility_major(tmp_path):
    src = need(HOLM / "p1")
    folder = convert("holmberg", src, tmp_path)
    assert folder.name == "p1"
    tok = raw_tokens(src)
    m, n = int(tok[0]), int(tok[1])
    plants = read(folder, "plants").set_index("plant")
    assert (plants.loc["F1", "capacity"], plants.loc["F1", "fixed_cost"]) == (258, 366)
    demand = read(folder, "demand").set_index("market")["max_units"]
    d = np.array(tok[2 + 2 * m: 2 + 2 * m + n], dtype=float)
    assert demand["C1"] == d[0] == 49
    # facility-major: cost of facility 2, customer 3 is token (1 * n + 2) of the matrix
    c = np.array(tok[2 + 2 * m + n:], dtype=float).reshape(m, n)
    fr = read(folder, "freight").set_index(["plant", "market"])["unit_cost"]
    assert fr[("F2", "C3")] == c[1, 2] / d[2]
    doc = meta(folder)
    assert doc["single_sourcing"] is True
    assert doc["metadata"]["published_optimum"] == 8848


def test_holmberg_nul_padding_and_p47_stray_numbers():
    p47 = need(HOLM / "p47")
    data = p47.read_bytes()
    assert b"\0" in data and b"\r\n" in data
    after = data[data.find(b"\0"):].replace(b"\0", b" ").split()
    assert len(after) == 17  # the stray numbers the parser must ignore
    d = parse_holmberg(p47)
    m, n = d["m"], d["n"]
    tok = raw_tokens(p47)
    assert len(tok) == 2 + 2 * m + n + m * n
    assert d["cost"].shape == (m, n)
    assert d["cost"][-1, -1] == float(tok[-1])
    # a padded file without stray numbers parses too
    d2 = parse_holmberg(need(HOLM / "p2"))
    assert d2["cost"].shape == (d2["m"], d2["n"])


def test_holmberg_rejects_unpadded_nul_for_orlib(tmp_path):
    p = tmp_path / "nul.txt"
    p.write_bytes(b"1 1\n5 1.\n1\n2.\n\0\0")
    with pytest.raises(ConversionError, match="NUL"):
        parse_orlib_cap(p)
    assert parse_holmberg(p)["cost"].tolist() == [[2.0]]


# --------------------------------------------------------------------------- pmed


def test_pmed1_repeated_edge_takes_last_cost(tmp_path):
    src = need(PMED / "pmed1.txt")
    folder = convert("pmed", src, tmp_path)
    assert folder.name == "pmed1"
    pm = parse_pmed(src)
    n, p = pm["n"], pm["p"]
    edges = pm["edges"]
    fr = read(folder, "freight")
    assert len(fr) == n * n
    dist = fr.pivot(index="plant", columns="market", values="unit_cost")
    ids = [f"V{i}" for i in range(1, n + 1)]
    dist = dist.loc[ids, ids].to_numpy()
    assert (np.diag(dist) == 0).all()
    assert (dist == dist.T).all()
    # pmed1 lists edges 19-20 (22, later 30) and 30-70 (5, later 74) twice: the LAST
    # cost wins, and the shortest path between those vertices is exactly that edge
    last: dict[tuple[int, int], float] = {}
    first: dict[tuple[int, int], float] = {}
    for i, j, c in edges:
        key = (int(min(i, j)), int(max(i, j)))
        first.setdefault(key, c)
        last[key] = c
    repeated = [k for k in last if first[k] != last[k]]
    assert repeated, "pmed1 has repeated edges with different costs"
    for a, b in repeated:
        assert dist[a - 1, b - 1] <= last[(a, b)]
    hits = [k for k in repeated if dist[k[0] - 1, k[1] - 1] == last[k] and last[k] > first[k]]
    assert hits, "some repeated edge whose shortest path is its (larger) last cost"
    assert dist[18, 19] == 30 and dist[29, 69] == 74  # with min(): 22 and 5
    doc = meta(folder)
    assert doc["plants_kept"] == {"min": p, "max": p}
    assert doc["metadata"]["published_optimum"] == 5819
    plants = read(folder, "plants")
    assert (plants["capacity"] == n).all() and (plants["fixed_cost"] == 0).all()
    demand = read(folder, "demand")
    assert (demand["min_units"] == 1).all() and (demand["max_units"] == 1).all()


def test_pmed_last_cost_not_min_on_tiny_graph(tmp_path):
    # edge 1-2 first 1 then 10; path 1-3-2 costs 4 -> distance 4 (with min it would be 1)
    src = _write(tmp_path, "tiny.txt", "3 4 1\n1 2 1\n1 3 2\n3 2 2\n2 1 10\n")
    folder = convert("pmed", src, tmp_path / "o")
    fr = read(folder, "freight").set_index(["plant", "market"])["unit_cost"]
    assert fr[("V1", "V2")] == 4 and fr[("V2", "V1")] == 4 and fr[("V3", "V3")] == 0
    # disconnected vertex -> no lane
    src = _write(tmp_path, "disc.txt", "3 1 1\n1 2 5\n")
    fr = read(convert("pmed", src, tmp_path / "o"), "freight")
    assert len(fr) == 5


# --------------------------------------------------------------------------- with the engine


def _solve(folder: Path):
    optimizer = pytest.importorskip("optimizer")
    if not hasattr(optimizer, "solve"):
        pytest.skip("engine not available")
    return optimizer.solve(folder, mip_gap=1e-9)


@pytest.mark.parametrize(
    ("kind", "src", "expected"),
    [
        ("orlib-cap", CAP / "cap41.txt", -1040444.375),
        ("holmberg", HOLM / "p1", -8848.0),
        ("pmed", PMED / "pmed1.txt", -5819.0),
    ],
)
def test_converted_instance_solves_to_published_optimum(tmp_path, kind, src, expected):
    folder = convert(kind, need(src), tmp_path)
    res = _solve(folder)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(expected, abs=1e-3)
    assert res.objective == pytest.approx(-meta(folder)["metadata"]["published_optimum"], abs=1e-3)
