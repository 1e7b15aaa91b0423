"""The fetch against publishers that misbehave as real ones do (tests/standin.py): compressed and chunked
bodies, redirects (also to file://), a slow first byte, a 503 then success, HTML pages with status 200,
conditional requests, gzip bombs; each source on its own, the record of a failure, --older-than,
--strict; hostile mirrors and file names; a full disk, an unwritable raw folder and a corrupt manifest."""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from standin import Reply, StandIn

from indicators import cli
from indicators.errors import IndicatorsError, InputError
from indicators.pipeline import fetch
from indicators.pipeline.fetch import (
    Downloader,
    FetchPolicy,
    FetchProgress,
    LocalWriteError,
    TextProgress,
    fetch_all,
    read_fetch_status,
    read_manifest,
)
from indicators.pipeline.sources import Download, Source, fetch_url, load_source

CSV = b"Area Code,Value\nE92000001,5.0\n" + b"".join(b"E0600%04d,%d.5\n" % (i, i) for i in range(3000))
SHORT_POLICY = dict(attempts=2, backoff=0.01, read_timeout=0.5, connect_timeout=0.5, sleep=lambda s: None)


def policy(**changes) -> FetchPolicy:
    return FetchPolicy(**{**SHORT_POLICY, **changes})


def source(files: list[Download], source_id: str = "demo", parser: str = "indicators.pipeline.sources") -> Source:
    return Source(id=source_id, title="Demo", publisher="Test", licence="OGL", licence_url="", attribution="",
                  landing_page="", parser=parser, file_patterns=("*.csv",), files=tuple(files))


def run(raw: Path, sources: list[Source], **kwargs) -> fetch.FetchReport:
    downloader = Downloader(kwargs.pop("policy", None) or policy())
    try:
        return fetch_all(raw, sources=sources, downloader=downloader, progress=kwargs.pop("progress", False), **kwargs)
    finally:
        downloader.close()


@pytest.fixture
def publisher():
    with StandIn(name="demo") as stand_in:
        yield stand_in


# --------------------------------------------------------------------------- compressed and chunked bodies

@pytest.mark.parametrize("reply", [
    dict(gzip=True),                       # Content-Length counts the compressed bytes
    dict(gzip=True, chunked=True),         # no Content-Length at all
    dict(gzip=False, chunked=True),
    dict(gzip=None),                       # gzip because the client asks for it
], ids=["gzip", "gzip-chunked", "chunked", "negotiated"])
def test_compressed_and_chunked_bodies_are_stored_byte_identical(publisher, tmp_path, reply):
    publisher.route("/data.csv", CSV, content_type="text/csv", **reply)
    report = run(tmp_path, [source([Download("data.csv", publisher.url_of("/data.csv"))])])
    assert report.fetched == {"demo": ["data.csv"]}, report.failed
    assert (tmp_path / "demo" / "data.csv").read_bytes() == CSV
    seen, = publisher.hits("/data.csv")
    if reply.get("gzip") is not False:
        assert seen.sent["Content-Encoding"] == "gzip"
        assert seen.body_bytes < len(CSV) / 3  # what travelled was the compressed body


def test_cli_fetch_of_gzip_encoded_official_files_is_byte_identical(shared_raw, tmp_path, monkeypatch, capsys):
    """`indicators fetch` against a server that gzip-encodes every answer (Content-Length = compressed size)."""
    names = {"ons_deaths": ["2021localauthorities.xlsx", "2019localauthorities1.xls"],
             "lookups": ["onsvisual_uk-topojson_changes.csv", "onsvisual_uk-topojson_ltla14-lookup.csv"]}
    from indicators.pipeline.sources import get_source

    with StandIn(name="ons") as ons:
        for source_id, files in names.items():
            for item in get_source(source_id).files:
                if item.name in files:
                    target = item.url.split("://", 1)[1].split("/", 1)[1]
                    ons.route("/" + target, (shared_raw / source_id / item.name).read_bytes(), gzip=True)
        base = ons.url
        for source_id in names:
            monkeypatch.setenv(f"INDICATORS_URL_{source_id.upper()}", base)
        monkeypatch.setattr(fetch, "DEFAULT_POLICY", policy(read_timeout=5))
        code = cli.main(["fetch", "--raw", str(tmp_path), "--source", "ons_deaths", "--source", "lookups"])
        assert code == 0, capsys.readouterr()
        assert all(s.sent.get("Content-Encoding") == "gzip" for s in ons.hits() if s.status == 200)
    for source_id, files in names.items():
        for name in files:
            assert (tmp_path / source_id / name).read_bytes() == (shared_raw / source_id / name).read_bytes()
            entry = read_manifest(tmp_path / source_id)["files"][name]
            assert entry["sha256"] == hashlib.sha256((shared_raw / source_id / name).read_bytes()).hexdigest()
            assert entry["url"].startswith("https://")  # the official address is recorded ...
            assert entry["fetched_from"].startswith(base)  # ... and where the bytes came from


# --------------------------------------------------------------------------- size limit

def test_a_gzip_bomb_is_refused_without_being_written_out(publisher, tmp_path):
    bomb = gzip.compress(b"\0" * 200_000_000, compresslevel=9)  # 200 MB of zeros in about 200 kB
    publisher.route("/bomb.csv", Reply(bomb, precompressed=True))
    seen: list[int] = []

    class Spy(FetchProgress):
        def file_bytes(self, received, total):
            seen.append(received)

    report = run(tmp_path, [source([Download("bomb.csv", publisher.url_of("/bomb.csv"))])],
                 policy=policy(max_bytes=1_000_000), progress=Spy())
    message = report.failed["demo"]
    assert "1.0 MB limit" in message and publisher.url_of("/bomb.csv") in message
    assert "INDICATORS_MAX_DOWNLOAD_MB" in message
    assert max(seen) <= 1_000_000  # never written past the limit
    assert len(publisher.hits("/bomb.csv")) == 1  # not retried: the answer will not shrink
    assert not any(p.is_file() and p.stat().st_size > 1_000_000 for p in tmp_path.rglob("*"))


def test_a_declared_length_over_the_limit_is_refused_before_reading(publisher, tmp_path):
    publisher.route("/big.csv", CSV, gzip=False)
    report = run(tmp_path, [source([Download("big.csv", publisher.url_of("/big.csv"))])],
                 policy=policy(max_bytes=1000))
    assert "declares" in report.failed["demo"] and "limit" in report.failed["demo"]


def test_the_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("INDICATORS_MAX_DOWNLOAD_MB", "2.5")
    assert FetchPolicy().max_bytes == 2_500_000


# --------------------------------------------------------------------------- redirects, slow and flaky answers

def test_redirects_are_followed_to_http(publisher, tmp_path):
    publisher.route("/old.csv", Reply(redirect="/moved.csv"))
    publisher.route("/moved.csv", Reply(redirect=publisher.url_of("/final.csv")))
    publisher.route("/final.csv", CSV)
    report = run(tmp_path, [source([Download("a.csv", publisher.url_of("/old.csv"))])])
    assert report.fetched == {"demo": ["a.csv"]}
    assert (tmp_path / "demo" / "a.csv").read_bytes() == CSV


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://example.org/a.csv", "gopher://x/"])
def test_a_redirect_to_another_scheme_is_refused_in_one_line(publisher, tmp_path, capsys, monkeypatch, location):
    publisher.route("/a.csv", Reply(redirect=location))
    monkeypatch.setenv("INDICATORS_URL_LOOKUPS", publisher.url)
    from indicators.pipeline.sources import get_source

    declared = get_source("lookups").files[1]
    publisher.route("/" + declared.url.split("://", 1)[1].split("/", 1)[1], Reply(redirect=location))
    monkeypatch.setattr(fetch, "DEFAULT_POLICY", policy())
    code = cli.main(["fetch", "--raw", str(tmp_path), "--source", "lookups"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "This is a bug" not in out + err and "Traceback" not in out + err
    assert f"redirected to {location}, which is not an http(s) address: refused" in err
    assert not (tmp_path / "lookups").exists()
    assert read_fetch_status(tmp_path)["lookups"]["answer"].endswith(f"redirect to {location}")


def test_endless_redirects_stop(publisher, tmp_path):
    publisher.route("/loop.csv", Reply(redirect="/loop.csv"))
    report = run(tmp_path, [source([Download("a.csv", publisher.url_of("/loop.csv"))])])
    assert "more than 10 redirects" in report.failed["demo"]
    assert len(publisher.hits("/loop.csv")) == 11


def test_a_slow_first_byte_within_the_timeout_and_a_503_then_success(publisher, tmp_path):
    publisher.route("/slow.csv", CSV, first_byte_delay=0.2)
    publisher.route("/busy.csv", CSV, fail_first=1)
    report = run(tmp_path, [source([Download("slow.csv", publisher.url_of("/slow.csv")),
                                    Download("busy.csv", publisher.url_of("/busy.csv"))])])
    assert report.fetched == {"demo": ["busy.csv", "slow.csv"]}
    assert [s.status for s in publisher.hits("/busy.csv")] == [503, 200]


def test_an_html_page_with_status_200_is_not_data(publisher, tmp_path):
    publisher.route("/a.csv", Reply(html_error=True))
    report = run(tmp_path, [source([Download("a.csv", publisher.url_of("/a.csv"))])])
    result = report.results["demo"]
    assert "HTML page" in result.reason and result.answer == "HTTP 200 with an HTML page"
    assert len(publisher.hits("/a.csv")) == 1  # not retried: it will not turn into data


# --------------------------------------------------------------------------- conditional requests

def test_unchanged_files_are_not_downloaded_again(publisher, tmp_path):
    publisher.route("/etag.csv", CSV)  # ETag and Last-Modified
    publisher.route("/dated.csv", CSV + b"x", etag=False)  # Last-Modified only
    files = [Download("etag.csv", publisher.url_of("/etag.csv")), Download("dated.csv", publisher.url_of("/dated.csv"))]
    first = run(tmp_path, [source(files)])
    assert first.fetched == {"demo": ["dated.csv", "etag.csv"]}
    before = read_manifest(tmp_path / "demo")["files"]
    publisher.clear()
    second = run(tmp_path, [source(files)])
    assert second.unchanged == {"demo": ["dated.csv", "etag.csv"]}
    assert [f.status for f in second.results["demo"].files] == ["unchanged", "unchanged"]
    assert second.results["demo"].downloaded == 0
    etag, dated = publisher.hits("/etag.csv")[0], publisher.hits("/dated.csv")[0]
    assert etag.headers["if-none-match"] == before["etag.csv"]["etag"] and etag.status == 304
    assert "if-none-match" not in dated.headers and dated.headers["if-modified-since"] == "Mon, 15 Jan 2024 09:30:00 GMT"
    assert dated.status == 304
    after = read_manifest(tmp_path / "demo")["files"]
    assert after["etag.csv"]["retrieved_at"] == before["etag.csv"]["retrieved_at"]
    assert after["etag.csv"]["checked_at"] >= before["etag.csv"]["checked_at"]
    assert read_fetch_status(tmp_path)["demo"]["status"] == "unchanged"


def test_a_changed_or_locally_edited_file_is_fetched_in_full(publisher, tmp_path):
    publisher.route("/a.csv", CSV)
    files = [Download("a.csv", publisher.url_of("/a.csv"))]
    run(tmp_path, [source(files)])
    (tmp_path / "demo" / "a.csv").write_bytes(b"edited by hand")
    publisher.clear()
    assert run(tmp_path, [source(files)]).fetched == {"demo": ["a.csv"]}
    assert "if-none-match" not in publisher.hits("/a.csv")[0].headers
    assert (tmp_path / "demo" / "a.csv").read_bytes() == CSV
    publisher.route("/a.csv", CSV + b"E06009999,1.0\n")  # the publisher's new edition
    assert run(tmp_path, [source(files)]).fetched == {"demo": ["a.csv"]}
    assert (tmp_path / "demo" / "a.csv").read_bytes().endswith(b"E06009999,1.0\n")


# --------------------------------------------------------------------------- each source on its own

def test_one_failing_source_does_not_stop_the_others_and_is_recorded(publisher, tmp_path):
    publisher.route("/ok.csv", CSV)
    publisher.route("/down.csv", Reply(status=500, body=b"<html><title>Oops</title>database unavailable</html>"))
    sources = [source([Download("a.csv", publisher.url_of("/down.csv"))], "first"),
               source([Download("b.csv", publisher.url_of("/ok.csv"))], "second")]
    report = run(tmp_path, sources)
    assert report.fetched == {"second": ["b.csv"]} and list(report.failed) == ["first"]
    assert not report.nothing_usable
    record = read_fetch_status(tmp_path)["first"]
    assert record["status"] == "failed" and record["file"] == "a.csv"
    assert record["url"] == publisher.url_of("/down.csv")
    assert record["answer"] == "HTTP 500 Internal Server Error: Oops database unavailable"
    attempted = datetime.fromisoformat(record["attempted_at"])
    assert abs(datetime.now(timezone.utc) - attempted) < timedelta(minutes=1)
    assert read_fetch_status(tmp_path)["second"]["status"] == "fetched"


def test_a_host_that_does_not_answer_is_not_asked_again_in_the_same_run(tmp_path):
    with StandIn(name="stalled", stall_seconds=5) as stalled:
        stalled.mode = "stall"
        sources = [source([Download("a.csv", stalled.url_of("/a.csv"))], "first"),
                   source([Download("b.csv", stalled.url_of("/b.csv"))], "second")]
        report = run(tmp_path, sources, policy=policy(read_timeout=0.2))
        assert len(stalled.hits("/a.csv")) == 2 and stalled.hits("/b.csv") == []
    assert "timed out 2 times" in report.failed["first"]
    assert "did not answer earlier in this run" in report.failed["second"]


def test_optional_files_stop_being_tried_when_the_publisher_goes_down(publisher, tmp_path):
    publisher.route("/ok.csv", CSV)
    publisher.route("/down.csv", Reply(status=503))
    files = [Download("a.csv", publisher.url_of("/ok.csv"))] + [
        Download(f"n{i}.csv", publisher.url_of("/down.csv"), optional=True) for i in range(10)]
    report = run(tmp_path, [source(files)], policy=policy(give_up_after=3))
    assert report.fetched == {"demo": ["a.csv"]}
    assert len(publisher.hits("/down.csv")) == 3 * 2  # three files, two attempts each; seven not tried
    assert [f.status for f in report.results["demo"].files].count("skipped") == 7


@pytest.mark.parametrize("args, failing, code", [
    ([], ["first"], 0),                      # something usable arrived
    (["--strict"], ["first"], 2),
    ([], ["first", "second"], 2),            # nothing usable arrived
])
def test_exit_code(publisher, tmp_path, monkeypatch, capsys, args, failing, code):
    publisher.route("/ok.csv", CSV)
    publisher.route("/down.csv", Reply(status=500))
    sources = [source([Download("a.csv", publisher.url_of("/down.csv" if s in failing else "/ok.csv"))], s)
               for s in ("first", "second")]
    monkeypatch.setattr("indicators.pipeline.sources.all_sources", lambda *a: sources)
    monkeypatch.setattr(fetch, "DEFAULT_POLICY", policy())
    assert cli.main(["fetch", "--raw", str(tmp_path), *args]) == code
    out, err = capsys.readouterr()
    table = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:] if line.split()[0] in ("first", "second")}
    assert table == {s: ("failed" if s in failing else "fetched") for s in ("first", "second")}
    assert f"--source {failing[0]}" in out
    assert ("error:" in err) == (code != 0)


# --------------------------------------------------------------------------- --older-than

def test_older_than_refreshes_only_stale_sources(publisher, tmp_path, monkeypatch, capsys):
    publisher.route("/a.csv", CSV)
    sources = [source([Download("a.csv", publisher.url_of("/a.csv"))], s) for s in ("fresh", "stale", "broken")]
    run(tmp_path, sources)
    manifest = read_manifest(tmp_path / "stale")
    old = (datetime.now(timezone.utc) - timedelta(days=10)).replace(microsecond=0).isoformat()
    manifest["files"]["a.csv"].update(retrieved_at=old, checked_at=old)
    (tmp_path / "stale" / "manifest.json").write_text(json.dumps(manifest))
    status = json.loads((tmp_path / "fetch_status.json").read_text())
    status["sources"]["broken"]["status"] = "failed"  # a source whose last attempt failed is always retried
    (tmp_path / "fetch_status.json").write_text(json.dumps(status))
    publisher.clear()
    report = run(tmp_path, sources, older_than=timedelta(days=7))
    assert "within --older-than" in report.skipped["fresh"]
    assert set(report.unchanged) == {"stale", "broken"}
    assert len(publisher.hits("/a.csv")) == 2


def test_older_than_takes_a_duration(tmp_path, capsys):
    assert fetch.parse_duration("90m") == timedelta(minutes=90)
    assert fetch.parse_duration("2w") == timedelta(weeks=2)
    with pytest.raises(SystemExit) as info:
        cli.main(["fetch", "--raw", str(tmp_path), "--older-than", "soon"])
    assert info.value.code == 2
    assert "'soon' is not a duration (expected a number and a unit: 30m, 12h, 7d or 2w)" in capsys.readouterr().err


# --------------------------------------------------------------------------- base-URL overrides

def test_url_override_replaces_scheme_and_host_and_keeps_path_and_query(monkeypatch):
    official = "https://fingertips.phe.org.uk/api/all_data/csv/by_indicator_id?indicator_ids=90244"
    assert fetch_url("fingertips", official) == official
    monkeypatch.setenv("INDICATORS_URL_FINGERTIPS", "http://proxy.internal:8080/cache/")
    assert fetch_url("fingertips", official) == \
        "http://proxy.internal:8080/cache/api/all_data/csv/by_indicator_id?indicator_ids=90244"
    assert fetch_url("ons_deaths", official) == official  # other sources are not affected


@pytest.mark.parametrize("value", ["file:///srv/mirror", "proxy.internal:8080", "http://host/?a=1"])
def test_a_bad_url_override_is_one_line(monkeypatch, tmp_path, capsys, value):
    monkeypatch.setenv("INDICATORS_URL_LOOKUPS", value)
    monkeypatch.setattr(fetch, "DEFAULT_POLICY", policy())
    assert cli.main(["fetch", "--raw", str(tmp_path), "--source", "lookups"]) == 2
    err = capsys.readouterr().err
    assert f"INDICATORS_URL_LOOKUPS={value!r} is not a base address" in err
    assert "bug" not in err


def test_the_fingertips_plan_goes_through_the_override(tmp_path, monkeypatch, fixtures, shared_raw):
    from publishers import fingertips_api

    with fingertips_api(shared_raw, fixtures) as api:
        monkeypatch.setenv("INDICATORS_URL_FINGERTIPS", api.url)
        from indicators.pipeline.sources import get_source

        report = run(tmp_path, [get_source("fingertips")])
        assert len(report.fetched["fingertips"]) == 8
        assert {s.path for s in api.hits()} >= {"/api/area_types", "/api/all_data/csv/by_indicator_id"}
    entry = read_manifest(tmp_path / "fingertips")["files"]["indicator-93517.csv"]
    assert entry["url"].startswith("https://fingertips.phe.org.uk/api/all_data/csv/by_indicator_id?indicator_ids=93517")


# --------------------------------------------------------------------------- progress

class Recorder(FetchProgress):
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def source_started(self, source_id, index, count, expected):
        self.events.append(("source", source_id, index, count, expected))

    def file_started(self, source_id, name, index, count, expected):
        self.events.append(("file", source_id, name, index, count))

    def file_bytes(self, received, total):
        self.events.append(("bytes", received, total))

    def file_finished(self, result):
        self.events.append(("done", result.name, result.status, result.bytes))

    def source_finished(self, result, left_sources, left_bytes):
        self.events.append(("finished", result.source_id, result.status, left_sources, left_bytes))


def test_progress_per_source_and_file_with_bytes_and_what_is_left(publisher, tmp_path):
    publisher.route("/a.csv", CSV, gzip=False)
    sources = [source([Download("a.csv", publisher.url_of("/a.csv")), Download("b.csv", publisher.url_of("/a.csv"))],
                      s) for s in ("one", "two")]
    run(tmp_path, sources)  # a first fetch, so that the second knows the sizes
    recorder = Recorder()
    publisher.route("/a.csv", CSV + b"E06009999,1.0\n", gzip=False)
    run(tmp_path, sources, progress=recorder)
    kinds = [e[0] for e in recorder.events if e[0] != "bytes"]
    assert kinds == ["source", "file", "done", "file", "done", "finished"] * 2
    assert recorder.events[0] == ("source", "one", 1, 2, 2 * len(CSV))
    byte_events = [e for e in recorder.events if e[0] == "bytes"]
    assert byte_events[-1] == ("bytes", len(CSV) + 14, len(CSV) + 14)
    finished = [e for e in recorder.events if e[0] == "finished"]
    assert finished == [("finished", "one", "fetched", 1, 2 * len(CSV)), ("finished", "two", "fetched", 0, None)]


def test_text_progress_in_a_log(publisher, tmp_path):
    import io

    publisher.route("/a.csv", CSV)
    sources = [source([Download("a.csv", publisher.url_of("/a.csv"))], s) for s in ("one", "two")]
    run(tmp_path, sources)
    stream = io.StringIO()
    run(tmp_path, sources, progress=TextProgress(stream))
    lines = stream.getvalue().splitlines()
    assert lines[0] == f"[1/2] one (about {len(CSV) / 1e3:.0f} kB by the last fetch)"
    assert "  a.csv: unchanged" in lines
    assert f"left: 1 source, about {len(CSV) / 1e3:.0f} kB by the last fetch" in lines


# --------------------------------------------------------------------------- hostile mirrors and names

def test_a_mirror_symlink_leading_outside_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0")
    secret.chmod(0o600)
    mirror = tmp_path / "mirror"
    (mirror / "demo").mkdir(parents=True)
    (mirror / "demo" / "x.csv").symlink_to(secret)
    (mirror / "other").mkdir()
    (mirror / "other" / "y.csv").write_bytes(CSV)
    raw = tmp_path / "raw"
    report = fetch_all(raw, mirror=mirror, sources=[source([], "demo"), source([], "other")], progress=False)
    assert f"leads outside the mirror (to {secret})" in report.failed["demo"]
    assert not (raw / "demo").exists()
    assert report.fetched == {"other": ["y.csv"]}


def test_a_symlink_inside_the_mirror_is_copied(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "demo").mkdir(parents=True)
    (mirror / "data.csv").write_bytes(CSV)
    (mirror / "demo" / "x.csv").symlink_to(mirror / "data.csv")
    report = fetch_all(tmp_path / "raw", mirror=mirror, sources=[source([], "demo")], progress=False)
    assert report.fetched == {"demo": ["x.csv"]}
    assert not (tmp_path / "raw" / "demo" / "x.csv").is_symlink()


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444])
def test_a_mirror_copy_never_widens_permissions(tmp_path, mode):
    mirror = tmp_path / "mirror"
    (mirror / "demo").mkdir(parents=True)
    (mirror / "demo" / "x.csv").write_bytes(CSV)
    (mirror / "demo" / "x.csv").chmod(mode)
    fetch_all(tmp_path / "raw", mirror=mirror, sources=[source([], "demo")], progress=False)
    copied = (tmp_path / "raw" / "demo" / "x.csv").stat().st_mode & 0o777
    assert copied & ~mode == 0, oct(copied)


@pytest.mark.parametrize("name", ["../escape.csv", "/etc/cron.d/x", "sub/dir.csv", "..", ".hidden.csv",
                                  "manifest.json"])
def test_a_declared_file_name_that_is_a_path_is_rejected(tmp_path, name):
    toml = tmp_path / "99_bad.toml"
    toml.write_text(f'id = "bad"\ntitle = "t"\npublisher = "p"\nlicence = "l"\nlicence_url = ""\nattribution = ""\n'
                    f'landing_page = ""\nparser = "x"\nfile_patterns = ["*.csv"]\n'
                    f'[[files]]\nname = {json.dumps(name)}\nurl = "https://example.org/a.csv"\n')
    with pytest.raises(InputError) as info:
        load_source(toml)
    assert str(toml) in str(info.value) and "files[0].name" in str(info.value) and "refused" in str(info.value)


def test_a_planned_file_name_that_is_a_path_is_rejected(tmp_path, monkeypatch):
    import types

    module = types.ModuleType("hostile_plan")
    module.plan_downloads = lambda get_json: [Download("../../outside.csv", "http://127.0.0.1:9/x")]
    monkeypatch.setitem(__import__("sys").modules, "hostile_plan", module)
    report = run(tmp_path / "raw", [source([], "demo", parser="hostile_plan")])
    assert "'../../outside.csv' is refused: it is a path" in report.failed["demo"]
    assert not (tmp_path / "outside.csv").exists()


# --------------------------------------------------------------------------- the machine's own faults

def test_a_full_disk_stops_the_fetch_with_one_line(publisher, tmp_path, monkeypatch, capsys):
    publisher.route("/a.csv", CSV)
    raw = tmp_path / "raw"
    (raw / "demo").mkdir(parents=True)
    (raw / "demo" / "a.csv").write_bytes(b"previous")
    monkeypatch.setattr(os, "fsync", _disk_full)
    with pytest.raises(LocalWriteError) as info:
        run(raw, [source([Download("a.csv", publisher.url_of("/a.csv"))])])
    monkeypatch.undo()
    assert str(info.value).startswith(f"cannot write {raw / 'demo' / 'a.csv'}: No space left on device.")
    assert "free some space" in str(info.value)
    assert (raw / "demo" / "a.csv").read_bytes() == b"previous"
    assert not [p for p in raw.rglob("*") if p.name.endswith(".part") or p.name.startswith(".staging")]


def _disk_full(fd: int) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_cli_on_a_full_disk_is_one_line(publisher, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INDICATORS_URL_LOOKUPS", publisher.url)
    monkeypatch.setattr(fetch, "DEFAULT_POLICY", policy())
    monkeypatch.setattr(os, "fsync", _disk_full)
    from indicators.pipeline.sources import get_source

    for item in get_source("lookups").files:
        publisher.route("/" + item.url.split("://", 1)[1].split("/", 1)[1], CSV)
    code = cli.main(["fetch", "--raw", str(tmp_path / "raw"), "--source", "lookups"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    error, = [line for line in err.splitlines() if line.startswith("error")]
    assert error.startswith(f"error: cannot write {tmp_path / 'raw' / 'lookups'}/") and "No space left on device" in error


def test_cli_with_a_raw_folder_that_cannot_be_made_is_one_line(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(fetch, "DEFAULT_POLICY", policy())
    code = cli.main(["fetch", "--raw", str(blocker / "raw"), "--source", "lookups"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"error: cannot write {blocker / 'raw'}: Not a directory. The raw cache was left as it was; " \
                  "choose a folder with --raw and fetch again.\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through folder permissions; the full-disk test above "
                                              "covers the same path with an injected error")
def test_cli_with_a_read_only_raw_folder_is_one_line(publisher, tmp_path, capsys, monkeypatch):
    raw = tmp_path / "raw"
    raw.mkdir()
    raw.chmod(0o500)
    try:
        monkeypatch.setenv("INDICATORS_URL_LOOKUPS", publisher.url)
        monkeypatch.setattr(fetch, "DEFAULT_POLICY", policy())
        code = cli.main(["fetch", "--raw", str(raw), "--source", "lookups"])
    finally:
        raw.chmod(0o700)
    err = capsys.readouterr().err
    assert code == 2 and "Permission denied" in err and str(raw) in err


def test_a_corrupt_manifest_is_named_and_replaced_by_the_next_fetch(publisher, tmp_path):
    publisher.route("/a.csv", CSV)
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "manifest.json").write_text('{"files": {"a.csv": ')
    report = run(tmp_path, [source([Download("a.csv", publisher.url_of("/a.csv"))])])
    assert report.fetched == {"demo": ["a.csv"]}
    warning, = report.warnings
    assert str(tmp_path / "demo" / "manifest.json") in warning and "is not valid JSON" in warning
    assert read_manifest(tmp_path / "demo")["files"]["a.csv"]["size"] == len(CSV)


def test_build_with_a_corrupt_manifest_is_one_line(shared_raw, tmp_path, capsys):
    raw = tmp_path / "raw"
    fetch_all(raw, mirror=shared_raw, progress=False)
    (raw / "lookups" / "manifest.json").write_bytes(b"\x00\x01 not json")
    code = cli.main(["build", "--raw", str(raw), "--db", str(tmp_path / "w.duckdb")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    error, = [line for line in err.splitlines() if "error" in line]
    assert error.startswith(f"error: {raw / 'lookups' / 'manifest.json'}: is not valid JSON")
    assert "indicators fetch --source lookups" in error
    assert not (tmp_path / "w.duckdb").exists()


def test_read_manifest_rejects_the_wrong_shape(tmp_path):
    (tmp_path / "manifest.json").write_text('{"files": ["a.csv"]}')
    with pytest.raises(IndicatorsError, match="does not have the manifest's shape"):
        read_manifest(tmp_path)
