"""Parser for local-authority lookups (ONS LTLA->UTLA lookups, ONSvisual code changes and 2014 LTLA lookup); depends on pandas.

Each file's kind is recognised from its header, never its name:
- `ltla_utla`: an ONS geoportal lookup with LTLAyyCD, LTLAyyNM, UTLAyyCD, UTLAyyNM (vintage 20yy);
- `code_changes`: the ONSvisual list oldcd, oldnm, newcd, newnm, type, start;
- `ltla14`: the ONSvisual 2014 lookup ltlacd, ltlanm, ctycd, ctynm, ..., rgncd, rgnnm, ctrycd, ctrynm.
Files may start with a UTF-8 byte-order mark. Empty cells become nulls.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

from indicators.errors import InputError, require_unique_columns

LTLA_UTLA_COLUMNS = ["ltla_code", "ltla_name", "utla_code", "utla_name", "vintage"]
CODE_CHANGE_COLUMNS = ["old_code", "old_name", "new_code", "new_name", "change_type", "year"]
LTLA14_COLUMNS = ["ltla_code", "ltla_name", "county_code", "county_name", "region_code", "region_name",
                  "country_code", "country_name"]

# The change types the ONSvisual list uses; a new one must be understood before it is used.
CHANGE_TYPES = ("merger", "termination", "new_code", "new_geo")

_LTLA_CODE = re.compile(r"^LTLA(\d{2})CD$", re.IGNORECASE)
_CHANGES_HEADER = {"oldcd": "old_code", "oldnm": "old_name", "newcd": "new_code", "newnm": "new_name",
                   "type": "change_type", "start": "year"}
_LTLA14_HEADER = {"ltlacd": "ltla_code", "ltlanm": "ltla_name", "ctycd": "county_code", "ctynm": "county_name",
                  "rgncd": "region_code", "rgnnm": "region_name", "ctrycd": "country_code",
                  "ctrynm": "country_name"}


def stage(files: list[Path]) -> dict[str, pd.DataFrame]:
    """Stage every lookup file; returns all three tables (empty when no file of that kind was given)."""
    parts: dict[str, list[pd.DataFrame]] = {"ltla_utla": [], "code_changes": [], "ltla14": []}
    sources: dict[str, list[Path]] = {"ltla_utla": [], "code_changes": [], "ltla14": []}
    for path in files:
        header = _header(path)
        lowered = {h.lower() for h in header}
        if any(_LTLA_CODE.match(h) for h in header):
            parts["ltla_utla"].append(_ltla_utla(path, header))
            sources["ltla_utla"].append(path)
        elif "oldcd" in lowered or "newcd" in lowered:
            parts["code_changes"].append(_renamed(path, header, _CHANGES_HEADER, _changes))
        elif "ltlacd" in lowered:
            parts["ltla14"].append(_renamed(path, header, _LTLA14_HEADER, _ltla14))
            sources["ltla14"].append(path)
        else:
            raise InputError(path, f"unknown lookup layout (columns {header})", where="header row",
                             expected="LTLAyyCD/UTLAyyCD columns, oldcd/newcd/type/start, or ltlacd/ctycd/rgncd")
    columns = {"ltla_utla": LTLA_UTLA_COLUMNS, "code_changes": CODE_CHANGE_COLUMNS, "ltla14": LTLA14_COLUMNS}
    out = {}
    for name, frames in parts.items():
        frame = pd.concat(frames, ignore_index=True) if frames else _empty(columns[name], name)
        out[name] = frame
    # Contradictions are reported against the files of that kind only, not every lookup file.
    out["ltla_utla"] = _check_ltla_utla(sources["ltla_utla"], out["ltla_utla"])
    out["ltla14"] = _dedupe(sources["ltla14"], out["ltla14"], ["ltla_code"], "ltla14")
    out["code_changes"] = out["code_changes"].drop_duplicates(ignore_index=True)
    return out


def _empty(columns: list[str], name: str) -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
    if name == "code_changes":
        frame["year"] = frame["year"].astype("Int64")
    return frame


def _header(path: Path) -> list[str]:
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as fh:
            row = next(csv.reader(fh), None)
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc})", expected="a CSV lookup file") from None
    if not row:
        raise InputError(path, "no header row", where="row 1", expected="a CSV header")
    require_unique_columns(path, row)
    return [h.strip() for h in row]


def _read(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    frame.columns = [c.strip() for c in frame.columns]
    for column in frame.columns:
        frame[column] = frame[column].str.strip()
    return frame.replace("", None)


def _require(path: Path, header: list[str], needed: list[str]) -> dict[str, str]:
    """Map each needed column (case-insensitive) to its header spelling; InputError naming what is missing."""
    by_lower = {h.lower(): h for h in header}
    missing = [n for n in needed if n.lower() not in by_lower]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}", where="header row",
                         expected=", ".join(needed))
    return {n: by_lower[n.lower()] for n in needed}


def _ltla_utla(path: Path, header: list[str]) -> pd.DataFrame:
    years = sorted({_LTLA_CODE.match(h).group(1) for h in header if _LTLA_CODE.match(h)})
    if len(years) != 1:
        raise InputError(path, f"LTLA code columns for several years ({years})", where="header row",
                         expected="one LTLAyyCD column")
    yy = years[0]
    cols = _require(path, header, [f"LTLA{yy}CD", f"LTLA{yy}NM", f"UTLA{yy}CD", f"UTLA{yy}NM"])
    raw = _read(path)
    frame = pd.DataFrame({
        "ltla_code": raw[cols[f"LTLA{yy}CD"]], "ltla_name": raw[cols[f"LTLA{yy}NM"]],
        "utla_code": raw[cols[f"UTLA{yy}CD"]], "utla_name": raw[cols[f"UTLA{yy}NM"]],
    })
    _no_blanks(path, frame, ["ltla_code", "utla_code"], offset=2)
    frame["vintage"] = f"20{yy}"
    return frame.astype({c: "str" for c in LTLA_UTLA_COLUMNS})


def _renamed(path: Path, header: list[str], mapping: dict[str, str], finish) -> pd.DataFrame:
    cols = _require(path, header, list(mapping))
    raw = _read(path)
    frame = pd.DataFrame({new: raw[cols[old]] for old, new in mapping.items()})
    return finish(path, frame)


def _changes(path: Path, frame: pd.DataFrame) -> pd.DataFrame:
    _no_blanks(path, frame, ["old_code", "change_type", "year"], offset=2)
    unknown = frame.loc[~frame["change_type"].isin(CHANGE_TYPES)]
    if not unknown.empty:
        row = unknown.index[0] + 2
        raise InputError(path, f"unknown change type {unknown.iloc[0]['change_type']!r}", where=f"row {row}, column type",
                         expected=" / ".join(CHANGE_TYPES))
    bad_year = ~frame["year"].str.fullmatch(r"\d{4}")
    if bad_year.any():
        row = bad_year.idxmax() + 2
        raise InputError(path, f"start {frame.loc[bad_year.idxmax(), 'year']!r} is not a year",
                         where=f"row {row}, column start", expected="a four-digit year")
    needs_new = frame["change_type"].ne("termination") & frame["new_code"].isna()
    if needs_new.any():
        row = needs_new.idxmax() + 2
        raise InputError(path, "a change other than a termination has no new code", where=f"row {row}, column newcd",
                         expected="newcd on every merger, new_code and new_geo row")
    frame = frame.astype({c: "str" for c in CODE_CHANGE_COLUMNS if c != "year"})
    frame["year"] = frame["year"].astype(int).astype("Int64")
    return frame[CODE_CHANGE_COLUMNS]


def _ltla14(path: Path, frame: pd.DataFrame) -> pd.DataFrame:
    _no_blanks(path, frame, ["ltla_code", "ltla_name", "country_code"], offset=2)
    return frame.astype({c: "str" for c in LTLA14_COLUMNS})[LTLA14_COLUMNS]


def _no_blanks(path: Path, frame: pd.DataFrame, columns: list[str], offset: int) -> None:
    for column in columns:
        blank = frame[column].isna()
        if blank.any():
            raise InputError(path, f"empty {column}", where=f"row {blank.idxmax() + offset}",
                             expected=f"a value in every row for {column}")


def _check_ltla_utla(files: list[Path], frame: pd.DataFrame) -> pd.DataFrame:
    """One UTLA per LTLA per vintage: a lookup that says two is contradictory, so nothing can be trusted."""
    pairs = frame.drop_duplicates(["ltla_code", "utla_code", "vintage"])
    clash = pairs.loc[pairs.duplicated(["ltla_code", "vintage"], keep=False)]
    if not clash.empty:
        code, vintage = clash.iloc[0][["ltla_code", "vintage"]]
        utlas = sorted(clash.loc[clash["ltla_code"].eq(code) & clash["vintage"].eq(vintage), "utla_code"])
        raise InputError(", ".join(Path(p).name for p in files),
                         f"LTLA {code} is mapped to {' and '.join(utlas)} in the {vintage} lookup",
                         where=f"LTLA{vintage[2:]}CD {code}", expected="one upper-tier authority per district")
    return frame.drop_duplicates(ignore_index=True)


def _dedupe(files: list[Path], frame: pd.DataFrame, key: list[str], name: str) -> pd.DataFrame:
    frame = frame.drop_duplicates(ignore_index=True)
    clash = frame.loc[frame.duplicated(key, keep=False)]
    if not clash.empty:
        raise InputError(", ".join(Path(p).name for p in files),
                         f"{name}: {clash.iloc[0]['ltla_code']} appears with different details",
                         where=f"ltlacd {clash.iloc[0]['ltla_code']}", expected="one row per district")
    return frame
