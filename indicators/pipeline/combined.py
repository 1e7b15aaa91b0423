"""Areas some publishers report as one figure (data/combined_areas.toml) and the build's rule for them; depends on pandas, tomllib, indicators.config/errors and the note words in indicators.present.text.

The rule (README, "Methods"): a combined figure is published on the larger area with a note naming
both; the smaller area gets a row whose note points to it. Never dropped, never shown as two values.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from indicators.config import DATA_DIR
from indicators.errors import InputError
from indicators.present import text

COMBINED_FILE = DATA_DIR / "combined_areas.toml"
_GSS = re.compile(r"^E\d{8}$")


@dataclass(frozen=True)
class CombinedPair:
    larger: str
    smaller: str
    together: str
    names: tuple[str, ...]

    @property
    def note(self) -> str:
        return text.combined_area_note(self.together)


def load_combined(path: Path = COMBINED_FILE) -> list[CombinedPair]:
    """The declared pairs; an InputError naming the file and entry when one is malformed."""
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(path, f"not readable TOML ({exc})", expected="[[combined]] entries") from None
    pairs = []
    for i, entry in enumerate(document.get("combined", []), start=1):
        where = f"[[combined]] entry {i}"
        codes = (entry.get("larger"), entry.get("smaller"))
        if not all(isinstance(c, str) and _GSS.match(c) for c in codes) or codes[0] == codes[1]:
            raise InputError(path, f"larger and smaller must be two different GSS codes, not {codes}", where=where,
                             expected="e.g. larger = \"E06000052\", smaller = \"E06000053\"")
        names = entry.get("names", [])
        if not isinstance(entry.get("together"), str) or not entry["together"].strip() or \
                not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            raise InputError(path, "together must be text and names a list of text", where=where,
                             expected="together = \"Cornwall and the Isles of Scilly\", names = [...]")
        pairs.append(CombinedPair(codes[0], codes[1], entry["together"].strip(), tuple(n.strip() for n in names)))
    return pairs


def assign_combined_names(observations: pd.DataFrame, pairs: list[CombinedPair],
                          normalise: Callable[[str], str], names: dict[str, str],
                          warn: Callable[[str, str], None]) -> pd.DataFrame:
    """Rows published under a combined name (no code) go to the larger area, with the note naming both.

    A combined row that would repeat a row the same source gives for the larger area on its own is
    left out (the separate figure is the better one) and said in a warning.
    """
    aliases = {normalise(n): pair for pair in pairs for n in pair.names}
    unnamed = observations["area_code"].eq("")
    if not aliases or not unnamed.any():
        return observations
    matched = observations["area_name"].where(unnamed, "").map(lambda n: aliases.get(normalise(n)) if n else None)
    hit = matched.notna()
    if not hit.any():
        return observations
    out = observations.copy()
    for index in out.index[hit]:
        pair = matched[index]
        out.at[index, "area_code"] = pair.larger
        note = out.at[index, "value_note"]
        out.at[index, "value_note"] = pair.note + (f" {note}" if note else "")
    key = ["series", "area_code", "period_label", "sex", "age"]
    own = set(out.loc[~hit, key].itertuples(index=False, name=None))
    clash = hit & pd.Series([k in own for k in out[key].itertuples(index=False, name=None)], index=out.index)
    for (source_id, name), group in out.loc[hit].groupby(["source_id", "area_name"], sort=True):
        pair = matched[group.index[0]]
        larger, smaller = names.get(pair.larger, pair.larger), names.get(pair.smaller, pair.smaller)
        if clash[group.index].all():
            warn(source_id, f"{source_id}: {name!r} is left out: the same file gives {larger} on its own")
        else:
            warn(source_id, text.combined_area_warning(source_id, name, pair.larger, larger, smaller))
    return out.loc[~clash].reset_index(drop=True)


def merge_duplicated_pairs(rows: pd.DataFrame, pairs: list[CombinedPair], names: dict[str, str],
                           warn: Callable[[str, str], None]) -> pd.DataFrame:
    """Where a source gives the larger and the smaller area the same figure (one combined figure written twice),
    keep it once, on the larger area with the note, and drop the smaller area's copy."""
    if rows.empty or not pairs:
        return rows
    drop, notes = [], {}
    for pair in pairs:
        larger = rows.loc[rows["area_code"].eq(pair.larger)].set_index(["indicator_id", "period_label"])
        smaller = rows.loc[rows["area_code"].eq(pair.smaller)]
        for index, row in smaller.iterrows():
            key = (row["indicator_id"], row["period_label"])
            if key not in larger.index or pd.isna(row["value"]):
                continue
            match = larger.loc[[key]].iloc[0]
            same_count = (pd.isna(row["numerator"]) and pd.isna(match["numerator"])) or row["numerator"] == match["numerator"]
            if match["value"] == row["value"] and same_count:
                drop.append(index)
                notes[(pair.larger, *key)] = pair
    if not drop:
        return rows
    out = rows.drop(index=drop).copy()
    for (code, indicator_id, period), pair in notes.items():
        at = out["area_code"].eq(code) & out["indicator_id"].eq(indicator_id) & out["period_label"].eq(period)
        out.loc[at, "value_note"] = [pair.note + (f" {n}" if n else "") for n in out.loc[at, "value_note"]]
    for pair in {p for p in notes.values()}:
        warn("", text.combined_area_warning(
            "the build", f"{names.get(pair.larger, pair.larger)} = {names.get(pair.smaller, pair.smaller)}",
            pair.larger, names.get(pair.larger, pair.larger), names.get(pair.smaller, pair.smaller)))
    return out.reset_index(drop=True)


def pointer_note(pairs: list[CombinedPair], code: str, present: pd.DataFrame, names: dict[str, str]) -> str | None:
    """For the smaller area of a pair whose larger area carries the combined figure in `present` (one
    indicator and period, indexed by area_code): the note pointing to it; otherwise None."""
    for pair in pairs:
        if pair.smaller != code or pair.larger not in present.index:
            continue
        note = present.loc[pair.larger, "value_note"]
        if isinstance(note, str) and note.startswith(pair.note):
            return text.combined_pointer_note(names.get(pair.larger, pair.larger), pair.together)
    return None
