"""Build the warehouse: raw cache -> DuckDB `staged` -> `published`, written to a new file and swapped in only after the checks pass.

Depends on duckdb, pandas, the source parsers, indicators.pipeline.geography/peers/statistics, indicators.stats and
indicators.pipeline.checks; never on Streamlit. Every statistic the pages show is published here
(indicators.pipeline.statistics), so the query layer only reads. A failed build leaves the previous warehouse byte-identical.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from tqdm import tqdm

from indicators.catalogue import Indicator, load_catalogue, load_families, load_methods
from indicators.config import PUBLISHED_AREA_TYPES
from indicators.errors import BuildError, IndicatorsError, InputError, discard, writing
from indicators.pipeline import combined, geography, peers, synthetic
from indicators.pipeline.checks import run_checks
from indicators.pipeline.fetch import read_fetch_status, read_manifest, retry_command
from indicators.pipeline.schema import (
    INDICATOR_VALUE_COLUMNS,
    OBSERVATION_COLUMNS,
    conform_observations,
    value_status_sql,
    table_exists,
)
from indicators.pipeline.sources import Source, all_sources
from indicators.pipeline.sources.numbers import EXPECTED as NOT_FINITE_EXPECTED
from indicators.pipeline.sources.numbers import NOT_FINITE
from indicators.present import text
from indicators.pipeline.scorecard import publish_scorecard
from indicators.pipeline.statistics import publish_statistics
from indicators.stats.sql import apply_statistics, register_macros


@dataclass
class BuildReport:
    db_path: Path
    build_id: str = ""
    seconds: float = 0.0
    sources_used: dict[str, list[str]] = field(default_factory=dict)
    sources_missing: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    row_counts: dict[str, int] = field(default_factory=dict)
    synthetic_files: list[str] = field(default_factory=list)  # <source_id>/<file> carrying synthetic.MARKER
    # Every warning with its kind and source, kept in published.build_warnings.
    warning_rows: list[dict[str, str]] = field(default_factory=list)

    def warn(self, kind: str, message: str, source_id: str = "", *, printed: bool = True) -> None:
        if printed:
            self.warnings.append(message)
        self.warning_rows.append({"kind": kind, "source_id": source_id, "message": message})


# --------------------------------------------------------------------------- staging

def stage_sources(raw_dir: Path, sources: list[Source], report: BuildReport,
                  progress: bool = False) -> dict[str, pd.DataFrame]:
    """Run every source's parser over its files in the raw cache; concatenate tables by name."""
    tables: dict[str, list[pd.DataFrame]] = {}
    for source in tqdm(sources, desc="staging", unit="source", disable=not progress, file=sys.stderr):
        files = source.matching_files(raw_dir / source.id)
        if not files:
            report.sources_missing.append(source.id)
            report.warn("no files", text.missing_source_warning(source.id), source.id, printed=False)
            continue
        for path in files:
            if path.stat().st_size == 0:
                raise InputError(path, "the file is empty (0 bytes)", expected=f"a {source.title} file")
        try:
            staged = source.module().stage(files)
        except IndicatorsError:
            raise
        except Exception as exc:  # a parser bug or a shape nobody foresaw: still one clear line
            raise BuildError(f"{source.id}: could not parse {', '.join(p.name for p in files)}: "
                             f"{type(exc).__name__}: {exc}") from exc
        report.sources_used[source.id] = [p.name for p in files]
        for warning in staged.pop("warnings", pd.DataFrame(columns=["warning"]))["warning"]:
            report.warn("parser", f"{source.id}: {warning}", source.id)
        for name, frame in staged.items():
            if name == "observations":
                frame = conform_observations(frame)
                _reject_non_finite(frame)
            tables.setdefault(name, []).append(frame)
    return {name: pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
            for name, frames in tables.items()}


def _reject_non_finite(observations: pd.DataFrame) -> None:
    """A last guard behind the parsers' own checks: no infinite or overflowed number reaches the build."""
    for column in ("value", "lower_ci_95", "upper_ci_95", "lower_ci_998", "upper_ci_998", "numerator", "denominator"):
        numbers = observations[column].to_numpy(dtype=float)
        bad = np.isinf(numbers)
        if bad.any():
            row = observations.loc[bad].iloc[0]
            raise InputError(row["source_file"] or row["source_id"],
                             f"{numbers[bad][0]!r} {NOT_FINITE}",
                             where=f"the row for area {row['area_code'] or row['area_name']}, period "
                                   f"{row['period_label']}, column {column}", expected=NOT_FINITE_EXPECTED)


# --------------------------------------------------------------------------- names -> codes

_NAME_DROP = re.compile(r"[^a-z0-9 ]+")


def normalise_name(name: str) -> str:
    """Lower-case, '&' as 'and', no punctuation, ', City of' / ', County of' dropped."""
    text = str(name).lower().replace("&", " and ")
    text = re.sub(r",\s*(city|county) of\b", "", text)
    text = re.sub(r"\b(ua|county council|council)\b", "", text)
    text = _NAME_DROP.sub(" ", text)
    return " ".join(text.split())


def resolve_area_codes(observations: pd.DataFrame, areas: pd.DataFrame,
                       report: BuildReport, combined_pairs: list[combined.CombinedPair] | None = None,
                       strict: frozenset[str] = frozenset()) -> pd.DataFrame:
    """Fill missing area codes (sources that publish names only) by exact normalised-name match.

    Where two areas share a name (Dorset the county and Dorset the unitary), the one that
    existed at the end of the row's period is taken. A name declared as two areas published
    together (data/combined_areas.toml) goes to the larger one, with a note. Unmatched or still
    ambiguous names are left out, and listed in the build report, rather than guessed; for the
    sources in `strict` (whose parsers set NAMES_MUST_MATCH) such a name stops the build instead.
    """
    if combined_pairs:
        names = dict(zip(areas["area_code"], areas["area_name"]))
        observations = combined.assign_combined_names(
            observations, combined_pairs, normalise_name, names,
            lambda source_id, message: report.warn("combined area", message, source_id))
    missing = observations["area_code"].eq("")
    if not missing.any():
        return observations
    lookup: dict[str, list[tuple[str, object, object]]] = {}
    for code, name, start, end in areas[["area_code", "area_name", "valid_from", "valid_to"]].itertuples(index=False):
        lookup.setdefault(normalise_name(name), []).append((code, start, end))

    def pick(name: str, period_end) -> str:
        candidates = lookup.get(normalise_name(name), [])
        if len(candidates) > 1 and not pd.isna(period_end):
            day = pd.Timestamp(period_end)
            candidates = [c for c in candidates
                          if (pd.isna(c[1]) or pd.Timestamp(c[1]) <= day) and (pd.isna(c[2]) or pd.Timestamp(c[2]) >= day)]
        return candidates[0][0] if len(candidates) == 1 else ""

    observations = observations.copy()
    todo = observations.loc[missing, ["area_name", "period_end"]]
    observations.loc[missing, "area_code"] = [pick(n, e) for n, e in todo.itertuples(index=False)]
    unmatched = observations.loc[missing & observations["area_code"].eq("")]
    failing = unmatched.loc[unmatched["source_id"].isin(strict)]
    if not failing.empty:
        first = failing.iloc[0]
        raise InputError(first["source_file"], f"area name {first['area_name']!r} matches no upper-tier area "
                         f"in the ONS lookups (or more than one that existed in {first['period_label']})",
                         where="an area given by name only",
                         expected="the name of an English county or unitary authority as the ONS lookups spell it")
    for (source_id, name), _ in unmatched.groupby(["source_id", "area_name"]):
        report.warn("unmatched name", f"{source_id}: area name {name!r} matches no upper-tier area "
                    "unambiguously; its rows are left out", source_id)
    return observations.loc[~(missing & observations["area_code"].eq(""))].reset_index(drop=True)


# --------------------------------------------------------------------------- indicators

def indicator_rows(con: duckdb.DuckDBPyConnection, catalogue: list[Indicator]) -> pd.DataFrame:
    """Each indicator's rows from staged: its own SQL, or its template over its series."""
    frames = []
    for ind in catalogue:
        if not ind.sql.strip():
            continue
        try:
            frame = con.execute(ind.sql, ind.sql_parameters()).df()
        except duckdb.Error as exc:
            where = (f"data/templates/{ind.sql_template}.sql (for data/indicators/{ind.id}.toml)"
                     if ind.sql_template else f"data/indicators/{ind.id}.sql")
            raise BuildError(f"{where}: {exc}") from exc
        frame.insert(0, "indicator_id", ind.id)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["indicator_id"])
    return pd.concat(frames, ignore_index=True)


def _note(*parts: str) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())


def harmonise(rows: pd.DataFrame, catalogue: list[Indicator], areas: pd.DataFrame,
              reorgs: pd.DataFrame, ltla_utla: pd.DataFrame,
              combined_pairs: list[combined.CombinedPair] | None = None) -> pd.DataFrame:
    """Put every series on current upper-tier areas (see README, "Reorganisations").

    Same footprint: the old area's figures are carried to the new code. Otherwise counts are
    re-aggregated where the new area is a sum of published areas: of its districts (district
    figures, e.g. ONS deaths), or of the old upper-tier areas it was made of when it is their whole
    union (a merger; upper-tier figures such as Fingertips'); a rate that cannot be re-derived is
    left missing with a note, and where neither works (a split, or districts moved between areas)
    the note says so. Old areas keep their own rows.
    Finally every current area gets a row for every period of every indicator, empty where
    the source files have nothing, so "no data" is explicit rather than an absent row. Such an
    empty row names no source (source_id, source_file and edition NULL); its note says which
    files lacked it, or, for the smaller area of a combined pair, where its figure is.
    """
    if rows.empty:
        return rows
    by_id = {ind.id: ind for ind in catalogue}
    names = dict(zip(areas["area_code"], areas["area_name"]))
    current = areas.loc[areas["valid_to"].isna() & areas["area_type"].isin(PUBLISHED_AREA_TYPES)]
    current_codes = list(current["area_code"])
    carried = reorgs.loc[reorgs["relation"] == "same_footprint"]
    carry_from: dict[str, list[tuple[str, str]]] = {}
    for old, old_name, new in carried[["old_code", "old_name", "new_code"]].itertuples(index=False):
        carry_from.setdefault(new, []).append((old, old_name))
    rebuilt = reorgs.loc[reorgs["relation"] != "same_footprint"]
    rebuilt_from: dict[str, list[str]] = {}
    merged_from: dict[str, list[str]] = {}  # a new area that is the whole union of old upper-tier areas
    for old, old_name, new, relation in rebuilt[["old_code", "old_name", "new_code", "relation"]].itertuples(index=False):
        rebuilt_from.setdefault(new, []).append(old_name)
        if relation == "merged":
            merged_from.setdefault(new, []).append(old)
    # The districts of a rebuilt area are those that existed the day before it was created
    # (whatever their code prefix: BCP was built from two unitaries and a district).
    created = {}
    for new_code, effective in rebuilt[["new_code", "effective"]].itertuples(index=False):
        day_before = pd.Timestamp(effective) - pd.Timedelta(days=1)
        created[new_code] = min(created.get(new_code, day_before), day_before)
    districts: dict[str, list[str]] = {}
    for ltla, utla, valid_from, valid_to in ltla_utla[
            ["ltla_code", "utla_code", "valid_from", "valid_to"]].itertuples(index=False):
        if ltla == utla or utla not in created:
            continue
        day = created[utla]
        if (pd.isna(valid_from) or pd.Timestamp(valid_from) <= day) and \
                (pd.isna(valid_to) or pd.Timestamp(valid_to) >= day):
            districts.setdefault(utla, []).append(ltla)

    added = []
    key_cols = ["indicator_id", "period_label"]
    for (indicator_id, period_label), group in rows.groupby(key_cols, sort=False):
        ind = by_id[indicator_id]
        present = group.set_index("area_code")
        template = group.iloc[0]
        files = sorted({(str(sid), str(f)) for sid, f in zip(group["source_id"], group["source_file"]) if sid})
        for code in current_codes:
            if code in present.index:
                continue
            new = {c: template[c] for c in ("indicator_id", "period_label", "period_start", "period_end",
                                             "source_id", "source_file", "edition")}
            new.update(source_id=None, source_file=None, edition=None)
            new.update(area_code=code, area_name=names[code], value=None, lower_ci_95=None,
                       upper_ci_95=None, lower_ci_998=None, upper_ci_998=None, numerator=None,
                       denominator=None, is_suppressed=False, publisher_comparison="",
                       harmonisation="")
            olds = [(o, n) for o, n in carry_from.get(code, []) if o in present.index]
            if olds:
                old, old_name = olds[0]
                src = present.loc[old]
                for c in ("value", "lower_ci_95", "upper_ci_95", "lower_ci_998", "upper_ci_998",
                          "numerator", "denominator", "is_suppressed", "source_id", "source_file",
                          "edition", "publisher_comparison"):
                    new[c] = src[c]
                new["value_note"] = _note(
                    f"Published for {old_name} ({old}), which covered the same area as {names[code]}.",
                    src["value_note"])
                new["harmonisation"] = f"carried from {old}"
                added.append(new)
                continue
            parts = districts.get(code, [])
            whole_areas = merged_from.get(code, [])
            if code in rebuilt_from and ind.reaggregate == "counts" and (parts or whole_areas):
                olds_text = " and ".join(sorted(set(rebuilt_from[code])))
                members, kind = next(((m, k) for m, k in ((parts, "districts"), (whole_areas, "areas"))
                                      if _all_counted(present, m)), ([], ""))
                if members:
                    new["numerator"] = float(present.loc[members, "numerator"].sum())
                    dens = present.loc[members, "denominator"]
                    if dens.notna().all() and ind.rule.poolable:
                        new["denominator"] = float(dens.sum())
                    new["value_note"] = _note(
                        f"{names[code]} did not exist in this period; the count is the sum of its "
                        f"{len(members)} former {kind}.",
                        "" if new["denominator"] is not None else
                        f"The publisher's rate covers only the old areas ({olds_text}) and cannot be re-derived for the new boundaries.")
                    new["source_id"] = present.loc[members[0], "source_id"]
                    new["source_file"] = present.loc[members[0], "source_file"]
                    new["edition"] = present.loc[members[0], "edition"]
                    new["harmonisation"] = f"re-aggregated from {kind}: " + ",".join(sorted(members))
                else:
                    new["value_note"] = (f"{names[code]} did not exist in this period and the counts "
                                         f"of its former districts are not all published; the figures "
                                         f"for the old areas ({olds_text}) cannot be split.")
                    new["harmonisation"] = "not derivable"
                added.append(new)
                continue
            pointer = combined.pointer_note(combined_pairs or [], code, present, names)
            if pointer:
                new["value_note"] = pointer
                new["harmonisation"] = "combined with another area"
            elif code in rebuilt_from:
                olds_text = " and ".join(sorted(set(rebuilt_from[code])))
                new["value_note"] = (f"{names[code]} did not exist in this period; the publisher's "
                                     f"figures for the old areas ({olds_text}) cannot be re-derived "
                                     "for the new boundaries.")
                new["harmonisation"] = "not derivable"
            else:
                new["value_note"] = text.placeholder_note(files)
                new["harmonisation"] = "no data"
            added.append(new)
    out = rows.copy()
    out["harmonisation"] = ""
    if added:
        out = pd.concat([out, pd.DataFrame(added)], ignore_index=True)
    return out


def _all_counted(present: pd.DataFrame, codes: list[str]) -> bool:
    """Whether every one of `codes` has a row with a count (so their sum is the whole of the new area's)."""
    return bool(codes) and all(c in present.index for c in codes) and bool(present.loc[codes, "numerator"].notna().all())


# --------------------------------------------------------------------------- publish helpers

def _publish_postcodes(con: duckdb.DuckDBPyConnection, postcodes: pd.DataFrame | None, report: BuildReport) -> None:
    """published.postcodes (postcode, ltla_code, area_code, terminated) when a postcode lookup was supplied: each
    postcode's district carried to its current upper-tier area through staged.ltla_current_utla."""
    if postcodes is None:
        return
    con.register("_postcodes", postcodes)
    try:
        con.execute("""
            CREATE TABLE published.postcodes AS
            SELECT p.postcode, p.ltla_code, l.utla_code AS area_code, p.terminated
            FROM _postcodes p JOIN staged.ltla_current_utla l USING (ltla_code)
            ORDER BY p.postcode
        """)
        unknown, example = con.execute("""
            SELECT count(*), min(ltla_code) FROM _postcodes
            WHERE ltla_code NOT IN (SELECT ltla_code FROM staged.ltla_current_utla)""").fetchall()[0]
    finally:
        con.unregister("_postcodes")
    if unknown:
        report.warn("unmatched code", f"postcodes: {unknown:,} postcode(s) name a district code the lookups do not know "
                    f"(e.g. {example}); the area search does not find them", "postcodes")


def _write(con: duckdb.DuckDBPyConnection, qualified: str, frame: pd.DataFrame) -> None:
    con.register("_frame", frame)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {qualified} AS SELECT * FROM _frame")
    finally:
        con.unregister("_frame")


def catalogue_frame(catalogue: list[Indicator]) -> pd.DataFrame:
    return pd.DataFrame([{
        "indicator_id": i.id, "family": i.family, "title": i.title, "short_title": i.short_title,
        "definition": i.definition, "caveats": "\n".join(i.caveats), "unit": i.unit,
        "value_type": i.value_type, "multiplier": i.multiplier, "polarity": i.polarity,
        "ci_method": i.ci_method, "period_type": i.period_type, "suppression": i.suppression,
        "publisher": i.publisher, "publisher_id": i.publisher_id,
        "source_ids": ",".join(i.source_ids), "reaggregate": i.reaggregate,
        "publication_status": i.publication_status, "status_note": i.status_note,
        "availability": json.dumps(list(i.availability), sort_keys=True),
    } for i in catalogue])


def families_frame() -> pd.DataFrame:
    """published.families: data/families.toml as rows, in display order."""
    return pd.DataFrame([{
        "family": f.id, "title": f.title, "noun": f.noun, "sort_order": f.order, "side_by_side": f.side_by_side,
        "not_published_title": f.not_published_title, "not_published_note": f.not_published_note,
        "scorecard": ",".join(f.scorecard),
    } for f in load_families().values()])


def methods_frame() -> pd.DataFrame:
    """published.methods: the rules of each ci_method (data/methods.toml) as rows."""
    return pd.DataFrame([{
        "ci_method": m.ci_method, "limits": m.limits, "poolable": m.poolable, "bounded": m.bounded,
        "trend": m.trend, "funnel": m.funnel, "rank_scale": m.rank_scale, "name": m.name,
        "description": m.description, "reference": m.reference,
    } for m in load_methods().values()])


SOURCE_COLUMNS = ["source_id", "title", "publisher", "file", "url", "landing_page", "licence", "licence_url",
                  "attribution", "retrieved", "sha256", "size_bytes", "fetch_status", "fetch_attempted_at",
                  "fetch_error"]


def sources_frame(raw_dir: Path, sources: list[Source], used: dict[str, list[str]],
                  report: BuildReport | None = None, fetch_status: dict[str, dict] | None = None) -> pd.DataFrame:
    """Rows for published.sources, one per file read, with the source's last fetch attempt. A file carrying the
    synthetic-data marker is described as synthetic test data (title, publisher, licence), whatever its folder,
    and listed in `report`."""
    fetch_status = fetch_status or {}
    rows = []
    for s in sources:
        manifest = read_manifest(raw_dir / s.id).get("files", {})
        declared = {d.name: d.url for d in s.files}
        last = fetch_status.get(s.id, {})
        for name in used.get(s.id, []):
            path = raw_dir / s.id / name
            entry = manifest.get(name, {})
            sha256, is_synthetic = synthetic.scan(path)
            row = {
                "source_id": s.id, "title": s.title, "publisher": s.publisher, "file": name,
                "url": entry.get("url") or declared.get(name) or s.landing_page,
                "landing_page": s.landing_page, "licence": s.licence, "licence_url": s.licence_url,
                "attribution": s.attribution,
                "retrieved": entry.get("retrieved_at", ""),
                "sha256": sha256, "size_bytes": path.stat().st_size,
                "fetch_status": str(last.get("status", "")), "fetch_attempted_at": str(last.get("attempted_at", "")),
                "fetch_error": str(last.get("error", "")) if last.get("status") == "failed" else "",
            }
            if is_synthetic:
                row.update(title=f"{synthetic.MARKER}, in the format of: {s.title}",
                           publisher=synthetic.PUBLISHER, url="", landing_page="",
                           licence="not applicable (made up for tests)", licence_url="",
                           attribution=synthetic.NOTICE)
                if report is not None:
                    report.synthetic_files.append(f"{s.id}/{name}")
            rows.append(row)
    return pd.DataFrame(rows, columns=SOURCE_COLUMNS)


FETCH_STATUS_COLUMNS = ["source_id", "title", "publisher", "status", "attempted_at", "file", "url", "answer",
                        "error", "files_in_build", "retrieved", "indicators_without_figures",
                        "indicators_from_other_sources", "provides", "retry"]


def fetch_status_frame(sources: list[Source], fetch_status: dict[str, dict], used: dict[str, list[str]],
                       retrieved: dict[str, str], catalogue: list[Indicator], with_figures: set[str]) -> pd.DataFrame:
    """published.fetch_status: each declared source's last fetch attempt and, for a failed one, what this
    build lacks because of it (indicators with no figure at all, indicators shown from other sources only,
    and what else the source provides)."""
    rows = []
    for s in sources:
        last = fetch_status.get(s.id, {})
        status = str(last.get("status", ""))
        naming = [i.id for i in catalogue if s.id in i.source_ids]
        failed_without_files = status == "failed" and not used.get(s.id)
        rows.append({
            "source_id": s.id, "title": s.title, "publisher": s.publisher, "status": status,
            "attempted_at": str(last.get("attempted_at", "")), "file": str(last.get("file", "")),
            "url": str(last.get("url", "")), "answer": str(last.get("answer", "")),
            "error": str(last.get("error", "")) if status == "failed" else "",
            "files_in_build": len(used.get(s.id, [])), "retrieved": retrieved.get(s.id, ""),
            "indicators_without_figures": ",".join(i for i in naming if i not in with_figures)
            if failed_without_files else "",
            "indicators_from_other_sources": ",".join(i for i in naming if i in with_figures)
            if failed_without_files else "",
            "provides": s.provides.strip() if failed_without_files else "",
            "retry": retry_command([s.id]) if status == "failed" else "",
        })
    return pd.DataFrame(rows, columns=FETCH_STATUS_COLUMNS)


def make_build_id(sources: pd.DataFrame, catalogue: list[Indicator], built_at: datetime,
                  is_synthetic: bool = False) -> str:
    """'<yyyymmdd>-<hash of the files and the catalogue>', prefixed 'synthetic-' when any file was synthetic
    (the id is on every row of every CSV download, so the mark travels with the figures)."""
    digest = hashlib.sha256()
    for sha in sorted(sources["sha256"]):
        digest.update(sha.encode())
    for ind in catalogue:
        digest.update(ind.id.encode() + ind.sql.encode() + "\n".join(ind.series).encode())
    prefix = synthetic.BUILD_ID_PREFIX if is_synthetic else ""
    return f"{prefix}{built_at:%Y%m%d}-{digest.hexdigest()[:10]}"


# --------------------------------------------------------------------------- the build

def build(raw_dir: Path, db_path: Path, *, sources: list[Source] | None = None,
          catalogue: list[Indicator] | None = None, progress: bool = False) -> BuildReport:
    """Build a new warehouse at `db_path` from `raw_dir`; atomic: all or nothing."""
    started = time.perf_counter()
    sources = sources if sources is not None else all_sources()
    catalogue = catalogue if catalogue is not None else load_catalogue()
    report = BuildReport(db_path=db_path)
    if not raw_dir.is_dir():
        raise BuildError(f"raw folder {raw_dir} does not exist: run `indicators fetch` first "
                         "(or `indicators fetch --mirror DIR` offline)")
    with writing(db_path.parent):
        db_path.parent.mkdir(parents=True, exist_ok=True)
    report.warnings.extend(remove_stale_temporaries(db_path))
    tmp_path = db_path.with_name(f".{db_path.name}.{os.getpid()}.tmp")
    wal = Path(f"{tmp_path}.wal")
    discard(tmp_path, wal)
    try:
        with writing(db_path, tmp_path, wal, db_path.parent, consequence="the previous warehouse is unchanged"):
            _build_into(tmp_path, raw_dir, sources, catalogue, report, progress)
            os.replace(tmp_path, db_path)
    except BaseException as exc:
        left = discard(tmp_path, wal)
        if left:
            exc.add_note(f"could not remove the unfinished warehouse {', '.join(left)}; delete it by hand")
        raise
    discard(wal)
    report.seconds = time.perf_counter() - started
    return report


def remove_stale_temporaries(db_path: Path) -> list[str]:
    """Remove what builds of `db_path` killed before they finished left beside it; returns a warning per file kept.

    A build writes `.<name>.<pid>.tmp` (with DuckDB's `.wal` and `.tmp` spill folder beside it) and swaps it
    in at the end; a build killed with SIGKILL leaves them behind. They are removed only when their build is
    certainly gone: no process has that pid, and no process holds the file's lock (DuckDB locks an open
    database file), so a build running in another process, or another container sharing the folder, keeps
    its files."""
    pattern = re.compile(rf"^\.{re.escape(db_path.name)}\.(\d+)\.tmp(\.wal|\.tmp)?$")
    kept = []
    try:
        names = sorted(p.name for p in db_path.parent.iterdir())
    except OSError:
        return kept
    for name in names:
        match = pattern.match(name)
        if not match or int(match.group(1)) == os.getpid():
            continue
        path = db_path.parent / name
        database = db_path.parent / name.removesuffix(match.group(2) or "")
        if _process_alive(int(match.group(1))) or _locked(database):
            continue
        try:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        except OSError as exc:
            kept.append(f"could not remove {path}, left by a build that did not finish ({exc.strerror})")
    return kept


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, run by another user
        return True
    return True


def _locked(path: Path) -> bool:
    """Whether another process holds a lock on `path` (DuckDB's lock on a database it has open)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot tell: keep it
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _stages(progress: bool):
    """A function that says, when `progress` is on, which stage of the build starts and how long it has run."""
    started = time.perf_counter()

    def say(what: str) -> None:
        if progress:
            print(f"build: {what} ({time.perf_counter() - started:.1f} s)", file=sys.stderr, flush=True)

    return say


def _build_into(path: Path, raw_dir: Path, sources: list[Source], catalogue: list[Indicator],
                report: BuildReport, progress: bool) -> None:
    stage = _stages(progress)
    stage("reading the official files")
    staged = stage_sources(raw_dir, sources, report, progress)
    for needed in ("boundaries", "ltla_utla", "code_changes", "ltla14"):
        if needed not in staged:
            raise BuildError(f"no {needed} table: the boundaries and lookups sources are required "
                             f"(missing from {raw_dir}: {', '.join(report.sources_missing) or 'nothing'})")
    stage("geography: current and former areas, reorganisations, place names, boundaries, neighbours")
    geo = geography.build_geography(staged["boundaries"], staged["ltla_utla"],
                                    staged["code_changes"], staged["ltla14"])
    areas = geo.areas
    observations = staged.get("observations", conform_observations(pd.DataFrame(columns=list(OBSERVATION_COLUMNS))))
    combined_pairs = combined.load_combined()
    strict = frozenset(s.id for s in sources if getattr(s.module(), "NAMES_MUST_MATCH", False))
    observations = resolve_area_codes(observations, areas, report, combined_pairs, strict)

    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE SCHEMA staged; CREATE SCHEMA published;")
        register_macros(con)
        _write(con, "staged.observations", observations)
        for name, frame in staged.items():
            if name in ("observations", "boundaries", "postcodes"):
                continue
            _write(con, f"staged.{name}", frame)
        _write(con, "staged.reorganisations", geo.reorganisations)
        _write(con, "staged.ltla_current_utla", geo.ltla_current_utla)

        stage("indicators: each one's rows, carried to today's areas")
        rows = indicator_rows(con, catalogue)
        _check_duplicates(rows)
        names = dict(zip(areas["area_code"], areas["area_name"]))
        rows = combined.merge_duplicated_pairs(
            rows, combined_pairs, names, lambda source_id, message: report.warn("combined area", message, source_id))
        rows = harmonise(rows, catalogue, areas, geo.reorganisations, geo.ltla_current_utla, combined_pairs)
        published_codes = set(areas.loc[areas["area_type"].isin(PUBLISHED_AREA_TYPES), "area_code"])
        if not rows.empty:
            rows = rows.loc[rows["area_code"].isin(published_codes)].copy()
            rows["area_name"] = rows["area_code"].map(dict(zip(areas["area_code"], areas["area_name"])))
        _write(con, "staged.indicator_rows", _for_stats(rows, catalogue))
        stage("intervals: each figure's 95% and 99.8% limits and comparison with England")
        apply_statistics(con, "staged.indicator_rows", "staged.indicator_values")

        stage("peer groups")
        _publish_peers(con, catalogue, areas, staged.get("population"), geo.ltla_current_utla)
        _write(con, "published.deprivation_deciles", _deprivation_deciles(staged.get("deprivation_deciles"), catalogue))
        _write(con, "published.areas", areas)
        _write(con, "published.place_names", geo.places)
        _publish_postcodes(con, staged.get("postcodes"), report)
        shapes = geo.boundaries.rename(columns={"geometry_geojson": "geometry"})
        _write(con, "published.boundaries",
               shapes.loc[shapes["layer"] == "utla", ["area_code", "area_name", "geometry"]])
        _write(con, "published.region_boundaries",
               shapes.loc[shapes["layer"] != "utla", ["area_code", "area_name", "geometry"]])
        _write(con, "published.later_code_changes", geo.later_changes)
        _write(con, "published.neighbours", geo.neighbours)
        _write(con, "published.peer_geographic", peers.geographic_peers(
            shapes.loc[shapes["layer"] == "utla", ["area_code", "geometry"]], geo.neighbours))
        if "peer_cipfa" in staged:
            con.execute("CREATE TABLE published.peer_cipfa AS SELECT * FROM staged.peer_cipfa")
        _publish_networks(con, staged)
        _write(con, "published.indicators", catalogue_frame(catalogue))
        publish_network_figures(con)
        _write(con, "published.families", families_frame())
        _write(con, "published.methods", methods_frame())
        fetch_status = _fetch_status(raw_dir, report)
        sources_df = sources_frame(raw_dir, sources, report.sources_used, report, fetch_status)
        _write(con, "published.sources", sources_df)
        # A row with no figure (no value, no count, nothing withheld) names no source: its note says why it is empty.
        # value_status names each row's state (schema.VALUE_STATUSES).
        derived = {"source_id": "CASE WHEN value IS NULL AND numerator IS NULL AND NOT is_suppressed THEN NULL "
                                "ELSE source_id END AS source_id",
                   "value_status": f"{value_status_sql()} AS value_status"}
        columns = ", ".join(derived.get(c, c) for c in INDICATOR_VALUE_COLUMNS)
        con.execute(f"""
            CREATE TABLE published.indicator_values AS
            SELECT {columns} FROM staged.indicator_values
            ORDER BY indicator_id, area_code, period_start, period_label
        """)
        con.execute("""
            CREATE TABLE published.value_provenance AS
            SELECT indicator_id, area_code, period_label, source_id, source_file, edition,
                   publisher_comparison, harmonisation,
                   pub_lower_ci_95, pub_upper_ci_95, pub_lower_ci_998, pub_upper_ci_998
            FROM staged.indicator_values
            ORDER BY indicator_id, area_code, period_label
        """)
        with_figures = {r[0] for r in con.execute("""SELECT DISTINCT indicator_id FROM published.indicator_values
                                                      WHERE value IS NOT NULL OR numerator IS NOT NULL""").fetchall()}
        newest = sources_df.groupby("source_id")["retrieved"].max().to_dict() if not sources_df.empty else {}
        _write(con, "published.fetch_status", fetch_status_frame(sources, fetch_status, report.sources_used,
                                                                 newest, catalogue, with_figures))
        stage("statistics: comparisons, peer groups, ranks, funnels, gaps and trends")
        publish_statistics(con)
        publish_scorecard(con)
        built_at = datetime.now(timezone.utc).replace(microsecond=0)
        is_synthetic = bool(report.synthetic_files)
        if is_synthetic:
            report.warn("synthetic", f"{len(report.synthetic_files)} file(s) carry the synthetic test data marker "
                        f"({', '.join(report.synthetic_files[:3])}"
                        f"{', ...' if len(report.synthetic_files) > 3 else ''}): every page and "
                        "download of this warehouse says it is not real figures")
        report.build_id = make_build_id(sources_df, catalogue, built_at, is_synthetic)
        _write(con, "published.build_info", pd.DataFrame([{
            "build_id": report.build_id, "built_at": built_at.isoformat(),
            "build_date": built_at.date().isoformat(),
            "raw_dir": str(raw_dir), "warnings": json.dumps(report.warnings),
            "synthetic": is_synthetic, "synthetic_files": json.dumps(report.synthetic_files),
        }]))
        for table in ("indicator_values", "areas", "indicators", "sources", "boundaries"):
            report.row_counts[table] = con.execute(f"SELECT count(*) FROM published.{table}").fetchall()[0][0]
        stage("checks")
        result = run_checks(con)
        for message in result.warnings:
            report.warn("check", message)
        _write(con, "published.build_warnings", pd.DataFrame(
            report.warning_rows, columns=["kind", "source_id", "message"]).astype(str))
        if result.failures:
            raise BuildError("the new warehouse failed its checks, so the previous one was kept:\n  - "
                             + "\n  - ".join(result.failures[:20])
                             + (f"\n  ... and {len(result.failures) - 20} more" if len(result.failures) > 20 else ""))
        con.execute("CHECKPOINT")
    except BaseException:
        with contextlib.suppress(Exception):  # closing a failed database must not hide why it failed
            con.close()
        raise
    con.close()


def _publish_peers(con: duckdb.DuckDBPyConnection, catalogue: list[Indicator], areas: pd.DataFrame,
                   population: pd.DataFrame | None, ltla_current_utla: pd.DataFrame) -> None:
    """published.peer_variables and published.peer_similar (most similar areas per indicator family, with reasons)."""
    values = con.execute("""SELECT indicator_id, area_code, period_label, period_end, value, numerator,
                                   denominator FROM staged.indicator_values""").df()
    profile = peers.similarity_profile(areas, values, population, ltla_current_utla)
    _write(con, "published.peer_variables", profile)
    _write(con, "published.peer_similar", peers.similar_sets(profile, {i.id: i.family for i in catalogue}))


def _fetch_status(raw_dir: Path, report: BuildReport) -> dict[str, dict]:
    """The raw cache's record of the last fetch per source; a damaged record is a warning, not a failed build."""
    try:
        return read_fetch_status(raw_dir)
    except InputError as exc:
        report.warnings.append(f"{exc}; this build cannot say which sources failed to fetch")
        return {}


NETWORK_SOURCE = "ukhsa_hcv_odn"  # figures published only per HCV operational delivery network, never per area


def _publish_networks(con: duckdb.DuckDBPyConnection, staged: dict[str, pd.DataFrame]) -> None:
    """published.hcv_odn_values (HCV figures per operational delivery network) and published.hcv_odn_areas (which
    network covers each area), when the UKHSA ODN source is in the raw folder."""
    if "hcv_odn_values" in staged and "la_odn" in staged:
        con.execute("CREATE TABLE published.hcv_odn_values AS SELECT * FROM staged.hcv_odn_values "
                    "ORDER BY odn_code, period_end, period_label")
        con.execute("CREATE TABLE published.hcv_odn_areas AS SELECT * FROM staged.la_odn ORDER BY area_code")


def publish_network_figures(con: duckdb.DuckDBPyConnection) -> None:
    """published.network_figures, from published.hcv_odn_values, hcv_odn_areas, areas and indicators (nothing when
    the build has no network tables): one row per current area in a network and per network-only indicator (its
    sources include NETWORK_SOURCE), holding the network's latest figure (the latest period with a value or a
    withheld row). The same whole figure for every member area: never apportioned to them, never compared."""
    if not (table_exists(con, "published", "hcv_odn_values") and table_exists(con, "published", "hcv_odn_areas")):
        return
    con.execute("""
        CREATE TABLE published.network_figures AS
        WITH members AS (
            SELECT m.odn_code, CAST(count(*) AS BIGINT) AS n_member_areas,
                   string_agg(coalesce(a.area_name, m.area_name), ', ' ORDER BY coalesce(a.area_name, m.area_name))
                       AS member_area_names
            FROM published.hcv_odn_areas m LEFT JOIN published.areas a USING (area_code) GROUP BY m.odn_code),
        latest AS (
            SELECT odn_code, arg_max(period_label, period_end) AS period_label FROM published.hcv_odn_values
            WHERE value IS NOT NULL OR is_suppressed GROUP BY odn_code)
        SELECT l.area_code, i.indicator_id, v.odn_code, v.odn_name, mb.n_member_areas, mb.member_area_names,
               v.period_label, v.period_end, v.value, coalesce(v.is_suppressed, false) AS is_suppressed, v.value_note
        FROM published.hcv_odn_areas l
        JOIN latest USING (odn_code)
        JOIN published.hcv_odn_values v ON v.odn_code = latest.odn_code AND v.period_label = latest.period_label
        JOIN members mb ON mb.odn_code = l.odn_code
        JOIN published.areas a ON a.area_code = l.area_code AND a.valid_to IS NULL
        CROSS JOIN (SELECT indicator_id FROM published.indicators
                    WHERE list_contains(string_split(source_ids, ','), ?)) i
        ORDER BY l.area_code, i.indicator_id""", [NETWORK_SOURCE])


DEPRIVATION_COLUMNS = ["indicator_id", "period_label", "period_start", "period_end", "decile", "decile_label", "value",
                       "numerator", "denominator", "value_note", "source_id", "source_file"]


def _deprivation_deciles(staged: pd.DataFrame | None, catalogue: list[Indicator]) -> pd.DataFrame:
    """published.deprivation_deciles: England by deprivation decile for the indicators that name a
    `deprivation_series` in their catalogue entry, as the publisher gives them (decile numbers and labels
    as published: read the label for which end is most deprived)."""
    wanted = {i.deprivation_series: i.id for i in catalogue if i.deprivation_series}
    if staged is None or staged.empty or not wanted:
        frame = pd.DataFrame(columns=DEPRIVATION_COLUMNS)
    else:
        frame = staged.loc[staged["series"].isin(wanted)].copy()
        frame.insert(0, "indicator_id", frame.pop("series").map(wanted))
        frame = frame[DEPRIVATION_COLUMNS].sort_values(["indicator_id", "period_label", "decile"], ignore_index=True)
    for column in ("period_start", "period_end"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    for column in ("value", "numerator", "denominator"):
        frame[column] = pd.to_numeric(frame[column]).astype("float64")
    frame["decile"] = pd.to_numeric(frame["decile"]).astype("int64")
    return frame


def _check_duplicates(rows: pd.DataFrame) -> None:
    if rows.empty:
        return
    key = ["indicator_id", "area_code", "period_label"]
    dup = rows.loc[rows.duplicated(key, keep=False)]
    if not dup.empty:
        first = dup.sort_values(key).head(2)
        files = " and ".join(sorted(set(first["source_file"])))
        ind, code, period = first.iloc[0][key]
        raise InputError(files, f"two rows for {ind}, area {code}, period {period}",
                         expected="one row per indicator, area and period (persons, all ages)")


def _for_stats(rows: pd.DataFrame, catalogue: list[Indicator]) -> pd.DataFrame:
    """Rows plus the catalogue columns the statistics pass needs; publisher limits kept for cross-checks.

    The pass's `ci_method` column carries the method's `limits` rule (wilson, byars_rate, byars_count, published,
    none: data/methods.toml), which is all it needs to know about the method."""
    cat = pd.DataFrame([{"indicator_id": i.id, "ci_method": i.rule.limits, "multiplier": i.multiplier,
                         "polarity": i.polarity} for i in catalogue],
                       columns=["indicator_id", "ci_method", "multiplier", "polarity"])
    columns = ["indicator_id", "area_code", "area_name", "period_label", "period_start", "period_end",
               "value", "lower_ci_95", "upper_ci_95", "lower_ci_998", "upper_ci_998", "numerator",
               "denominator", "is_suppressed", "value_note", "source_id", "source_file", "edition",
               "publisher_comparison", "harmonisation"]
    if rows.empty:
        rows = pd.DataFrame(columns=columns)
    rows = rows[columns].copy()
    for c in ("value", "lower_ci_95", "upper_ci_95", "lower_ci_998", "upper_ci_998", "numerator", "denominator"):
        rows[c] = pd.to_numeric(rows[c], errors="coerce").astype("float64")
    for c in ("period_start", "period_end"):
        rows[c] = pd.to_datetime(rows[c]).dt.date
    rows["is_suppressed"] = rows["is_suppressed"].fillna(False).astype(bool)
    for c in ("value_note", "publisher_comparison", "harmonisation", "area_name"):
        rows[c] = rows[c].fillna("").astype(str)
    for c in ("source_id", "source_file", "edition"):  # NULL on a row no source file gave (see harmonise)
        rows[c] = rows[c].astype(object).where(rows[c].notna() & rows[c].astype(str).ne(""), None)
    for level in ("lower_ci_95", "upper_ci_95", "lower_ci_998", "upper_ci_998"):
        rows[f"pub_{level}"] = rows[level]
    return rows.merge(cat, on="indicator_id", how="left")
