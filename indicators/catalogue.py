"""The indicator catalogue: one TOML (metadata) and one SQL file (selection from staged) per indicator in data/indicators/.

Depends on the standard library only. The words about an indicator live in its TOML, not in code.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from indicators.config import CATALOGUE_DIR
from indicators.errors import InputError

VALID_POLARITY = {"high_is_good", "low_is_good", "no_polarity"}
VALID_CI_METHOD = {"wilson", "byars_rate", "byars_count", "dobson", "published", "none"}
VALID_FAMILY = {"completions", "deaths", "hcv", "naloxone", "need", "treatment"}
VALID_REAGGREGATE = {"counts", "none"}
VALID_STATUS = {"open", "foi", "restricted", "not collected"}
FAMILY_TITLES = {
    "completions": "Successful completions",
    "deaths": "Drug-related deaths",
    "hcv": "Hepatitis C treatment",
    "naloxone": "Take-home naloxone",
    "need": "Need and unmet need",
    "treatment": "Treatment",
}


@dataclass(frozen=True)
class Indicator:
    id: str
    family: str
    title: str
    short_title: str
    definition: str
    caveats: tuple[str, ...]
    unit: str
    value_type: str
    multiplier: float
    polarity: str
    ci_method: str
    period_type: str
    suppression: str
    publisher: str
    publisher_id: str
    source_ids: tuple[str, ...]
    reaggregate: str
    sql: str
    publication_status: str = "open"  # open | foi | restricted | not collected (the best available)
    status_note: str = ""
    # Where figures for this indicator exist, per source: dicts with source, status, url, note.
    availability: tuple[dict, ...] = ()


REQUIRED = ("id", "family", "title", "short_title", "definition", "unit", "value_type", "multiplier",
            "polarity", "ci_method", "period_type", "suppression", "publisher", "publisher_id",
            "source_ids", "reaggregate")


def load_indicator(toml_path: Path) -> Indicator:
    with toml_path.open("rb") as fh:
        try:
            raw = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(toml_path, f"not valid TOML: {exc}") from None
    for key in REQUIRED:
        if key not in raw:
            raise InputError(toml_path, f"missing field {key!r}", expected="every catalogue field")
    checks = (("polarity", VALID_POLARITY), ("ci_method", VALID_CI_METHOD),
              ("family", VALID_FAMILY), ("reaggregate", VALID_REAGGREGATE))
    for key, allowed in checks:
        if raw[key] not in allowed:
            raise InputError(toml_path, f"{key} is {raw[key]!r}", where=key, expected=f"one of {sorted(allowed)}")
    if raw.get("publication_status", "open") not in VALID_STATUS:
        raise InputError(toml_path, f"publication_status is {raw['publication_status']!r}",
                         where="publication_status", expected=f"one of {sorted(VALID_STATUS)}")
    for i, item in enumerate(raw.get("availability", [])):
        if item.get("status") not in VALID_STATUS or not item.get("source"):
            raise InputError(toml_path, f"availability entry {i + 1} is {item!r}", where="availability",
                             expected=f"a source and a status in {sorted(VALID_STATUS)}")
    if raw["id"] != toml_path.stem:
        raise InputError(toml_path, f"id {raw['id']!r} differs from the file name", where="id")
    sql_path = toml_path.with_suffix(".sql")
    sql = sql_path.read_text(encoding="utf-8") if sql_path.exists() else ""
    return Indicator(
        caveats=tuple(raw.pop("caveats", ())),
        availability=tuple(raw.pop("availability", ())),
        source_ids=tuple(raw.pop("source_ids")),
        multiplier=float(raw.pop("multiplier")),
        sql=sql,
        **raw,
    )


def load_catalogue(catalogue_dir: Path = CATALOGUE_DIR) -> list[Indicator]:
    """Every indicator, sorted by family then id (the order pages list them in)."""
    order = list(FAMILY_TITLES)
    items = [load_indicator(p) for p in sorted(catalogue_dir.glob("*.toml"))]
    return sorted(items, key=lambda i: (order.index(i.family), i.id))
