"""The indicator catalogue, the one registry: one TOML (metadata) per indicator in data/indicators/ with its own SQL
file or a shared template from data/templates/, the families in data/families.toml and the rules of each
`ci_method` (and each statistic's minimum data) in data/methods.toml.

Depends on the standard library only. The words about an indicator live in its TOML, not in code; what the fetch
downloads (the Fingertips ids), what the build selects (the staged series) and which statistics a figure supports
(its method's rules) all come from here.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from indicators.config import FAMILIES_FILE, METHODS_FILE, TEMPLATES_DIR, default_catalogue_dir
from indicators.errors import InputError

VALID_POLARITY = {"high_is_good", "low_is_good", "no_polarity"}
VALID_REAGGREGATE = {"counts", "none"}
VALID_STATUS = {"open", "foi", "restricted", "not collected"}
# A staged series id: '<source id>:<the source's name for the series>', e.g. 'fingertips:90244'.
SERIES = re.compile(r"^[a-z][a-z0-9_]*:[A-Za-z0-9_.-]+$")
# The named parameter a template (or an indicator's own SQL) uses for the indicator's series, in order.
SERIES_PARAMETER = "$series"

_LIMITS = {"wilson", "byars_rate", "byars_count", "published", "none"}
_TRENDS = {"proportion", "rate", "none"}
_FUNNELS = {"proportion", "rate", "dsr", "none"}
_RANK_SCALES = {"logit", "log", "identity"}


# --------------------------------------------------------------------------- families and method rules

@dataclass(frozen=True)
class Family:
    id: str
    title: str
    noun: str
    side_by_side: bool
    order: int
    not_published_title: str = ""
    not_published_note: str = ""
    # The scorecard: the indicators that each get a column of their own; none means one column for the family.
    scorecard: tuple[str, ...] = ()


@dataclass(frozen=True)
class MethodRule:
    """What one `ci_method` means for each statistic (see data/methods.toml)."""
    ci_method: str
    limits: str
    poolable: bool
    bounded: bool
    trend: str
    funnel: str
    rank_scale: str
    name: str
    description: str
    reference: str


@dataclass(frozen=True)
class Minimums:
    """The least data each statistic needs (data/methods.toml, [minimum])."""
    areas_for_spread: int
    others_in_group: int
    periods_for_trend: int
    periods_for_gap_change: int


def _read_toml(path: Path) -> dict:
    try:
        with Path(path).open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise InputError(path, f"cannot read the file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"not valid TOML: {exc}") from None


@functools.cache
def load_families(path: Path = FAMILIES_FILE) -> dict[str, Family]:
    """Family id -> Family, in display order."""
    raw = _read_toml(path).get("family", [])
    out = {}
    for order, item in enumerate(raw, start=1):
        for key in ("id", "title", "noun"):
            if not isinstance(item.get(key), str) or not item[key]:
                raise InputError(path, f"family {order} has no {key!r}", where=f"[[family]] {order}",
                                 expected="id, title and noun for every family")
        out[item["id"]] = Family(id=item["id"], title=item["title"], noun=item["noun"],
                                 side_by_side=bool(item.get("side_by_side", False)), order=order,
                                 not_published_title=item.get("not_published_title", ""),
                                 not_published_note=" ".join(item.get("not_published_note", "").split()),
                                 scorecard=tuple(item.get("scorecard", ())))
    return out


# The status of a source's figures in a catalogue entry's `availability`, best first; only per-area sources count.
PER_AREA_GEOGRAPHIES = {"", "upper-tier local authority", "local authority"}
STATUS_RANK = {"open": 0, "foi": 1, "restricted": 2, "not collected": 3}


def per_area_status(publication_status: str, availability: list[dict]) -> str:
    """The best status any source has *per local authority* (ODN, regional or national sources don't count)."""
    statuses = [i.get("status", "") for i in availability
                if str(i.get("geography", "")).lower() in PER_AREA_GEOGRAPHIES]
    if not availability:
        statuses = [publication_status]
    ranked = sorted((s for s in statuses if s in STATUS_RANK), key=STATUS_RANK.get)
    return ranked[0] if ranked else "not collected"


def _method(path: Path, name: str, item: dict) -> MethodRule:
    checks = (("limits", _LIMITS), ("trend", _TRENDS), ("funnel", _FUNNELS), ("rank_scale", _RANK_SCALES))
    for key, allowed in checks:
        if item.get(key) not in allowed:
            raise InputError(path, f"method {name!r} has {key} {item.get(key)!r}", where=f"[method.{name}]",
                             expected=f"one of {sorted(allowed)}")
    for key in ("poolable", "bounded"):
        if not isinstance(item.get(key), bool):
            raise InputError(path, f"method {name!r} has {key} {item.get(key)!r}", where=f"[method.{name}]",
                             expected="true or false")
    return MethodRule(ci_method=name, limits=item["limits"], poolable=item["poolable"], bounded=item["bounded"],
                      trend=item["trend"], funnel=item["funnel"], rank_scale=item["rank_scale"],
                      name=item.get("name", name), description=" ".join(item.get("description", "").split()),
                      reference=" ".join(item.get("reference", "").split()))


@functools.cache
def load_methods(path: Path = METHODS_FILE) -> dict[str, MethodRule]:
    """ci_method -> its rules."""
    raw = _read_toml(path).get("method", {})
    return {name: _method(path, name, item) for name, item in raw.items()}


@functools.cache
def load_minimums(path: Path = METHODS_FILE) -> Minimums:
    raw = _read_toml(path).get("minimum", {})
    try:
        return Minimums(**{key: int(raw[key]) for key in Minimums.__dataclass_fields__})
    except (KeyError, TypeError, ValueError):
        raise InputError(path, "the [minimum] table is incomplete", where="[minimum]",
                         expected=", ".join(Minimums.__dataclass_fields__)) from None


def method_rule(ci_method: str) -> MethodRule:
    """The rules of a ci_method; an unknown method gets those of 'none' (no interval, no statistic)."""
    methods = load_methods()
    return methods.get(ci_method, methods["none"])


# --------------------------------------------------------------------------- indicators

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
    # The staged series the indicator's rows come from, in order of preference ('fingertips:90244', ...).
    series: tuple[str, ...] = ()
    sql_template: str = ""     # a template in data/templates/ used instead of an own <id>.sql
    publisher_name: str = ""   # the publisher's name of the indicator, checked by the fetch where it can be
    # The staged series of England by deprivation decile for this indicator (published.deprivation_deciles).
    deprivation_series: str = ""

    @property
    def rule(self) -> MethodRule:
        return method_rule(self.ci_method)

    def sql_parameters(self) -> dict[str, list[str]]:
        """The named parameters the indicator's SQL takes (the series, when it uses them)."""
        return {"series": list(self.series)} if SERIES_PARAMETER in self.sql else {}

    def publisher_ids(self, source_id: str) -> list[str]:
        """The source's own ids of the series this indicator reads from `source_id` ('90244' for fingertips)."""
        prefix = f"{source_id}:"
        return [s[len(prefix):] for s in self.series if s.startswith(prefix)]


REQUIRED = ("id", "family", "title", "short_title", "definition", "unit", "value_type", "multiplier",
            "polarity", "ci_method", "period_type", "suppression", "publisher", "publisher_id",
            "source_ids", "reaggregate")


def load_indicator(toml_path: Path, templates_dir: Path = TEMPLATES_DIR) -> Indicator:
    raw = _read_toml(toml_path)
    for key in REQUIRED:
        if key not in raw:
            raise InputError(toml_path, f"missing field {key!r}", expected="every catalogue field")
    checks = (("polarity", VALID_POLARITY), ("ci_method", set(load_methods())),
              ("family", set(load_families())), ("reaggregate", VALID_REAGGREGATE))
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
    series = raw.pop("series", [])
    if not isinstance(series, list) or not all(isinstance(s, str) and SERIES.match(s) for s in series):
        raise InputError(toml_path, f"series is {series!r}", where="series",
                         expected="a list of staged series ids such as 'fingertips:90244'")
    sql = _indicator_sql(toml_path, raw.get("sql_template", ""), series, templates_dir)
    return Indicator(
        caveats=tuple(raw.pop("caveats", ())),
        availability=tuple(raw.pop("availability", ())),
        source_ids=tuple(raw.pop("source_ids")),
        multiplier=float(raw.pop("multiplier")),
        series=tuple(series),
        sql=sql,
        **raw,
    )


def _indicator_sql(toml_path: Path, template: str, series: list[str], templates_dir: Path) -> str:
    """The indicator's own <id>.sql, or the named template; never both."""
    sql_path = toml_path.with_suffix(".sql")
    if template:
        if sql_path.exists():
            raise InputError(toml_path, f"names the template {template!r} and has its own {sql_path.name}",
                             where="sql_template", expected="either a template or an own SQL file, not both")
        path = templates_dir / f"{template}.sql"
        if not re.fullmatch(r"[a-z][a-z0-9_]*", template) or not path.is_file():
            known = sorted(p.stem for p in templates_dir.glob("*.sql"))
            raise InputError(toml_path, f"sql_template {template!r} is not a template", where="sql_template",
                             expected=f"one of {known} (data/templates/)")
        sql = path.read_text(encoding="utf-8")
    else:
        sql = sql_path.read_text(encoding="utf-8") if sql_path.exists() else ""
    if SERIES_PARAMETER in sql and not series:
        raise InputError(toml_path, "the SQL selects the indicator's series but none are listed", where="series",
                         expected="the staged series ids the rows come from, e.g. series = ['fingertips:90244']")
    return sql


def load_catalogue(catalogue_dir: Path | None = None) -> list[Indicator]:
    """Every indicator, sorted by family then id (the order pages list them in)."""
    catalogue_dir = default_catalogue_dir() if catalogue_dir is None else Path(catalogue_dir)
    families = load_families()
    items = [load_indicator(p) for p in sorted(catalogue_dir.glob("*.toml"))]
    return sorted(items, key=lambda i: (families[i.family].order, i.id))
