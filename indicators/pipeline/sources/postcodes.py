"""ONS postcode lookups (the ONS Postcode Directory, or its postcode to local authority district extract) -> staged "postcodes"; depends on pandas, pyarrow.

Optional: with such a file the dashboard's area search accepts postcodes. The file's layout is
recognised from its header, never its name: a postcode column (pcds, pcd, pcd7, pcd8, pcd2 or
postcode; the first of these present is used) and a local authority district column (ladcd,
ladNNcd, oslaua or laua). A `doterm` column, where present, marks postcodes no longer in use: they
are kept (letters still carry them) unless a live row gives the same postcode. Only English districts
(E06, E07, E08, E09) are kept; other UK postcodes have no upper-tier area in this dashboard, and a
row whose postcode is not shaped like one is left out (a file with no such row at all is refused).
One row per postcode: postcode (upper case, no spaces), ltla_code, terminated.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

from indicators.errors import InputError

POSTCODE_HEADERS = ("pcds", "pcd", "pcd7", "pcd8", "pcd2", "postcode")
_LAD_HEADER = re.compile(r"^(ladcd|lad\d{2}cd|oslaua|laua)$", re.IGNORECASE)
_ENGLISH_DISTRICT = re.compile(r"^E0[6789]\d{6}$")
# A full UK postcode: outward code (area letters, district digit and optional letter or digit), inward code
# (a digit and two letters); spaces anywhere are ignored.
POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$")
POSTCODE_COLUMNS = ["postcode", "ltla_code", "terminated"]
EXPECTED = "a postcode column (pcds, pcd, pcd7, pcd8 or postcode) and a district column (ladcd, lad24cd, oslaua)"


def normalise_postcode(text: object) -> str:
    """A postcode as stored: upper case without spaces ('pr1 2rl ' -> 'PR12RL'); '' for anything else."""
    return re.sub(r"\s+", "", str(text or "")).upper()


def is_postcode(text: object) -> bool:
    """Whether `text` is shaped like a full UK postcode (spaces and case ignored)."""
    return bool(POSTCODE.fullmatch(normalise_postcode(text)))


def stage(files: list[Path]) -> dict[str, pd.DataFrame]:
    frames = [_read(path) for path in files]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=POSTCODE_COLUMNS)
    # Live rows first, so a postcode that is both terminated and live keeps its live district.
    frame = frame.sort_values(["postcode", "terminated"], kind="stable")
    frame = frame.drop_duplicates("postcode", keep="first").reset_index(drop=True)
    return {"postcodes": frame[POSTCODE_COLUMNS]}


def _header(path: Path) -> list[str]:
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as fh:
            row = next(csv.reader(fh), None)
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc})", expected="a CSV postcode lookup") from None
    if not row:
        raise InputError(path, "no header row", where="row 1", expected=EXPECTED)
    return [h.strip() for h in row]


def _read(path: Path) -> pd.DataFrame:
    header = _header(path)
    lowered = {h.lower(): h for h in header}
    postcode = next((lowered[h] for h in POSTCODE_HEADERS if h in lowered), None)
    district = next((h for h in header if _LAD_HEADER.match(h)), None)
    if postcode is None or district is None:
        raise InputError(path, f"not a postcode lookup (columns {header[:12]})", where="header row",
                         expected=EXPECTED)
    terminated = lowered.get("doterm")
    usecols = [postcode, district] + ([terminated] if terminated else [])
    raw = pd.read_csv(path, usecols=usecols, dtype=str, encoding="utf-8-sig", engine="pyarrow").fillna("")
    codes = raw[postcode].str.replace(r"\s+", "", regex=True).str.upper()
    districts = raw[district].str.strip()
    # Rows outside England, and the directory's few pseudo-postcodes, have no upper-tier area here.
    keep = districts.str.match(_ENGLISH_DISTRICT.pattern) & codes.str.match(POSTCODE.pattern)
    if len(raw) and not keep.any():
        raise InputError(path, "no row has an English postcode and district", where=f"columns {postcode}, {district}",
                         expected="postcodes such as PR1 2RL with district codes such as E07000123")
    ended = raw.loc[keep, terminated].str.strip().ne("") if terminated else pd.Series(False, index=raw.index[keep])
    frame = pd.DataFrame({"postcode": codes[keep], "ltla_code": districts[keep], "terminated": ended})
    return frame.astype({"postcode": "str", "ltla_code": "str", "terminated": "bool"})
