"""Number and money formatting: the one module every screen, report and workbook uses.

Rules (the same in the terminal, the HTML reports and the Excel number formats):

- missing values (``None``, NaN) print as ``-``; infinities as ``inf`` / ``-inf``;
- counts and units: thousands separators, no decimals (``2,657,500``);
- money in full: thousands separators, no decimals, the currency code in front
  when given (``USD 64,995,418,864``);
- compact money (tiles, chart labels, terminal tables): from a million on, three
  significant digits with ``m`` / ``bn`` (``USD 65.0 bn``, ``-12.3 m``), below that
  in full (``2,340``);
- signed changes carry an explicit ``+`` (``+1.25 bn``), and a change that rounds
  to zero prints as ``0``;
- shares (``0.534``) print as percentages (``53.4%``).

Everything returns ``str``; nothing here imports the CLI.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "MISSING", "XLSX_INT", "XLSX_MONEY", "XLSX_PCT", "XLSX_UNIT_MONEY", "compact", "is_missing", "money",
    "money_compact", "number", "pct", "signed", "signed_compact", "signed_pct",
]

MISSING = "-"

# Excel number formats matching the rules above (used by optimizer.results.excel).
XLSX_INT = "#,##0"
XLSX_MONEY = "#,##0"
XLSX_UNIT_MONEY = "#,##0.00"
XLSX_PCT = "0.0%"

_SCALES = ((1e9, "bn"), (1e6, "m"))


def is_missing(x: Any) -> bool:
    """True for None, NaN, pandas NA and empty strings."""
    if x is None:
        return True
    if isinstance(x, str):
        return x.strip() == ""
    try:
        return bool(x != x)  # NaN, pd.NA raises below
    except (TypeError, ValueError):
        return True


def _special(x: Any) -> str | None:
    if is_missing(x):
        return MISSING
    v = float(x)
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def number(x: Any, digits: int = 0) -> str:
    """``1,234`` (``digits`` decimals)."""
    s = _special(x)
    if s is not None:
        return s
    v = float(x)
    if round(v, digits) == 0:
        v = 0.0  # no "-0"
    return f"{v:,.{digits}f}"


def signed(x: Any, digits: int = 0) -> str:
    """``+1,234`` / ``-1,234``; ``0`` when it rounds to zero."""
    s = _special(x)
    if s is not None:
        return s if s != "inf" else "+inf"
    v = float(x)
    if round(v, digits) == 0:
        return "0"
    return f"{v:+,.{digits}f}"


def _with_currency(text: str, currency: str | None) -> str:
    if not currency or text in (MISSING,):
        return text
    if text.startswith(("-", "+")):
        return f"{text[0]}{currency} {text[1:]}"
    return f"{currency} {text}"


def compact(x: Any, digits: int = 3) -> str:
    """Three significant digits with m / bn from a million on: ``65.0 bn``, ``-1.23 m``; else ``950,000``."""
    s = _special(x)
    if s is not None:
        return s
    v = float(x)
    a = abs(v)
    for scale, unit in _SCALES:
        if a >= scale * 0.9995:
            q = v / scale
            dec = max(0, digits - len(str(int(abs(q)))))
            text = f"{q:,.{dec}f}"
            if dec and len(text.lstrip("-").split(".")[0]) > digits - dec:  # 99.95 -> 100.0: one decimal less
                text = f"{q:,.{dec - 1}f}"
            return f"{text} {unit}"
    if a < 0.5:
        return "0"
    return f"{v:,.0f}"


def signed_compact(x: Any, digits: int = 3) -> str:
    """``+1.25 bn`` / ``-300 m``; ``0`` when it rounds to zero."""
    s = _special(x)
    if s is not None:
        return s if s != "inf" else "+inf"
    c = compact(x, digits)
    return c if c == "0" or c.startswith("-") else "+" + c


def money(x: Any, currency: str | None = None, digits: int = 0) -> str:
    """Money in full: ``USD 64,995,418,864``."""
    return _with_currency(number(x, digits), currency)


def money_compact(x: Any, currency: str | None = None, *, sign: bool = False) -> str:
    """Compact money: ``USD 65.0 bn``; with ``sign``, ``+USD 1.25 bn``."""
    return _with_currency(signed_compact(x) if sign else compact(x), currency)


def pct(x: Any, digits: int = 1) -> str:
    """A share as a percentage: ``0.534`` -> ``53.4%``."""
    s = _special(x)
    if s is not None:
        return s
    return f"{float(x) * 100:.{digits}f}%"


def signed_pct(x: Any, digits: int = 2) -> str:
    """A value already in percent, signed: ``-1.25`` -> ``-1.25%``."""
    s = _special(x)
    if s is not None:
        return s
    v = float(x)
    if round(v, digits) == 0:
        return "0%"
    return f"{v:+.{digits}f}%"
