"""Convert classic facility-location benchmark files into ordinary instance folders.

Three source formats are supported (see ``shared/benchdata/*/README.txt``):

``orlib-cap``
    OR-Library capacitated warehouse location (Beasley 1988): ``cap41.txt`` ...
    ``cap134.txt`` and ``capa/capb/capc.txt`` (whose capacities are the literal
    word ``capacity`` and must be supplied, see Beasley's Table 1).
``holmberg``
    Single-source CFLP instances ``p1`` ... ``p71`` of Holmberg, Ronnqvist & Yuan
    (1999).  Facility-major cost matrix; some files end with NUL padding (and
    ``p47`` has stray numbers after it), so only the bytes before the first NUL
    are read.
``pmed``
    OR-Library uncapacitated p-median instances ``pmed1`` ... ``pmed40``.

Mapping (model.md, "Special cases"):

* every facility becomes a plant (country ``XX``, capacity, fixed_cost, no
  closure cost, no headcount); one model ``M`` (ICE) built by every plant at
  unit cost 0;
* every customer becomes a market (country ``XX``) with
  ``min_units = max_units = demand`` and price 0;
* freight(i, j) = c_ij / d_j, the per-unit cost (c_ij is the cost of serving
  *all* of customer j from i), written with full (round-trip) float precision.
  A customer with zero demand gets freight 0 on every lane: it needs no units,
  so the lane cost never enters the objective and the division is avoided;
* ``horizon_years: 1``, ``discount_rate: 0``; Holmberg adds
  ``single_sourcing: true``;
* p-median: every vertex is a plant (capacity = number of vertices, no costs)
  and a market (min = max = 1, price 0), freight = all-pairs shortest-path
  distance (edges read in order, a repeated edge keeps its LAST cost,
  d(i, i) = 0 is a real lane), ``plants_kept: {min: p, max: p}``.  Vertex
  pairs that are not connected get no lane.

The optimal NPV of a converted instance is minus the published optimal cost,
which is recorded (when the source folder's ``optima.csv`` lists the instance)
under ``metadata: {published_optimum, optimum_sense: min_cost, source}``.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

__all__ = [
    "ConversionError",
    "KINDS",
    "convert",
    "convert_all",
    "parse_orlib_cap",
    "parse_holmberg",
    "parse_pmed",
    "pmed_distances",
]

KINDS = ("orlib-cap", "holmberg", "pmed")
COUNTRY = "XX"
MODEL = "M"

# files in a benchmark folder that are not instances
_SKIP_NAMES = {"readme", "readme.txt", "readme.md", "optima.csv", "optima_uncap.csv"}


class ConversionError(ValueError):
    """Malformed or incomplete benchmark input (names the file and token position)."""


# --------------------------------------------------------------------------- tokens


class _Tokens:
    """Whitespace-separated tokens of a file, with positions for error messages."""

    def __init__(self, path: Path, data: bytes):
        self.path = path
        self.data = data
        self.toks = data.split()

    def __len__(self) -> int:
        return len(self.toks)

    def where(self, k: int) -> str:
        """Human-readable position of token k (0-based internally, 1-based in text)."""
        if k >= len(self.toks):
            line = self.data.count(b"\n") + 1
            return f"token #{k + 1} (end of data after {len(self.toks)} tokens, line {line})"
        for i, mt in enumerate(re.finditer(rb"\S+", self.data)):
            if i == k:
                start = mt.start()
                line = self.data.count(b"\n", 0, start) + 1
                col = start - (self.data.rfind(b"\n", 0, start) + 1) + 1
                return f"token #{k + 1} (line {line}, column {col})"
        return f"token #{k + 1}"  # pragma: no cover

    def error(self, k: int, msg: str) -> ConversionError:
        return ConversionError(f"{self.path}: {self.where(k)}: {msg}")

    def text(self, k: int) -> str:
        return self.toks[k].decode("ascii", "replace")

    def need(self, count: int, what: str) -> None:
        if len(self.toks) < count:
            raise self.error(len(self.toks), f"unexpected end of data: expected {what} "
                             f"({count} tokens in total, found {len(self.toks)})")
        if len(self.toks) > count:
            raise self.error(count, f"unexpected extra token {self.text(count)!r} after "
                             f"{what} ({count} tokens expected)")

    def integer(self, k: int, what: str, minimum: int = 1) -> int:
        if k >= len(self.toks):
            raise self.error(k, f"unexpected end of data: expected {what}")
        try:
            v = float(self.toks[k])
        except ValueError:
            raise self.error(k, f"expected an integer for {what}, got {self.text(k)!r}") from None
        if not math.isfinite(v) or v != int(v) or v < minimum:
            raise self.error(k, f"expected an integer >= {minimum} for {what}, got {self.text(k)!r}")
        return int(v)

    def floats(self, start: int, stop: int, step: int, what: str) -> np.ndarray:
        """Parse tokens[start:stop:step] as finite non-negative floats."""
        sel = self.toks[start:stop:step]
        arr: np.ndarray | None
        try:
            arr = np.array(sel, dtype=bytes).astype(np.float64) if sel else np.zeros(0)
        except ValueError:
            arr = None
        if arr is None or not np.isfinite(arr).all() or (arr < 0).any():
            for i, t in enumerate(sel):
                k = start + i * step
                try:
                    v = float(t)
                except ValueError:
                    raise self.error(k, f"expected a number for {what}, got {self.text(k)!r}") from None
                if not math.isfinite(v) or v < 0:
                    raise self.error(k, f"expected a finite number >= 0 for {what}, got {self.text(k)!r}")
        assert arr is not None  # the loop above raised on the bad token
        return arr


def _read(path: Path, stop_at_nul: bool = False) -> _Tokens:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConversionError(f"{path}: cannot read: {e}") from e
    if stop_at_nul:
        cut = data.find(b"\0")
        if cut >= 0:
            data = data[:cut]
    elif b"\0" in data:
        k = len(data[: data.find(b"\0")].split())
        raise ConversionError(f"{path}: NUL byte after token #{k}: not a text file")
    return _Tokens(path, data)


# --------------------------------------------------------------------------- parsers


def _fmt_num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def parse_orlib_cap(path: str | Path, capacity: float | None = None) -> dict:
    """Parse an OR-Library ``cap*`` file.

    Returns ``dict(m, n, capacity[m], fixed_cost[m], demand[n], cost[m, n],
    capacity_word: bool)`` with ``cost[i, j]`` = cost of serving all of customer
    j from facility i.  ``capacity`` replaces the literal word ``capacity``
    (capa/capb/capc); numeric capacities in the file are kept as they are.
    """
    path = Path(path)
    t = _read(path)
    m = t.integer(0, "number of warehouses m")
    n = t.integer(1, "number of customers n")
    t.need(2 + 2 * m + n * (1 + m), f"header, {m} warehouse lines and {n} customer blocks")
    cap_toks = t.toks[2 : 2 + 2 * m : 2]
    words = [i for i, tok in enumerate(cap_toks) if tok.lower() == b"capacity"]
    if words:
        if capacity is None:
            k = 2 + 2 * words[0]
            raise t.error(k, "capacity is the literal word 'capacity' (capa/capb/capc): "
                          "a capacity value must be given (capacity=... / --capacity)")
        if not math.isfinite(float(capacity)) or float(capacity) < 0:
            raise ConversionError(f"{path}: capacity must be a finite number >= 0, got {capacity!r}")
        caps = np.empty(m)
        is_word = np.zeros(m, dtype=bool)
        is_word[words] = True
        caps[is_word] = float(capacity)
        for i in np.flatnonzero(~is_word):
            caps[i] = t.floats(int(2 + 2 * i), int(3 + 2 * i), 1, f"capacity of warehouse {i + 1}")[0]
    else:
        caps = t.floats(2, 2 + 2 * m, 2, "warehouse capacity")
    fixed = t.floats(3, 2 + 2 * m, 2, "warehouse fixed cost")
    base = 2 + 2 * m
    block = t.floats(base, len(t), 1, "customer demand/cost")
    block = block.reshape(n, 1 + m)
    return dict(m=m, n=n, capacity=caps, fixed_cost=fixed, demand=block[:, 0].copy(),
                cost=np.ascontiguousarray(block[:, 1:].T), capacity_word=bool(words))


def parse_holmberg(path: str | Path) -> dict:
    """Parse a Holmberg et al. SSCFLP file (reads only up to the first NUL byte)."""
    path = Path(path)
    t = _read(path, stop_at_nul=True)
    m = t.integer(0, "number of facilities m")
    n = t.integer(1, "number of customers n")
    t.need(2 + 2 * m + n + m * n, f"header, {m} facility lines, {n} demands and {m}x{n} costs")
    caps = t.floats(2, 2 + 2 * m, 2, "facility capacity")
    fixed = t.floats(3, 2 + 2 * m, 2, "facility fixed cost")
    base = 2 + 2 * m
    demand = t.floats(base, base + n, 1, "customer demand")
    cost = t.floats(base + n, len(t), 1, "assignment cost").reshape(m, n)  # facility-major
    return dict(m=m, n=n, capacity=caps, fixed_cost=fixed, demand=demand, cost=cost,
                capacity_word=False)


def parse_pmed(path: str | Path) -> dict:
    """Parse an OR-Library ``pmed*`` file -> ``dict(n, p, edges[k, 3])`` (1-based vertices)."""
    path = Path(path)
    t = _read(path)
    n = t.integer(0, "number of vertices")
    e = t.integer(1, "number of edges", minimum=0)
    p = t.integer(2, "p (number of medians)")
    if p > n:
        raise t.error(2, f"p = {p} exceeds the number of vertices {n}")
    t.need(3 + 3 * e, f"header and {e} edge lines 'i j cost'")
    ij = t.floats(3, len(t), 3, "edge endpoint i")
    jj = t.floats(4, len(t), 3, "edge endpoint j")
    cost = t.floats(5, len(t), 3, "edge cost")
    for arr, off, what in ((ij, 3, "i"), (jj, 4, "j")):
        bad = np.flatnonzero((arr != np.floor(arr)) | (arr < 1) | (arr > n))
        if bad.size:
            k = off + 3 * int(bad[0])
            raise t.error(k, f"edge endpoint {what} must be an integer vertex in 1..{n}, "
                          f"got {t.text(k)!r}")
    edges = np.column_stack([ij, jj, cost])
    return dict(n=n, p=p, edges=edges)


def pmed_distances(n: int, edges: np.ndarray) -> np.ndarray:
    """All-pairs shortest paths (Floyd-Warshall, vectorised) on the pmed graph.

    Edges are applied IN ORDER, so a repeated edge keeps its last cost (not the
    minimum); the diagonal is 0; unreachable pairs are ``inf``.
    """
    d = np.full((n, n), np.inf)
    i = edges[:, 0].astype(np.int64) - 1
    j = edges[:, 1].astype(np.int64) - 1
    c = edges[:, 2]
    # fancy assignment with repeated indices: numpy keeps the last write, but that
    # is not documented behaviour, so de-duplicate explicitly keeping the last one
    a, b = np.minimum(i, j), np.maximum(i, j)
    key = a * n + b
    _, last_rev = np.unique(key[::-1], return_index=True)
    last = len(key) - 1 - last_rev
    d[a[last], b[last]] = c[last]
    d[b[last], a[last]] = c[last]
    np.fill_diagonal(d, 0.0)
    for k in range(n):
        np.minimum(d, d[:, k, None] + d[None, k, :], out=d)
    return d


# --------------------------------------------------------------------------- writing


def _optimum(src_file: Path, name: str) -> tuple[float | int | None, str | None]:
    f = src_file.parent / "optima.csv"
    if not f.is_file():
        return None, None
    with f.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if (row.get("instance") or "").strip() == name:
                raw = (row.get("optimal_value") or "").strip()
                try:
                    val: float | int = int(raw)
                except ValueError:
                    try:
                        val = float(raw)
                    except ValueError:
                        return None, None
                return val, (row.get("source") or "").strip() or None
    return None, None


def _ids(prefix: str, k: int) -> np.ndarray:
    return np.char.add(prefix, np.arange(1, k + 1).astype(str))


def _write_instance(
    folder: Path,
    *,
    name: str,
    description: str,
    kind: str,
    src_file: Path,
    plants: pd.DataFrame,
    markets: pd.DataFrame,
    demand: pd.DataFrame,
    freight: pd.DataFrame,
    extra: dict | None = None,
    metadata: dict | None = None,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    production = pd.DataFrame({"plant": plants["plant"], "model": MODEL, "unit_cost": 0})
    models = pd.DataFrame({"model": [MODEL], "powertrain": ["ICE"]})
    for tname, df in (("plants", plants), ("models", models), ("production", production),
                      ("markets", markets), ("demand", demand), ("freight", freight)):
        df.to_csv(folder / f"{tname}.csv", index=False, lineterminator="\n")
    opt, opt_source = _optimum(src_file, name)
    meta: dict = {}
    if opt is not None:
        meta["published_optimum"] = opt
        meta["optimum_sense"] = "min_cost"
        meta["expected_npv"] = -opt
        meta["source"] = opt_source or f"{src_file.parent}/optima.csv"
    meta["format"] = kind
    meta["source_file"] = src_file.name
    if metadata:
        meta.update(metadata)
    doc: dict = {
        "name": name,
        "description": description,
        "currency": "USD",
        "sources": [{"id": "S1", "title": f"{kind} benchmark file {src_file.name}",
                     "note": "converted by optimizer.convert"}],
        "metadata": meta,
        "horizon_years": 1,
        "discount_rate": 0.0,
    }
    if extra:
        doc.update(extra)
    doc["tables"] = {t: f"{t}.csv" for t in
                     ("plants", "models", "production", "markets", "demand", "freight")}
    with (folder / "instance.yaml").open("w", encoding="utf-8", newline="\n") as fh:
        yaml.safe_dump(doc, fh, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return folder


def _facility_tables(d: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    m, n = d["m"], d["n"]
    pids, cids = _ids("F", m), _ids("C", n)
    plants = pd.DataFrame({
        "plant": pids, "country": COUNTRY, "capacity": d["capacity"],
        "fixed_cost": d["fixed_cost"], "closure_cost": 0, "headcount": 0,
    })
    markets = pd.DataFrame({"market": cids, "country": COUNTRY})
    dem = d["demand"]
    demand = pd.DataFrame({"model": MODEL, "market": cids, "price": 0,
                           "max_units": dem, "min_units": dem})
    # per-unit freight = cost of serving all of j / d_j; zero demand -> 0 (never used)
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = np.where(dem[None, :] > 0, d["cost"] / np.where(dem > 0, dem, 1.0)[None, :], 0.0)
    freight = pd.DataFrame({
        "plant": np.repeat(pids, n), "market": np.tile(cids, m),
        "unit_cost": unit.ravel(),
    })
    for df in (plants, demand):
        for col in df.columns:
            if df[col].dtype.kind == "f" and np.all(np.mod(df[col].to_numpy(), 1) == 0):
                df[col] = df[col].astype(np.int64)
    return plants, markets, demand, freight


def _convert_file(kind: str, f: Path, outdir: Path, capacity: float | None) -> Path:
    if kind in ("orlib-cap", "holmberg"):
        if kind == "orlib-cap":
            d = parse_orlib_cap(f, capacity)
            cap = float(capacity) if capacity is not None else math.nan  # set whenever capacity_word is
            name = f.stem + (f"_{_fmt_num(cap)}" if d["capacity_word"] else "")
            extra: dict = {}
            desc = (f"OR-Library capacitated warehouse location {f.name} "
                    f"({d['m']} warehouses x {d['n']} customers"
                    + (f", capacity {_fmt_num(cap)}" if d["capacity_word"] else "")
                    + "); optimal NPV = -published optimal cost")
        else:
            d = parse_holmberg(f)
            name = f.stem
            extra = {"single_sourcing": True}
            desc = (f"Holmberg et al. (1999) single-source CFLP {f.name} "
                    f"({d['m']} facilities x {d['n']} customers); optimal NPV = -published optimal cost")
        plants, markets, demand, freight = _facility_tables(d)
        meta = {"facilities": d["m"], "customers": d["n"], "flows": d["m"] * d["n"]}
        if d["capacity_word"] and capacity is not None:
            meta["capacity"] = float(capacity)
        zero = int((d["demand"] == 0).sum())
        if zero:
            meta["zero_demand_customers"] = zero
        return _write_instance(outdir / name, name=name, description=desc, kind=kind, src_file=f,
                               plants=plants, markets=markets, demand=demand, freight=freight,
                               extra=extra, metadata=meta)
    if kind == "pmed":
        d = parse_pmed(f)
        n, p = d["n"], d["p"]
        dist = pmed_distances(n, d["edges"])
        ids = _ids("V", n)
        plants = pd.DataFrame({"plant": ids, "country": COUNTRY, "capacity": n,
                               "fixed_cost": 0, "closure_cost": 0, "headcount": 0})
        markets = pd.DataFrame({"market": ids, "country": COUNTRY})
        demand = pd.DataFrame({"model": MODEL, "market": ids, "price": 0,
                               "max_units": 1, "min_units": 1})
        ok = np.isfinite(dist)
        pi, mi = np.nonzero(ok)
        vals = dist[pi, mi]
        if np.all(np.mod(vals, 1) == 0):
            vals = vals.astype(np.int64)
        freight = pd.DataFrame({"plant": ids[pi], "market": ids[mi], "unit_cost": vals})
        name = f.stem
        meta = {"vertices": n, "edges": int(len(d["edges"])), "p": p, "flows": int(ok.sum())}
        if not ok.all():
            meta["unreachable_pairs"] = int((~ok).sum())
        desc = (f"OR-Library p-median {f.name} ({n} vertices, p = {p}); freight = shortest-path "
                f"distance (repeated edges keep their last cost); optimal NPV = -published optimum")
        return _write_instance(outdir / name, name=name, description=desc, kind=kind, src_file=f,
                               plants=plants, markets=markets, demand=demand, freight=freight,
                               extra={"plants_kept": {"min": p, "max": p}}, metadata=meta)
    raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")


def _data_files(src: Path) -> list[Path]:
    def key(p: Path) -> tuple[str, int, str]:
        m = re.match(r"(\D*)(\d*)(.*)", p.name)
        assert m is not None  # the pattern matches any string
        return (m.group(1), int(m.group(2)) if m.group(2) else -1, m.group(3))

    files = [p for p in src.iterdir()
             if p.is_file() and not p.name.startswith(".") and p.name.lower() not in _SKIP_NAMES
             and p.suffix.lower() not in (".csv", ".md", ".zip", ".gz", ".json", ".yaml", ".yml")
             and not p.name.lower().startswith(("readme", "optima"))]
    return sorted(files, key=key)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")


def _listed_capacities(src_dir: Path, stem: str) -> list[float]:
    f = src_dir / "optima.csv"
    caps: list[float] = []
    if f.is_file():
        with f.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                mt = re.fullmatch(re.escape(stem) + r"_([0-9.]+)", (row.get("instance") or "").strip())
                if mt:
                    caps.append(float(mt.group(1)))
    return caps


def _is_capacity_word_file(f: Path) -> bool:
    toks = f.read_bytes()[:4096].split()
    return len(toks) > 2 and toks[2].lower() == b"capacity"


def convert(kind: str, src: str | Path, outdir: str | Path, capacity: float | None = None) -> Path:
    """Convert one benchmark file (or every data file of a folder) into instance folder(s).

    A single file is written to ``outdir/<name>`` (``cap41``, ``capa_8000``,
    ``p1``, ``pmed1``) and that folder is returned.  For a folder, every data
    file is converted (README/optima files are skipped) and ``outdir`` is
    returned; for ``orlib-cap`` files whose capacities are the word
    ``capacity`` the given ``capacity`` is used, or, without one, every
    capacity listed in the folder's ``optima.csv`` (as :func:`convert_all`).

    Raises :class:`ConversionError` (a ``ValueError``) for malformed input.
    """
    _check_kind(kind)
    src, outdir = Path(src), Path(outdir)
    if src.is_dir():
        files = _data_files(src)
        if not files:
            raise ConversionError(f"{src}: no data files found")
        for f in files:
            if kind == "orlib-cap" and capacity is None and _is_capacity_word_file(f):
                caps = _listed_capacities(src, f.stem)
                if not caps:
                    raise ConversionError(f"{f}: capacities are the word 'capacity' and "
                                          f"{src / 'optima.csv'} lists none for {f.stem}; "
                                          f"give capacity=... / --capacity")
                for c in caps:
                    _convert_file(kind, f, outdir, c)
            else:
                _convert_file(kind, f, outdir, capacity)
        return outdir
    if not src.exists():
        raise ConversionError(f"{src}: no such file or directory")
    return _convert_file(kind, src, outdir, capacity)


def convert_all(kind: str, src_dir: str | Path, outdir: str | Path) -> list[Path]:
    """Convert every data file of ``src_dir``; returns the instance folders written.

    For ``orlib-cap`` the capacity-word files (capa/capb/capc) are expanded to
    every capacity listed for them in ``optima.csv`` (``<file>_<capacity>``).
    """
    _check_kind(kind)
    src_dir, outdir = Path(src_dir), Path(outdir)
    if not src_dir.is_dir():
        raise ConversionError(f"{src_dir}: not a directory")
    out: list[Path] = []
    for f in _data_files(src_dir):
        if kind == "orlib-cap" and _is_capacity_word_file(f):
            caps = _listed_capacities(src_dir, f.stem)
            if not caps:
                raise ConversionError(f"{f}: capacities are the word 'capacity' and "
                                      f"{src_dir / 'optima.csv'} lists none for {f.stem}")
            out.extend(_convert_file(kind, f, outdir, c) for c in caps)
        else:
            out.append(_convert_file(kind, f, outdir, None))
    return out

