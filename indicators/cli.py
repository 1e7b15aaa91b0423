"""The one command-line entry point, `indicators`: fetch, build, check, list, serve (and export, template, import, foi-pack,
publish).

Errors the user can act on are printed as one clear message (exit 2), never as a traceback;
set INDICATORS_DEBUG=1 to see the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from indicators import config
from indicators.errors import IndicatorsError, write_condition


def _add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", type=Path, default=None,
                   help="warehouse file (default data/warehouse.duckdb, or INDICATORS_DB)")


def _add_raw(p: argparse.ArgumentParser) -> None:
    p.add_argument("--raw", type=Path, default=None,
                   help="raw cache folder laid out as <source_id>/<file> (default data/raw, or INDICATORS_RAW)")


def _add_mirror(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mirror", type=Path, default=None,
                   help="take the official files from this local folder (same <source_id>/<file> layout) "
                        "instead of the network; default INDICATORS_MIRROR")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="indicators", description=(
        "England's drug-treatment postcode lottery: fetch the official data, build the warehouse, "
        "check it, and serve the dashboard."))
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("fetch", help="download every declared source into the raw cache")
    _add_mirror(p)
    _add_raw(p)
    p.add_argument("--source", action="append", help="only this source id (repeatable)")
    p.add_argument("--older-than", type=_duration, default=None, metavar="DURATION",
                   help="only sources not fetched or confirmed unchanged within DURATION (30m, 12h, 7d, 2w)")
    p.add_argument("--strict", action="store_true",
                   help="exit non-zero when any source fails (default: only when nothing usable arrived)")

    p = sub.add_parser("build", help="build the DuckDB warehouse from the raw cache (atomic)")
    _add_raw(p)
    _add_db(p)

    p = sub.add_parser("check", help="run the contract checks on a warehouse")
    _add_db(p)

    p = sub.add_parser("list", help="list indicators, periods, area counts and sources")
    _add_db(p)

    p = sub.add_parser("serve", help="start the dashboard (fetching and building first if needed)")
    _add_db(p)
    _add_mirror(p)
    _add_raw(p)
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--rebuild", action="store_true", help="rebuild the warehouse even if it exists")

    for name, module in (("export", "indicators.products.downloads"), ("template", "indicators.products.local_data"),
                         ("import", "indicators.products.local_data"), ("foi-pack", "indicators.products.foi"),
                         ("publish", "indicators.products.publish")):
        try:
            mod = __import__(module, fromlist=["add_cli"])
        except ImportError:
            continue
        mod.add_cli(sub, name)
    return top


def _duration(text: str):
    from indicators.pipeline.fetch import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _db(args: argparse.Namespace) -> Path:
    return args.db or config.default_db_path()


def _raw(args: argparse.Namespace) -> Path:
    return args.raw or config.default_raw_dir()


def _mirror(args: argparse.Namespace) -> Path | None:
    return args.mirror or config.default_mirror()


def cmd_fetch(args: argparse.Namespace) -> int:
    from indicators.pipeline.fetch import fetch_all, format_report
    from indicators.pipeline.sources import all_sources

    sources = all_sources()
    if args.source:
        unknown = set(args.source) - {s.id for s in sources}
        if unknown:
            raise IndicatorsError(f"unknown source id(s): {', '.join(sorted(unknown))}; "
                                  f"declared: {', '.join(s.id for s in sources)}")
        sources = [s for s in sources if s.id in args.source]
    report = fetch_all(_raw(args), mirror=_mirror(args), sources=sources, older_than=args.older_than)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(format_report(report))
    if report.nothing_usable:
        print(f"error: nothing usable arrived: {report.summary()}", file=sys.stderr)
        return 2
    if args.strict and report.failed:
        print(f"error: --strict and {len(report.failed)} source(s) failed: {report.summary()}", file=sys.stderr)
        return 2
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from indicators.pipeline.build import build

    report = build(_raw(args), _db(args), progress=True)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if report.sources_missing:
        print(f"no files for: {', '.join(report.sources_missing)} (their indicators are empty)")
    counts = ", ".join(f"{k} {v}" for k, v in report.row_counts.items())
    print(f"built {report.db_path} ({report.build_id}) in {report.seconds:.1f} s: {counts}")
    print_coverage(report.db_path)
    return 0


def print_coverage(db: Path, con=None) -> None:
    """One line per indicator: areas with a value in its latest period, of the current areas (loud when few)."""
    from indicators.present.text import coverage_line
    from indicators.products.queries import connect, coverage

    own = con is None
    con = connect(db) if own else con
    try:
        print("coverage (areas with a value in the latest period / current areas):")
        for row in coverage(con).to_dict("records"):
            print(f"  {coverage_line(row)}")
    finally:
        if own:
            con.close()


def cmd_check(args: argparse.Namespace) -> int:
    from indicators.pipeline.checks import run_checks
    from indicators.products.queries import connect

    con = connect(_db(args))
    result = run_checks(con)
    for name in result.passed:
        print(f"ok    {name}")
    for message in result.warnings:
        print(f"warn  {message}")
    for message in result.failures:
        print(f"FAIL  {message}")
    print_coverage(_db(args), con)
    return 1 if result.failures else 0


def cmd_list(args: argparse.Namespace) -> int:
    from indicators.products.queries import connect, indicator_summary, source_summary

    con = connect(_db(args))
    summary = indicator_summary(con)
    if summary.empty:
        print("no indicators in this warehouse")
    for row in summary.itertuples(index=False):
        periods = f"{row.first_period} to {row.latest_period}" if row.n_periods else "no data"
        print(f"{row.indicator_id:28} {row.n_periods:3d} period(s) {periods:22} "
              f"{row.n_areas_with_value:4d} areas with a value in the latest period")
    print()
    for row in source_summary(con).itertuples(index=False):
        print(f"{row.source_id:18} {row.file:60} {row.licence:32} retrieved {row.retrieved or 'unknown'}")
    return 0


def ensure_warehouse(db: Path, raw: Path, mirror: Path | None, rebuild: bool = False) -> None:
    """Fetch (if the raw cache is empty) and build (if there is no warehouse) before serving.

    A source that cannot be fetched does not stop the dashboard: the build uses what arrived and every
    page names what is missing. Only when nothing usable arrived, or the build cannot be made from what
    did (the boundaries and lookups are required), does serving stop, with one line saying why."""
    from indicators.errors import BuildError, FetchError
    from indicators.pipeline.build import build
    from indicators.pipeline.fetch import fetch_all, format_report, retry_command

    if db.exists() and not rebuild:
        return
    has_raw = raw.is_dir() and any(p.is_dir() and any(p.iterdir()) for p in raw.iterdir())
    failed: dict[str, str] = {}
    if mirror is not None or not has_raw:
        print(f"fetching the official data into {raw} " + (f"from {mirror}" if mirror else "from the publishers"))
        report = fetch_all(raw, mirror=mirror)
        for warning in report.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(format_report(report))
        if report.nothing_usable:
            raise FetchError(f"nothing usable arrived, so there is nothing to serve: {report.summary()}")
        failed = report.failed
    print(f"building {db}")
    try:
        result = build(raw, db, progress=True)
    except BuildError as exc:
        if not failed:
            raise
        raise BuildError(f"{exc} (could not be fetched: {', '.join(failed)}; retry with "
                         f"`{retry_command(list(failed))}`)") from None
    print(f"built {result.build_id} in {result.seconds:.1f} s")
    if failed:
        print(f"served without {', '.join(failed)}: every page says what is missing; retry with "
              f"`{retry_command(list(failed))}`, then `uv run indicators build`")


def cmd_serve(args: argparse.Namespace) -> int:
    db = _db(args)
    ensure_warehouse(db, _raw(args), _mirror(args), args.rebuild)
    print_coverage(db)
    env = dict(os.environ, INDICATORS_DB=str(db.resolve()))
    command = [sys.executable, "-m", "streamlit", "run", str(config.REPO_ROOT / "dashboard.py"),
               "--server.headless", "true", "--server.address", "127.0.0.1",
               "--server.port", str(args.port), "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none", "--client.showErrorDetails", "none",
               "--runner.postScriptGC", "false"]
    print(f"serving the dashboard at http://127.0.0.1:{args.port}/ (Ctrl+C to stop)")
    # From the repository, so that .streamlit/config.toml (theme, toolbar) applies wherever serve is started.
    return run_forwarding_signals(command, env=env, cwd=config.REPO_ROOT)


FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
STOP_GRACE_SECONDS = 8.0


def run_forwarding_signals(command: list[str], env: dict[str, str], cwd: Path) -> int:
    """Run `command` and wait for it; SIGTERM, SIGINT and SIGHUP sent to this process are passed on to it.

    A service manager or container runtime stops `indicators serve` with SIGTERM, which by default would
    end this process at once and leave the Streamlit child running and holding the port. The child gets
    the signal, STOP_GRACE_SECONDS to finish, then SIGKILL; this process returns only once it is gone."""
    child = subprocess.Popen(command, env=env, cwd=cwd)
    stop_by: list[float] = []

    def forward(signum, _frame) -> None:
        if not stop_by:
            stop_by.append(time.monotonic() + STOP_GRACE_SECONDS)
        if child.poll() is None:
            child.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED_SIGNALS}
    try:
        while True:
            try:
                code = child.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if stop_by and time.monotonic() > stop_by[0]:
                    child.kill()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    # Stopped on request: a clean stop, whatever signal status the child reports.
    return 0 if stop_by and code in (0, -signal.SIGTERM, -signal.SIGINT, -signal.SIGHUP) else code


def _with_notes(exc: BaseException) -> str:
    """The error's message and its notes (such as a temporary file that could not be removed) on one line."""
    return "; ".join([str(exc), *getattr(exc, "__notes__", [])])


COMMANDS = {"fetch": cmd_fetch, "build": cmd_build, "check": cmd_check, "list": cmd_list, "serve": cmd_serve}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    handler = COMMANDS.get(args.command) or getattr(args, "handler", None)
    try:
        return handler(args)
    except IndicatorsError as exc:
        print(f"error: {_with_notes(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # the operating system's condition (a file unreadable, a disk full): not a bug
        if os.environ.get("INDICATORS_DEBUG"):
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: say so plainly, keep the traceback for those who ask
        if os.environ.get("INDICATORS_DEBUG"):
            raise
        if write_condition(exc):  # DuckDB passing on the operating system's refusal, with the path
            print(f"error: {_with_notes(exc).splitlines()[0]}", file=sys.stderr)
            return 2
        print(f"unexpected error ({type(exc).__name__}: {exc}). This is a bug; rerun with "
              "INDICATORS_DEBUG=1 for details and report it.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
