"""The CLI: serve's fetch-build-serve path, offline behaviour, and error messages without tracebacks."""

from __future__ import annotations

import subprocess
import re
import sys
from pathlib import Path

import httpx
import pytest

from indicators import cli
from indicators.pipeline import fetch


def refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution", request=request)


@pytest.fixture
def offline(monkeypatch):
    """Every Downloader gets a transport that fails like a machine with no network."""
    original = fetch.Downloader.__init__

    def init(self, policy=None, client=None):
        policy = policy or fetch.FetchPolicy(attempts=2, backoff=0.0, sleep=lambda s: None)
        original(self, policy, httpx.Client(transport=httpx.MockTransport(refuse)))
    monkeypatch.setattr(fetch.Downloader, "__init__", init)
    monkeypatch.delenv("INDICATORS_MIRROR", raising=False)


def test_serve_offline_without_mirror_says_how_to_get_data(offline, tmp_path, capsys, monkeypatch):
    called = []
    monkeypatch.setattr(cli, "run_forwarding_signals", lambda *a, **k: called.append(a) or 0)
    code = cli.main(["serve", "--db", str(tmp_path / "w.duckdb"), "--raw", str(tmp_path / "raw")])
    err = capsys.readouterr().err
    assert code == 2
    assert "--mirror" in err and "offline" in err
    assert "Traceback" not in err
    assert called == []
    assert not (tmp_path / "w.duckdb").exists()


def test_serve_with_mirror_fetches_builds_then_starts_streamlit(real_raw, tmp_path, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "run_forwarding_signals", lambda command, env, cwd: calls.append((command, env, cwd)) or 0)
    db = tmp_path / "w.duckdb"
    assert cli.main(["serve", "--db", str(db), "--raw", str(tmp_path / "raw"), "--mirror", str(real_raw),
                     "--port", "8765"]) == 0
    assert db.exists()
    (command, env, cwd), = calls
    assert Path(cwd, ".streamlit", "config.toml").is_file()  # the dashboard's settings apply
    assert command[command.index("--client.showErrorDetails") + 1] == "none"
    assert command[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert command[4].endswith("dashboard.py")
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert command[command.index("--server.port") + 1] == "8765"
    assert env["INDICATORS_DB"] == str(db.resolve())
    # What serve said: the fetch per source and file, the build's stages, then a coverage line per indicator, last.
    said = capsys.readouterr()
    assert re.search(r"^\[1/\d+\] \w+", said.err, re.M)  # the fetch's progress, a line per source
    stages = re.findall(r"^build: (.*) \(\d+\.\d s\)$", said.err, re.M)
    assert [s.split(":")[0] for s in stages] == ["reading the official files", "geography", "indicators", "intervals",
                                                 "peer groups", "statistics", "checks"]
    lines = said.out.splitlines()
    coverage = lines.index("coverage (areas with a value in the latest period / current areas):")
    per_indicator = lines[coverage + 1:-1]
    assert per_indicator and all(line.startswith("  ") for line in per_indicator)
    assert any(re.match(r"  deaths_drug_misuse: \d+ of \d+ areas have a value in 2019–21", line) for line in per_indicator)
    assert lines[-1].startswith("serving the dashboard at http://127.0.0.1:8765/")
    # A second serve reuses the warehouse: no fetch, no build.
    before = db.stat().st_mtime_ns
    assert cli.main(["serve", "--db", str(db), "--raw", str(tmp_path / "raw")]) == 0
    assert db.stat().st_mtime_ns == before


def test_mirror_from_environment(real_raw, tmp_path, monkeypatch):
    monkeypatch.setenv("INDICATORS_MIRROR", str(real_raw))
    assert cli.main(["fetch", "--raw", str(tmp_path / "raw"), "--source", "lookups"]) == 0
    assert (tmp_path / "raw" / "lookups" / "manifest.json").exists()


def test_unknown_source_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["fetch", "--raw", str(tmp_path), "--source", "nope"]) == 2
    assert "unknown source id(s): nope" in capsys.readouterr().err


def test_check_on_missing_warehouse(tmp_path, capsys):
    assert cli.main(["check", "--db", str(tmp_path / "none.duckdb")]) == 2
    err = capsys.readouterr().err
    assert "no warehouse at" in err and "indicators build" in err


def test_python_dash_m_help():
    result = subprocess.run([sys.executable, "-m", "indicators", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for verb in ("fetch", "build", "check", "list", "serve", "export"):
        assert verb in result.stdout
