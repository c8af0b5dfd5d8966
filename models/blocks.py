"""The model as arrays: variable blocks, constraint blocks and named cost components.

Every family of the formulation adds its part here, vectorised (linopy style):

- a :class:`VarBlock` is one variable family: labels (a DataFrame of its index
  columns), lower and upper bounds, integrality; its columns in the assembled model
  are ``offset .. offset + size - 1``;
- a :class:`ConBlock` is one constraint family: labels, row bounds and the nonzeros
  as (row, column, value) triples;
- a :class:`Cost` is one named component of the NPV (revenue, production, freight,
  ...): coefficients on columns and a constant.  The objective is their sum, so the
  breakdown of a solution comes from the numbers optimised.

:meth:`Blocks.matrix` assembles everything once into one CSC matrix for HiGHS;
:mod:`.pyomo_model` turns the same blocks into a Pyomo model on demand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import scipy.sparse as sp


@dataclass(frozen=True)
class CscArrays:
    """A sparse matrix as the CSC arrays HiGHS takes (row indices sorted within each column)."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    shape: tuple[int, int]

    @property
    def nnz(self) -> int:
        return len(self.data)


@dataclass
class VarBlock:
    """One variable family (e.g. ``x`` flows, ``z`` plants open per year)."""

    name: str
    labels: pd.DataFrame
    lower: np.ndarray
    upper: np.ndarray
    integer: bool
    offset: int = 0
    description: str = ""

    @property
    def size(self) -> int:
        """Number of variables."""
        return len(self.labels)

    @property
    def cols(self) -> np.ndarray:
        """Their column indices in the assembled model."""
        return np.arange(self.offset, self.offset + self.size)

    def col(self, keys: pd.DataFrame) -> np.ndarray:
        """Column of each row of ``keys`` (same columns as ``labels``); -1 where absent."""
        if self.size == 0 or len(keys) == 0:
            return np.full(len(keys), -1, dtype=np.int64)
        cols = list(self.labels.columns)
        pos = key_positions(self.labels[cols], keys[cols])
        return np.where(pos >= 0, pos + self.offset, -1)


@dataclass
class ConBlock:
    """One constraint family: lower <= A x <= upper over its rows (nonzeros as triples)."""

    name: str
    labels: pd.DataFrame
    lower: np.ndarray
    upper: np.ndarray
    row: np.ndarray
    col: np.ndarray
    val: np.ndarray
    offset: int = 0
    description: str = ""

    @property
    def size(self) -> int:
        """Number of rows."""
        return len(self.labels)


@dataclass
class Cost:
    """One named component of the NPV: value = constant + sum(coef * column value).

    Values are signed contributions to the NPV (revenue positive, costs negative).
    ``year`` (optional, per coefficient) is the plan year a coefficient belongs to,
    for the breakdown by year.
    """

    name: str
    col: np.ndarray
    coef: np.ndarray
    constant: float = 0.0
    year: np.ndarray | None = None


@dataclass
class Blocks:
    """All blocks of one model, in build order."""

    name: str = "model"
    vars: dict[str, VarBlock] = field(default_factory=dict)
    cons: dict[str, ConBlock] = field(default_factory=dict)
    costs: list[Cost] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Reasons the model is infeasible before any solve (e.g. demand that no flow can serve)."""
    n_cols: int = 0
    n_rows: int = 0

    def add_vars(self, name: str, labels: pd.DataFrame, lower: np.ndarray | float, upper: np.ndarray | float,
                 integer: bool, description: str = "") -> VarBlock:
        """Register a variable family; its columns follow the ones already registered."""
        n = len(labels)
        vb = VarBlock(name, labels.reset_index(drop=True), np.broadcast_to(np.asarray(lower, float), (n,)).copy(),
                      np.broadcast_to(np.asarray(upper, float), (n,)).copy(), integer, self.n_cols, description)
        self.vars[name] = vb
        self.n_cols += n
        return vb

    def add_cons(self, name: str, labels: pd.DataFrame, row: np.ndarray, col: np.ndarray, val: np.ndarray,
                 lower: np.ndarray | float, upper: np.ndarray | float, description: str = "") -> ConBlock | None:
        """Register a constraint family (returns ``None`` and adds nothing when it has no rows)."""
        n = len(labels)
        if n == 0:
            return None
        col = np.asarray(col, dtype=np.int64)
        if (col < 0).any():
            msg = f"constraint family {name}: a term refers to a variable that does not exist"
            raise AssertionError(msg)
        cb = ConBlock(name, labels.reset_index(drop=True), np.broadcast_to(np.asarray(lower, float), (n,)).copy(),
                      np.broadcast_to(np.asarray(upper, float), (n,)).copy(), np.asarray(row, dtype=np.int64), col,
                      np.asarray(val, dtype=float), self.n_rows, description)
        self.cons[name] = cb
        self.n_rows += n
        return cb

    def add_cost(self, name: str, col: np.ndarray, coef: np.ndarray, constant: float = 0.0,
                 year: np.ndarray | None = None) -> None:
        """Add a named NPV component (signed: costs enter with negative coefficients)."""
        self.costs.append(Cost(name, np.asarray(col, dtype=np.int64), np.asarray(coef, dtype=float), float(constant),
                               None if year is None else np.asarray(year)))

    # ------------------------------------------------------------------ assembly
    def bounds(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lower, upper, integrality) over all columns."""
        vbs = list(self.vars.values())
        if not vbs:
            return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int32)
        lo = np.concatenate([v.lower for v in vbs])
        hi = np.concatenate([v.upper for v in vbs])
        integ = np.concatenate([np.full(v.size, 1 if v.integer else 0, dtype=np.int32) for v in vbs])
        return lo, hi, integ

    def objective(self) -> tuple[np.ndarray, float]:
        """(c, constant) of the NPV to maximise: the sum of the cost components."""
        c = np.zeros(self.n_cols)
        const = 0.0
        for k in self.costs:
            np.add.at(c, k.col, k.coef)
            const += k.constant
        return c, const

    def _triplets(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(row, column, value, row lower, row upper) of every block, concatenated in build order.

        Indices are int32 when they fit (what HiGHS takes), int64 otherwise.
        """
        cbs = list(self.cons.values())
        idx = np.int32 if max(self.n_rows, self.n_cols) < 2**31 - 1 else np.int64
        if not cbs:
            e = np.zeros(0)
            return e.astype(idx), e.astype(idx), e, e, e
        return (np.concatenate([c.row + c.offset for c in cbs], dtype=idx),
                np.concatenate([c.col for c in cbs], dtype=idx), np.concatenate([c.val for c in cbs]),
                np.concatenate([c.lower for c in cbs]), np.concatenate([c.upper for c in cbs]))

    def matrix(self) -> tuple[sp.csc_matrix, np.ndarray, np.ndarray]:
        """(A, row lower, row upper) as a scipy.sparse matrix (the same numbers as :meth:`csc`)."""
        import scipy.sparse as sp

        a, lo, hi = self.csc()
        return sp.csc_matrix((a.data, a.indices, a.indptr), shape=a.shape), lo, hi

    def csc(self) -> tuple[CscArrays, np.ndarray, np.ndarray]:
        """(A, row lower, row upper) of every constraint block, assembled once as the CSC arrays HiGHS's
        ``passModel`` takes: duplicates summed, zeros dropped, rows sorted within each column.

        numpy alone (importing scipy.sparse would be a tenth of a second of every solve).  The blocks
        list their columns in ascending runs (one per family and term), so a stable sort by column is a
        merge of runs (3.4 M nonzeros: 0.015 s); a column whose rows then are not strictly increasing
        (a repeated or out-of-order term) sends the whole matrix through a sort by (column, row) and a
        sum of the repeats.
        """
        rows, cols, vals, lo, hi = self._triplets()
        order = np.argsort(cols, kind="stable")
        r, c, v = rows[order], cols[order], vals[order]
        if len(r) > 1 and bool(((c[1:] == c[:-1]) & (r[1:] <= r[:-1])).any()):
            order = np.lexsort((rows, cols))
            r, c, v = rows[order], cols[order], vals[order]
            first = np.ones(len(r), dtype=bool)
            first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
            v = np.bincount(np.cumsum(first) - 1, weights=v, minlength=int(first.sum()))
            r, c = r[first], c[first]
        nz = v != 0
        if not nz.all():
            r, c, v = r[nz], c[nz], v[nz]
        indptr = np.zeros(self.n_cols + 1, dtype=r.dtype)
        np.cumsum(np.bincount(c, minlength=self.n_cols), out=indptr[1:])
        return CscArrays(indptr, r, v, (self.n_rows, self.n_cols)), lo, hi

    def values(self, solution: np.ndarray, name: str) -> np.ndarray:
        """The solution values of variable family ``name`` (empty if it has no variables)."""
        vb = self.vars.get(name)
        if vb is None:
            return np.zeros(0)
        return solution[vb.offset: vb.offset + vb.size]

    def sizes(self) -> dict[str, int]:
        """Variables, binaries, rows and nonzeros."""
        nnz = sum(len(c.val) for c in self.cons.values())
        nbin = sum(v.size for v in self.vars.values() if v.integer)
        return {"variables": self.n_cols, "binaries": nbin, "rows": self.n_rows, "nonzeros": int(nnz)}


def add_year_order(mb: Blocks, name: str, vb: VarBlock, n_years: int, *, increasing: bool,
                   description: str = "") -> None:
    """Rows linking each variable of ``vb`` to the same key's previous year (labels sorted key-major, year-minor).

    increasing:  v[k,y-1] - v[k,y] <= 0   (e.g. a stack once developed stays developed)
    decreasing:  v[k,y] - v[k,y-1] <= 0   (e.g. a plant once closed stays closed)
    """
    if n_years < 2 or vb.size == 0:
        return
    base = (np.arange(vb.size // n_years) * n_years)[:, None] + np.arange(1, n_years)[None, :]
    cur = (base + vb.offset).ravel()
    k = len(cur)
    up, down = (cur - 1, cur) if increasing else (cur, cur - 1)
    mb.add_cons(name, vb.labels.iloc[base.ravel()], np.concatenate([np.arange(k), np.arange(k)]),
                np.concatenate([up, down]), np.concatenate([np.ones(k), -np.ones(k)]), -np.inf, 0.0, description)


def _column_codes(table: pd.Series, keys: pd.Series) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Integer codes of two columns over one coding (-1 = a value of ``keys`` not in ``table``); ``None``
    when ``table`` has missing values (left to pandas' own matching)."""
    if isinstance(table.dtype, pd.CategoricalDtype) and table.dtype == keys.dtype:
        ct, ck = table.array.codes, keys.array.codes
        return (None if (ct < 0).any() else (ct.astype(np.int64), ck.astype(np.int64), len(table.dtype.categories)))
    if isinstance(table.dtype, pd.CategoricalDtype):
        table = table.astype(object)
    if table.isna().any():
        return None
    index = pd.Index(pd.unique(table.to_numpy()))
    if isinstance(keys.dtype, pd.CategoricalDtype):
        cat = keys.array
        ck = np.append(index.get_indexer(cat.categories), -1)[cat.codes]
    else:
        ck = index.get_indexer(keys)
    return index.get_indexer(table).astype(np.int64), np.asarray(ck, dtype=np.int64), len(index)


def key_positions(table: pd.DataFrame, keys: pd.DataFrame) -> np.ndarray:
    """For each row of ``keys``, the position of a row of ``table`` with the same values (-1 where none).

    Same columns in both; the rows of ``table`` are unique (with repeats, one of them is found).
    Vectorised on integer codes (one combined key per row).
    """
    if len(table) == 0 or len(keys) == 0:
        return np.full(len(keys), -1, dtype=np.int64)
    tk = np.zeros(len(table), dtype=np.int64)
    kk = np.zeros(len(keys), dtype=np.int64)
    size = 1
    for c in table.columns:
        got = _column_codes(table[c], keys[c])
        size *= got[2] + 1 if got is not None else 1
        if got is None or size >= 2**62:
            pos = pd.MultiIndex.from_frame(table).get_indexer(pd.MultiIndex.from_frame(keys[list(table.columns)]))
            return np.asarray(pos, dtype=np.int64)
        ct, ck, n = got
        tk = tk * (n + 1) + ct
        kk = kk * (n + 1) + np.where(ck >= 0, ck, n)  # code n: no row of table has it
    order = np.argsort(tk, kind="stable")
    st = tk[order]
    pos = np.minimum(np.searchsorted(st, kk), len(st) - 1)
    return np.where(st[pos] == kk, order[pos], -1)


def group_rows(keys: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Row number of each item of ``keys`` (one row per distinct key, sorted) and the distinct keys.

    The workhorse of every "sum over a group" family: items are flow-years, keys the
    columns that define a row (plant and year for plant capacity, ...).  Grouped on one
    combined integer code per item (categorical codes sort as their labels; other columns
    are factorised sorted); keys with missing values go to pandas' groupby.
    """
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64), keys.iloc[:0].reset_index(drop=True)
    parts: list[tuple[np.ndarray, int, pd.Series | pd.Index | pd.CategoricalDtype]] = []
    size = 1
    for c in keys.columns:
        col = keys[c]
        if isinstance(col.dtype, pd.CategoricalDtype):
            code, n, uniq = col.array.codes.astype(np.int64), len(col.dtype.categories), col.dtype
        else:
            code, uniq = pd.factorize(col, sort=True)
            n = len(uniq)
        size *= max(n, 1)
        if (code < 0).any() or size >= 2**62:
            return _group_rows_pandas(keys)
        parts.append((code, max(n, 1), uniq))
    key = np.zeros(len(keys), dtype=np.int64)
    for code, n, _ in parts:
        key = key * n + code
    ids, ukey = pd.factorize(key, sort=True)
    out = {}
    div = 1
    for c, (code, n, uniq) in zip(reversed(list(keys.columns)), reversed(parts)):
        u = (ukey // div) % n
        div *= n
        out[c] = (pd.Categorical.from_codes(u, dtype=uniq) if isinstance(uniq, pd.CategoricalDtype)
                  else np.asarray(uniq)[u])
    return ids.astype(np.int64), pd.DataFrame({c: out[c] for c in keys.columns})


def _group_rows_pandas(keys: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    g = keys.groupby(list(keys.columns), sort=True, dropna=False)
    return g.ngroup().to_numpy(np.int64), g.size().index.to_frame(index=False)
