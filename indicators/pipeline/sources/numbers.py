"""Finite-number checks shared by the source parsers and the local-data import; depends on numpy, pandas and indicators.errors.

A number that overflows a double (`1e309`, or a very long run of digits), or that reads as
infinity or NaN, is never a figure: left in, it would become a NULL or an infinite value
downstream with no note, and every comparison against it would silently fail. Parsers reject
it with the file, the row and the column, like any other bad cell.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from indicators.errors import InputError

NOT_FINITE = "is not a finite number (it overflows, or reads as infinity or NaN)"
EXPECTED = "a number of ordinary size, or an empty cell"


def finite(path: str | Path, number: float, text: object, where: str) -> float:
    """`number` when it is finite; otherwise an InputError quoting `text` at `where` (e.g. "row 4, column 'Value'")."""
    if isinstance(number, float) and not math.isfinite(number):
        raise InputError(path, f"{str(text)!r} {NOT_FINITE}", where=where, expected=EXPECTED)
    return number


def finite_series(path: str | Path, numbers: pd.Series, text: pd.Series, rows: pd.Series, column: str,
                  row_word: str = "data row") -> pd.Series:
    """`numbers` when every non-missing one is finite; otherwise an InputError naming the first bad row and column.

    A NaN that comes from a non-empty cell counts as bad: only an empty cell may be missing.
    """
    values = numbers.to_numpy(dtype=float)
    given = text.astype(str).str.strip().ne("").to_numpy()
    bad = given & ~np.isfinite(values)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(path, f"{str(text.iloc[first]).strip()!r} {NOT_FINITE}",
                         where=f"{row_word} {rows.iloc[first]}, column {column!r}", expected=EXPECTED)
    return numbers
