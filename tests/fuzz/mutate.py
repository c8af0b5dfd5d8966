"""A seeded mutation generator over the bundled instances, scenario files and batch specs.

``make_case(seed, workdir)`` writes one mutated input into ``workdir`` and returns a
:class:`Case`: which command to run, which file was changed (the file an input error must
name) and, for mutations whose effect on the NPV is known, the direction it must move.
Everything is a pure function of ``seed``: a failing case is replayed with its seed.
"""

from __future__ import annotations

import csv
import io
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "instances" / "tiny"
NISSAN = ROOT / "instances" / "nissan_2026_v1"

HOSTILE_CELLS = [
    "", " ", "-1", "-0", "0", "1e12", "1e13", "1e16", "1e20", "1e300", "-1e300", "nan", "NaN", "inf", "-inf",
    "abc", "1,5", "1;2", "true", "yes", "?", "\t", "é", "名前", "0x10", "1_000", "  7  ", "9" * 5001,
    "x" * 140_000, '"', "'", "\\", "=1+1", "<script>", "None", "null", "*", "\u200b", "1e-400", "12abc",
]
HOSTILE_YAML = [
    -1, 0, 1, 2.5, 1e20, 10**30, "abc", "", None, True, False, [1, 2], {"a": 1}, [], {}, "9" * 5001,
    2**31, 2**32, -(2**63), float("nan"), float("inf"), "1e3", [None], {"min": 3, "max": 1}, "\u00e9",
]
YAML_KEYS = [
    "horizon_years", "discount_rate", "plants_kept", "plants_kept.min", "plants_kept.max", "min_jobs_cut",
    "duty_basis", "single_sourcing", "solver", "solver.threads", "solver.seed", "solver.time_limit_s",
    "solver.mip_rel_gap", "name", "currency", "tables", "tables.plants", "tables.demand", "scenarios", "metadata",
    "sources", "unknown_key",
]


@dataclass
class Case:
    seed: int
    klass: str
    detail: str
    command: list[str]
    target: str
    """File name an input error must name (or a key, for inline mistakes)."""
    names: list[str] = field(default_factory=list)
    """Other accepted names (a key path, a table) for the problem's location."""
    direction: int = 0
    """+1: the NPV may only rise (or stay); -1: only fall; 0: no claim."""
    base_npv: float | None = None
    reference: bool = False
    """True when the tests' brute-force oracle (tests/reference.py) can check the status and NPV."""


def _read_csv(p: Path) -> list[list[str]]:
    with p.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _write_csv(p: Path, rows: list[list[str]]) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    p.write_text(buf.getvalue(), encoding="utf-8")


def _copy(src: Path, work: Path) -> Path:
    d = work / src.name
    shutil.copytree(src, d)
    return d


def _set_path(d: dict, path: str, value: object) -> None:
    parts = path.split(".")
    for p in parts[:-1]:
        if not isinstance(d.get(p), dict):
            d[p] = {}
        d = d[p]
    d[parts[-1]] = value


def _csv_files(d: Path) -> list[Path]:
    return sorted(d.glob("*.csv"))


# --- instance CSV mutations ------------------------------------------------------------------


def m_cell(rng: random.Random, d: Path) -> tuple[str, str, list[str]]:
    f = rng.choice(_csv_files(d))
    rows = _read_csv(f)
    if len(rows) < 2:
        return f.name, "empty table", []
    i, j = rng.randrange(1, len(rows)), rng.randrange(len(rows[0]))
    v = rng.choice(HOSTILE_CELLS)
    if j < len(rows[i]):
        rows[i][j] = v
    _write_csv(f, rows)
    return f.name, f"row {i + 1} col {rows[0][j]} = {v[:20]!r}", [rows[0][j]]


def m_structure(rng: random.Random, d: Path) -> tuple[str, str, list[str]]:
    f = rng.choice(_csv_files(d))
    rows = _read_csv(f)
    op = rng.choice(["drop_col", "rename_col", "add_col", "dup_row", "del_rows", "swap_cols", "truncate",
                     "semicolon", "empty", "bom_crlf", "garbage", "ragged", "header_only", "nul", "delete"])
    name = f.name
    if op == "drop_col" and rows:
        j = rng.randrange(len(rows[0]))
        rows = [r[:j] + r[j + 1:] for r in rows]
    elif op == "rename_col" and rows:
        j = rng.randrange(len(rows[0]))
        rows[0][j] = rows[0][j][:-1] + "x"
    elif op == "add_col" and rows:
        rows = [r + (["extra"] if k == 0 else ["1"]) for k, r in enumerate(rows)]
    elif op == "dup_row" and len(rows) > 1:
        rows.append(list(rows[rng.randrange(1, len(rows))]))
    elif op == "del_rows":
        rows = rows[:1]
    elif op == "swap_cols" and rows and len(rows[0]) > 1:
        a, b = rng.sample(range(len(rows[0])), 2)
        rows[0][a], rows[0][b] = rows[0][b], rows[0][a]
    if op in ("truncate", "semicolon", "empty", "bom_crlf", "garbage", "ragged", "header_only", "nul", "delete"):
        _write_csv(f, rows)
        text = f.read_text(encoding="utf-8")
        if op == "truncate":
            f.write_text(text[: rng.randrange(1, max(len(text), 2))], encoding="utf-8")
        elif op == "semicolon":
            f.write_text(text.replace(",", ";"), encoding="utf-8")
        elif op == "empty":
            f.write_text("", encoding="utf-8")
        elif op == "bom_crlf":
            f.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
        elif op == "garbage":
            f.write_bytes(bytes(rng.randrange(256) for _ in range(200)))
        elif op == "ragged":
            f.write_text(text + "a,b,c,d,e,f,g,h,i,j,k\n", encoding="utf-8")
        elif op == "header_only":
            f.write_text(text.splitlines()[0] + "\n", encoding="utf-8")
        elif op == "nul":
            f.write_bytes(text.encode().replace(b",", b"\x00", 1))
        elif op == "delete":
            f.unlink()
    else:
        _write_csv(f, rows)
    return name, op, []


# --- instance.yaml mutations -----------------------------------------------------------------


def m_yaml(rng: random.Random, d: Path) -> tuple[str, str, list[str]]:
    y = d / "instance.yaml"
    raw = yaml.safe_load(y.read_text(encoding="utf-8"))
    op = rng.choice(["set", "set", "set", "delete", "truncate", "alias_bomb", "deep", "seq_key", "merge", "dup_key",
                     "tab", "tag", "nul_path", "long_path", "abs_path", "escape_path", "table_list", "not_mapping"])
    key = rng.choice(YAML_KEYS)
    if op == "set":
        v = rng.choice(HOSTILE_YAML)
        _set_path(raw, key, v)
        y.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
        names = [key, key.split(".")[0]]
        if key.startswith("tables."):  # an empty or odd table is reported where it is referenced, by name
            names.append(f"'{key.split('.', 1)[1]}'")
        return "instance.yaml", f"{key} = {str(v)[:30]!r}", names
    if op == "delete":
        raw.pop(key.split(".")[0], None)
        y.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        return "instance.yaml", f"delete {key.split('.')[0]}", [key.split(".")[0]]
    text = y.read_text(encoding="utf-8")
    extra = {
        "alias_bomb": "metadata:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 9)),
        "deep": "metadata: " + "[" * 5000 + "]" * 5000 + "\n",
        "seq_key": "? [a, b]\n: 1\n",
        "merge": "metadata:\n  base: &b {time_limit_s: 30}\nsolver:\n  <<: *b\n",
        "dup_key": "horizon_years: 2\nhorizon_years: 3\n",
        "tab": "\tbad: 1\n",
        "tag": "metadata: !!python/object/apply:os.system ['echo pwned']\n",
        "not_mapping": None,
    }
    if op == "truncate":
        y.write_text(text[: rng.randrange(1, len(text))], encoding="utf-8")
    elif op in ("nul_path", "long_path", "abs_path", "escape_path", "table_list"):
        t = rng.choice(["plants", "demand", "freight", "markets"])
        v = {"nul_path": f"{t}\x00.csv", "long_path": "p" * 300 + ".csv", "abs_path": f"/etc/{t}.csv",
             "escape_path": f"../../{t}.csv", "table_list": [f"{t}.csv"]}[op]
        raw.setdefault("tables", {})[t] = v
        y.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        return "instance.yaml", f"{op} {t}", [f"tables.{t}"]
    elif op == "not_mapping":
        y.write_text("- a\n- b\n", encoding="utf-8")
    else:
        if op in ("merge", "dup_key"):
            text = "\n".join(ln for ln in text.splitlines() if not ln.startswith(("solver", "horizon_years"))) + "\n"
        y.write_text(text + extra[op], encoding="utf-8")
    return "instance.yaml", op, []


# --- valid, monotone mutations (NPV direction known) -----------------------------------------

MONOTONE = [
    # (file, column, factor > 1 means raise, direction of the NPV when raised)
    ("demand.csv", "price", +1),
    ("demand.csv", "max_units", +1),
    ("plants.csv", "capacity", +1),
    ("plants.csv", "fixed_cost", -1),
    ("production.csv", "unit_cost", -1),
    ("freight.csv", "unit_cost", -1),
    ("tariffs.csv", "ad_valorem", -1),
]


def m_monotone(rng: random.Random, d: Path) -> tuple[str, str, list[str], int]:
    fname, col, sign = rng.choice(MONOTONE)
    f = d / fname
    rows = _read_csv(f)
    j = rows[0].index(col)
    i = rng.randrange(1, len(rows))
    factor = rng.choice([0.0, 0.25, 0.5, 0.9, 1.1, 1.5, 2.0, 4.0])
    old = float(rows[i][j])
    new = old * factor
    if fname == "tariffs.csv":
        new = min(new, 10.0)
    rows[i][j] = repr(round(new, 6))
    _write_csv(f, rows)
    direction = sign if new > old else (-sign if new < old else 0)
    return fname, f"{col} row {i + 1}: {old:g} -> {new:g}", [col], direction


# --- scenario files --------------------------------------------------------------------------


VALID_CHANGES = [
    lambda r: {"table": "demand", "where": {"market": "TH"}, "scale": {"max_units": r.choice([0, 0.5, 2])}},
    lambda r: {"table": "plants", "where": {"plant": r.choice(["A", "B"])}, "set": {"status": r.choice(["keep", "close",
                                                                                                       "free"])}},
    lambda r: {"table": "freight", "where": {"plant": "B"}, "add": {"unit_cost": r.choice([1, 50])}},
    lambda r: {"table": "tariffs", "where": {"origin": "CN"}, "set": {"ad_valorem": r.choice([0, 0.5, 3])}},
    lambda r: {"table": "plants", "remove": True, "where": {"plant": "A"}},
    lambda r: {"table": "demand", "where": {"model": "V"}, "scale": {"price": r.choice([0.5, 1.5])}},
]


def m_scenario(rng: random.Random, d: Path) -> tuple[str, str, list[str]]:
    if rng.random() < 0.5:  # a valid scenario: it must solve sanely
        ch = rng.choice(VALID_CHANGES)(rng)
        scen = {"changes": [ch]}
        if rng.random() < 0.3:
            scen["settings"] = {"plants_kept": {"max": rng.choice([1, 2])}}
        name = rng.choice(["s", "ok", "what_if"])
        (d / "scenarios.yaml").write_text(yaml.safe_dump({"scenarios": {name: scen}}, sort_keys=False), encoding="utf-8")
        return "scenarios.yaml", f"valid {name}: {str(ch)[:80]}", ["scenarios", "changes"]
    table = rng.choice(["plants", "demand", "freight", "tariffs", "nope", ["plants"], {"t": 1}, 3, None])
    col = rng.choice(["capacity", "price", "max_units", "unit_cost", "status", "capacty", "plant", "ad_valorem"])
    val = rng.choice([0.5, 2, -1, 1e20, "abc", None, [1], {"a": 1}, "keep", "close", 0])
    op = rng.choice(["set", "scale", "add", "remove", "add_rows", "bogus"])
    where = rng.choice([None, {"plant": "A"}, {"market": "TH"}, {"plant": ["A", "B"]}, {"nope": 1}, "A", [1],
                        {"market.region": "SEA"}])
    ch: dict = {"table": table}
    if where is not None:
        ch["where"] = where
    if op == "remove":
        ch["remove"] = rng.choice([True, "yes", 1])
    elif op == "add_rows":
        ch["add_rows"] = rng.choice([[{col: val}], [{"plant": "C", "country": "JP", "capacity": 5, "fixed_cost": 1,
                                                     "closure_cost": 0, "headcount": 1}], "x"])
    else:
        ch[op] = {col: val} if rng.random() < 0.9 else val
    scen: dict = {"changes": [ch]}
    if rng.random() < 0.2:
        scen["settings"] = {rng.choice(["plants_kept", "horizon_years", "solver", "bogus"]): rng.choice(HOSTILE_YAML)}
    if rng.random() < 0.1:
        scen["extends"] = rng.choice(["s", "missing", ["s"], 1])
    name = rng.choice(["s", "s b", "a/b", "x" * 300, "ok", "s", "ok"])
    text = yaml.safe_dump({"scenarios": {name: scen}}, sort_keys=False, allow_unicode=True)
    (d / "scenarios.yaml").write_text(text, encoding="utf-8")
    return "scenarios.yaml", f"{name[:20]!r}: {str(ch)[:80]}", ["scenarios", "changes"]


# --- batch specs -----------------------------------------------------------------------------


def m_spec(rng: random.Random, d: Path, work: Path) -> tuple[str, str, list[str]]:
    jobs = []
    for _ in range(rng.randint(1, 3)):
        j: dict = {"instance": rng.choice(["tiny", "tiny", "missing_dir", "", 3, None, ["tiny"], "tiny/instance.yaml"])}
        if rng.random() < 0.5:
            j["id"] = rng.choice(["a", "a", "a b", "a_b", "x" * 300, "", "ok.1", None, 5])
        if rng.random() < 0.4:
            j["solver"] = {rng.choice(["threads", "seed", "time_limit_s", "bogus"]): rng.choice(HOSTILE_YAML)}
        if rng.random() < 0.3:
            j["settings"] = {rng.choice(["plants_kept", "horizon_years", "name", "tables"]): rng.choice(HOSTILE_YAML)}
        if rng.random() < 0.2:
            j["scenario"] = rng.choice(["nope", "base", {"changes": []}, 3])
        jobs.append(j)
    spec: dict = {"jobs": jobs}
    if rng.random() < 0.3:
        spec["sweeps"] = [{"instance": "tiny", "parameters": {rng.choice(["solver.seed", "plants_kept.max", "bogus"]):
                                                              rng.choice([[1, 2], [], "x", [2**40], [1, 1]])}}]
    if rng.random() < 0.1:
        spec["bogus"] = 1
    p = work / "spec.yaml"
    p.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return "spec.yaml", str(spec)[:120], ["jobs", "sweeps", "id"]


CLASSES = ["csv_cell", "csv_structure", "instance_yaml", "monotone", "scenario", "batch_spec", "nissan_cell",
           "nissan_yaml"]


def make_case(seed: int, work: Path, base_npv: dict[str, float] | None = None) -> Case:
    """Write case ``seed`` into ``work`` (an empty folder) and return what to run and expect."""
    rng = random.Random(seed)
    klass = CLASSES[seed % len(CLASSES)]
    solve_args = ["--time-limit", "20", "--threads", "1", "--out", str(work / "out")]
    if klass in ("csv_cell", "csv_structure", "instance_yaml", "monotone", "scenario", "batch_spec"):
        d = _copy(TINY, work)
    else:
        d = _copy(NISSAN, work)
        (d / "scenarios.yaml").unlink()  # the scenarios are checked in their own class
    if klass in ("csv_cell", "nissan_cell"):
        target, detail, names = m_cell(rng, d)
        names = [*names, f"'{Path(target).stem}'"]  # a reference into the changed table names it
        return Case(seed, klass, detail, ["solve", str(d), *solve_args], target, names, reference=klass == "csv_cell")
    if klass == "csv_structure":
        target, detail, names = m_structure(rng, d)
        names = [*names, f"'{Path(target).stem}'"]
        return Case(seed, klass, detail, ["solve", str(d), *solve_args], target, names, reference=True)
    if klass in ("instance_yaml", "nissan_yaml"):
        target, detail, names = m_yaml(rng, d)
        return Case(seed, klass, detail, ["solve", str(d), *solve_args], target, names, reference=klass == "instance_yaml")
    if klass == "monotone":
        target, detail, names, direction = m_monotone(rng, d)
        return Case(seed, klass, detail, ["solve", str(d), "--mip-gap", "0", *solve_args], target, names,
                    direction=direction, base_npv=(base_npv or {}).get("tiny"), reference=True)
    if klass == "scenario":
        target, detail, names = m_scenario(rng, d)
        name = next(iter(yaml.safe_load((d / "scenarios.yaml").read_text())["scenarios"]))
        cmd = rng.choice([["validate", str(d)], ["solve", str(d), "--scenario", str(name), *solve_args],
                          ["batch", str(d), "--out", str(work / "runs"), "--workers", "0", "-q"]])
        return Case(seed, klass, detail, cmd, target, names)
    target, detail, names = m_spec(rng, d, work)
    return Case(seed, klass, detail, ["batch", str(work / "spec.yaml"), "--out", str(work / "runs"), "--workers",
                                      "0", "-q"], target, names)
