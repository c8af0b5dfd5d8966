"""The benchmark suites: which instances, how each is made, and its time limit.

Instances are converted (``optimizer.bench.convert``) or generated (``optimizer.bench.generate``)
on first use into the work directory (``benchmarks/work/instances/<suite>/<name>``,
git-ignored) and reused afterwards.  A folder is written under a temporary name
and renamed, so an interrupted conversion never leaves a half-written instance.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHDATA = Path(os.environ.get("BENCHDATA", ROOT.parent / "shared" / "benchdata"))
WORK = Path(os.environ.get("BENCH_WORK", ROOT / "benchmarks" / "work"))

SHORT_LIMIT = 120.0
"""Default per-instance time limit (seconds)."""
LONG_LIMIT = 600.0
"""Default time limit of the large instances (capa/capb/capc, Holmberg p56-p71, pmed with n >= 500)."""

SUITES = ("smoke", "orlib", "holmberg", "pmed", "scale", "random")

# scale series: (target flows, plants, models, markets); seed 1, generator defaults otherwise
SCALE_SIZES: tuple[tuple[int, int, int, int], ...] = (
    (1_000, 8, 6, 40),
    (10_000, 24, 12, 80),
    (100_000, 60, 20, 150),
    (400_000, 100, 30, 250),
    (1_000_000, 150, 40, 300),
    (2_000_000, 200, 50, 400),
    (5_000_000, 300, 60, 600),
)
SCALE_SEED = 1

# random CFLP (Cornuejols, Sridharan & Thizy 1991 generator): (name, facilities, customers, capacity ratio, seed)
RANDOM_CFLP: tuple[tuple[str, int, int, float, int], ...] = (
    ("cflp_100x1000_s1", 100, 1000, 5.0, 1),
    ("cflp_100x1000_s2", 100, 1000, 5.0, 2),
    ("cflp_100x1000_s3", 100, 1000, 5.0, 3),
    ("cflp_400x1000", 400, 1000, 5.0, 1),
)
RANDOM_LIMIT = 60.0
"""Time limit of the random suite: the issue's yardstick is HiGHS's gap after 60 s on 100 x 1000."""


@dataclass
class Spec:
    """One benchmark instance: how to make it and how long it may run."""

    name: str
    suite: str
    make: Callable[[Path], Path] = field(repr=False)
    """Writes the instance folder into the given folder (which does not exist yet)."""
    large: bool = False
    target_flows: int | None = None
    limit: float | None = None
    """This instance's own time limit (overrides the short/long default)."""

    def time_limit(self, short: float = SHORT_LIMIT, long: float = LONG_LIMIT) -> float:
        if self.limit is not None:
            return self.limit
        return long if self.large else short

    def path(self, work: Path = WORK) -> Path:
        """The instance folder, made now if it is not cached yet."""
        folder = work / "instances" / self.suite / self.name
        if (folder / "instance.yaml").is_file():
            return folder
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = folder.parent / f".{self.name}.tmp{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        self.make(tmp)
        if folder.exists():  # made meanwhile by another runner
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, folder)
        return folder


def _converted(kind: str, src: Path, name: str, capacity: float | None = None) -> Callable[[Path], Path]:
    def make(dest: Path) -> Path:
        from optimizer.bench.convert import convert

        staging = dest.parent / (dest.name + ".stage")
        if staging.exists():
            shutil.rmtree(staging)
        out = convert(kind, src, staging, capacity=capacity)
        os.replace(out, dest)
        shutil.rmtree(staging, ignore_errors=True)
        return dest
    return make


def _generated(plants: int, models: int, markets: int, seed: int, target: int | None = None,
               **options) -> Callable[[Path], Path]:
    def make(dest: Path) -> Path:
        from optimizer.bench.generate import generate

        return generate(dest, plants, models, markets, seed, target_flows=target, **options)
    return make


def _optima(kind: str) -> list[str]:
    with (BENCHDATA / kind / "optima.csv").open(newline="", encoding="utf-8") as fh:
        return [row["instance"].strip() for row in csv.DictReader(fh)]


def _num(name: str) -> int:
    m = re.search(r"(\d+)", name)
    return int(m.group(1)) if m else 0


def orlib() -> list[Spec]:
    src = BENCHDATA / "orlib-cap"
    out = []
    for name in _optima("orlib-cap"):
        if "_" in name:
            stem, cap = name.split("_", 1)
            out.append(Spec(name, "orlib", _converted("orlib-cap", src / f"{stem}.txt", name, float(cap)), large=True))
        else:
            out.append(Spec(name, "orlib", _converted("orlib-cap", src / f"{name}.txt", name)))
    # cheap first: cap41..cap134 in file order, then capa/capb/capc
    return sorted(out, key=lambda s: (s.large, 0))


def holmberg() -> list[Spec]:
    src = BENCHDATA / "holmberg"
    names = sorted(_optima("holmberg"), key=_num)
    return [Spec(n, "holmberg", _converted("holmberg", src / n, n), large=_num(n) >= 56) for n in names]


def _pmed_n(path: Path) -> int:
    with path.open(encoding="utf-8") as fh:
        return int(fh.readline().split()[0])


def pmed() -> list[Spec]:
    src = BENCHDATA / "pmed"
    names = sorted(_optima("pmed"), key=_num)
    return [Spec(n, "pmed", _converted("pmed", src / f"{n}.txt", n), large=_pmed_n(src / f"{n}.txt") >= 500)
            for n in names]


def scale_name(target: int) -> str:
    return f"gen_{target // 1000}k" if target < 1_000_000 else f"gen_{target / 1e6:g}M"


def scale() -> list[Spec]:
    return [Spec(scale_name(t), "scale", _generated(p, v, m, SCALE_SEED, t), target_flows=t)
            for t, p, v, m in SCALE_SIZES]


def write_random_cflp(path: Path, m: int, n: int, ratio: float, seed: int) -> Path:
    """Write a random capacitated facility-location instance in OR-Library ``cap`` format.

    The generator of Cornuejols, Sridharan & Thizy (EJOR 50, 1991), as used for the
    random CFLP benchmarks in the literature: facilities and customers uniform in the
    unit square; demand d_j ~ U[5, 35]; capacity s_i ~ U[10, 160], then scaled so that
    sum_i s_i = ratio * sum_j d_j; fixed cost f_i = U[0, 90] + U[100, 110] * sqrt(s_i)
    (drawn before scaling); cost of serving all of j from i: c_ij = 10 * d_j * ||i - j||.
    Deterministic per seed (numpy PCG64).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    fac = rng.uniform(0.0, 1.0, (m, 2))
    cus = rng.uniform(0.0, 1.0, (n, 2))
    d = rng.uniform(5.0, 35.0, n)
    s = rng.uniform(10.0, 160.0, m)
    f = rng.uniform(0.0, 90.0, m) + rng.uniform(100.0, 110.0, m) * np.sqrt(s)
    s = s * ratio * d.sum() / s.sum()
    c = 10.0 * d[None, :] * np.linalg.norm(fac[:, None, :] - cus[None, :, :], axis=2)  # (m, n)
    lines = [f"{m} {n}"]
    lines += [f"{si:.4f} {fi:.4f}" for si, fi in zip(s, f)]
    for j in range(n):
        lines.append(f"{d[j]:.4f}")
        lines.append(" ".join(f"{x:.4f}" for x in c[:, j]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _random_cflp(name: str, m: int, n: int, ratio: float, seed: int) -> Callable[[Path], Path]:
    def make(dest: Path) -> Path:
        src = dest.parent / f".{name}.src{os.getpid()}" / f"{name}.txt"
        write_random_cflp(src, m, n, ratio, seed)
        try:
            _converted("orlib-cap", src, name)(dest)
        finally:
            shutil.rmtree(src.parent, ignore_errors=True)
        import yaml

        f = dest / "instance.yaml"
        doc = yaml.safe_load(f.read_text(encoding="utf-8"))
        doc["description"] = (f"Random CFLP, Cornuejols-Sridharan-Thizy generator ({m} facilities x {n} customers, "
                              f"capacity ratio {ratio:g}, seed {seed}); written in OR-Library cap format by "
                              f"benchmarks.suites.write_random_cflp and converted; no published optimum")
        # a cost-minimisation set like the OR-Library ones: results are reported as the minimum cost
        doc["metadata"].update(optimum_sense="min_cost", generator="cornuejols1991", capacity_ratio=ratio, seed=seed)
        f.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
        return dest
    return make


def random_cflp() -> list[Spec]:
    """Random CFLP instances (no published optimum): the issue's 100 x 1000 yardstick and a 400k-flow one."""
    return [Spec(name, "random", _random_cflp(name, m, n, r, seed), limit=RANDOM_LIMIT)
            for name, m, n, r, seed in RANDOM_CFLP]


def smoke() -> list[Spec]:
    def tiny(dest: Path) -> Path:
        shutil.copytree(ROOT / "instances" / "tiny", dest)
        return dest

    return [
        Spec("tiny", "smoke", tiny),
        Spec("cap41", "smoke", _converted("orlib-cap", BENCHDATA / "orlib-cap" / "cap41.txt", "cap41")),
        Spec("p1", "smoke", _converted("holmberg", BENCHDATA / "holmberg" / "p1", "p1")),
        Spec("gen_small", "smoke", _generated(8, 5, 20, 1)),
    ]


def suite(name: str) -> list[Spec]:
    """The instances of a suite, cheap first."""
    table = {"smoke": smoke, "orlib": orlib, "holmberg": holmberg, "pmed": pmed, "scale": scale,
             "random": random_cflp}
    if name not in table:
        raise ValueError(f"unknown suite {name!r}; choose from {', '.join(SUITES)}")
    return table[name]()
