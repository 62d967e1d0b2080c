"""Sync through each back end (a folder, moto's S3 server, wsgidav): concurrent edits, races,
interrupted uploads, failing servers and damaged remotes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sync_backends import Backend

from xlrebalance.sync.engine import pull, push, read_remote, status
from xlrebalance.sync.errors import PassphraseError, RemoteCorrupt, RemoteUnavailable
from xlrebalance.sync.files import JsonFileCopy, sidecar
from xlrebalance.sync.remote import Options, open_remote

HERE = Path(__file__).parent


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def quantity(path: Path, account: str, ticker: str) -> float:
    for h in load(path)["holdings"]:
        if (h["account"], h["ticker"]) == (account, ticker):
            return float(h["quantity"])
    raise KeyError(ticker)


def set_quantity(path: Path, account: str, ticker: str, value: float) -> None:
    doc = load(path)
    for h in doc["holdings"]:
        if (h["account"], h["ticker"]) == (account, ticker):
            h["quantity"] = value
    write(path, doc)


def two_copies(tmp_path: Path, backend: Backend, seed: dict[str, Any]) -> tuple[Path, Path]:
    """Copy A pushed the seed portfolio; copy B pulled it."""
    a = write(tmp_path / "a.json", seed)
    b = write(tmp_path / "b.json", {"version": 1, "accounts": [{"id": "x"}], "holdings": [],
                                    "targets": {"CASH": 1.0}})  # fmt: skip
    assert push(JsonFileCopy(a), open_remote(backend.url), None).action == "pushed"
    assert pull(JsonFileCopy(b), open_remote(backend.url), None).changed_local
    return a, b


def test_edits_to_different_rows_both_survive(
    backend: Backend, tmp_path: Path, seed_doc: dict[str, Any]
) -> None:
    a, b = two_copies(tmp_path, backend, seed_doc)
    set_quantity(a, "general", "VOO", 21)
    set_quantity(b, "general", "QQQ", 15)
    assert status(JsonFileCopy(a), open_remote(backend.url), None).action == "ahead"
    assert push(JsonFileCopy(a), open_remote(backend.url), None).action == "pushed"
    assert status(JsonFileCopy(b), open_remote(backend.url), None).action == "diverged"
    outcome = push(JsonFileCopy(b), open_remote(backend.url), None)
    assert outcome.action == "pushed" and outcome.conflicts == () and outcome.changed_local
    pull(JsonFileCopy(a), open_remote(backend.url), None)
    for copy in (a, b):
        assert quantity(copy, "general", "VOO") == 21
        assert quantity(copy, "general", "QQQ") == 15
    assert status(JsonFileCopy(a), open_remote(backend.url), None).action == "up to date"


def test_same_cell_on_both_sides_is_a_reported_conflict(
    backend: Backend, tmp_path: Path, seed_doc: dict[str, Any]
) -> None:
    a, b = two_copies(tmp_path, backend, seed_doc)
    set_quantity(a, "general", "QQQ", 111)
    set_quantity(b, "general", "QQQ", 222)
    push(JsonFileCopy(a), open_remote(backend.url), None)
    outcome = push(JsonFileCopy(b), open_remote(backend.url), None)
    assert len(outcome.conflicts) == 1
    line = outcome.conflicts[0]
    assert "holdings[2].quantity" in line and "this copy 222" in line and "remote 111" in line
    assert "kept local 222" in line
    # Nothing lost: the value not kept travels in the version, and A hears of it on pull.
    pulled = pull(JsonFileCopy(a), open_remote(backend.url), None)
    assert quantity(a, "general", "QQQ") == 222
    assert any("111" in n and "222" in n for n in pulled.notes)
    view = read_remote(open_remote(backend.url), None)
    recorded = view.heads[0][1].conflicts
    assert recorded[0]["local"] == 222 and recorded[0]["remote"] == 111


RACER = """
import json, sys, time
from pathlib import Path
from xlrebalance.sync.engine import push
from xlrebalance.sync.files import JsonFileCopy
from xlrebalance.sync.remote import open_remote
from xlrebalance.sync.errors import SyncError

path, url, tag, go = Path(sys.argv[1]), sys.argv[2], sys.argv[3], Path(sys.argv[4])
while not go.exists():
    time.sleep(0.01)
acked = []
for n in range(10):
    doc = json.loads(path.read_text())
    ticker = f"Z{tag}{n:02d}X"
    doc["holdings"].append({"account": "general", "ticker": ticker, "quantity": n + 1})
    path.write_text(json.dumps(doc))
    try:
        push(JsonFileCopy(path), open_remote(url), None)
    except SyncError as exc:
        print("failed", ticker, exc, file=sys.stderr)
        continue
    acked.append(ticker)
print(json.dumps(acked))
"""


def test_racing_pushes_from_two_processes_lose_no_acknowledged_edit(
    backend: Backend, tmp_path: Path, seed_doc: dict[str, Any]
) -> None:
    a, b = two_copies(tmp_path, backend, seed_doc)
    go = tmp_path / "go"
    env = {**os.environ, **backend.env}
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(path), backend.url, tag, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for path, tag in ((a, "A"), (b, "B"))
    ]
    time.sleep(0.5)
    go.touch()
    acked: list[str] = []
    for racer in racers:
        out, err = racer.communicate(timeout=300)
        assert racer.returncode == 0, err
        acked += json.loads(out)
    assert len(acked) >= 10  # most pushes land; every one that did must be there
    fresh = write(tmp_path / "fresh.json", {"version": 1, "accounts": [{"id": "x"}],
                                            "holdings": [], "targets": {"CASH": 1.0}})  # fmt: skip
    pull(JsonFileCopy(fresh), open_remote(backend.url), None)
    tickers = {h["ticker"] for h in load(fresh)["holdings"]}
    assert set(acked) <= tickers
    assert len(read_remote(open_remote(backend.url), None).heads) == 1


KILLED_PUSH = """
import sys
from pathlib import Path
from xlrebalance.sync.engine import push
from xlrebalance.sync.files import JsonFileCopy
from xlrebalance.sync.remote import open_remote
push(JsonFileCopy(Path(sys.argv[1])), open_remote(sys.argv[2]), None)
print("done")
"""


def big_portfolio(n: int) -> dict[str, Any]:
    holdings = [
        {"account": f"acct{i % 7}", "ticker": f"T{i:04d}X", "quantity": i, "price": 10.0 + i}
        for i in range(n)
    ]
    return {
        "version": 1,
        "base_currency": "USD",
        "accounts": [{"id": f"acct{i}", "cash": {"USD": 1000.0 * i}} for i in range(7)],
        "holdings": holdings,
        "targets": {"CASH": 1.0},
    }


def test_a_push_killed_mid_upload_leaves_the_remote_valid(
    backend: Backend, tmp_path: Path, seed_doc: dict[str, Any]
) -> None:
    a, b = two_copies(tmp_path, backend, seed_doc)
    before = read_remote(open_remote(backend.url), None).heads[0][0]
    env = {**os.environ, **backend.env}
    if backend.proxied is not None:
        with backend.proxied() as (url, proxy_env, faults):
            for key, value in proxy_env.items():
                os.environ[key] = value
            try:
                pull(JsonFileCopy(b), open_remote(url), None)  # B's base now names this URL
            finally:
                for key, value in backend.env.items():
                    os.environ[key] = value
            write(b, big_portfolio(700))
            faults.hang_put = "/versions/"
            proc = subprocess.Popen(
                [sys.executable, "-c", KILLED_PUSH, str(b), url],
                env={**env, **proxy_env},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            assert faults.hung.wait(60), proc.communicate(timeout=5)
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=10)
            faults.hang_put = None
            view = read_remote(open_remote(backend.url), None)
            assert [h[0] for h in view.heads] == [before]  # the old version, intact
            again = [sys.executable, "-c", KILLED_PUSH, str(b), url]
            subprocess.run(again, env={**env, **proxy_env}, check=True, capture_output=True)
    else:
        write(b, big_portfolio(700))
        # A folder: kill the writer at several moments of its upload.
        for delay in (0.05, 0.15, 0.3, 0.5, 0.8):
            command = [sys.executable, "-c", KILLED_PUSH, str(b), backend.url]
            proc = subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=10)
            view = read_remote(open_remote(backend.url), None)  # never damaged
            assert len(view.heads) == 1
        # The interrupted copy pushes fine afterwards.
        push(JsonFileCopy(b), open_remote(backend.url), None)
    assert len(read_remote(open_remote(backend.url), None).heads) == 1
    pull(JsonFileCopy(a), open_remote(backend.url), None)
    assert len(load(a)["holdings"]) == 700


@pytest.mark.parametrize("fault", ["error", "timeout"])
def test_server_errors_and_timeouts_change_nothing_local(
    backend: Backend, tmp_path: Path, seed_doc: dict[str, Any], fault: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    if backend.proxied is None:
        pytest.skip("a folder has no server: see test_a_missing_folder_is_a_clear_error")
    a, b = two_copies(tmp_path, backend, seed_doc)
    set_quantity(a, "general", "VOO", 33)
    push(JsonFileCopy(a), open_remote(backend.url), None)
    set_quantity(b, "general", "QQQ", 44)
    saved = b.read_bytes(), sidecar(b).read_bytes()
    with backend.proxied() as (url, proxy_env, faults):
        for key, value in proxy_env.items():
            monkeypatch.setenv(key, value)
        if fault == "error":
            faults.error = 503
        else:
            faults.stall = 3.0
        for action in (pull, push, status):
            with pytest.raises(RemoteUnavailable) as caught:
                action(JsonFileCopy(b), open_remote(url, Options(timeout=0.5)), None)
            message = str(caught.value)
            assert url.split("://")[0] in message or "storage" in message
            if fault == "timeout":
                assert "did not answer in time" in message, message
            else:
                assert "storage failed" in message, message
            assert (b.read_bytes(), sidecar(b).read_bytes()) == saved
    # Once the storage is back, the same copy syncs.
    for key, value in backend.env.items():
        monkeypatch.setenv(key, value)
    push(JsonFileCopy(b), open_remote(backend.url), None)
    assert quantity(b, "general", "VOO") == 33 and quantity(b, "general", "QQQ") == 44


def test_a_missing_folder_is_a_clear_error(tmp_path: Path, seed_doc: dict[str, Any]) -> None:
    a = write(tmp_path / "a.json", seed_doc)
    saved = a.read_bytes()
    with pytest.raises(RemoteUnavailable, match="does not exist"):
        push(JsonFileCopy(a), open_remote((tmp_path / "nowhere").as_uri()), None)
    assert a.read_bytes() == saved and not sidecar(a).exists()


def test_a_damaged_remote_is_refused_and_not_overwritten(
    backend: Backend, tmp_path: Path, seed_doc: dict[str, Any]
) -> None:
    _, b = two_copies(tmp_path, backend, seed_doc)
    backend.damage(b"\x1f\x8b\x08\x00garbage that is not gzip")
    set_quantity(b, "general", "QQQ", 5)
    remote_before, local_before = backend.files(), (b.read_bytes(), sidecar(b).read_bytes())
    for action in (push, pull, status):
        with pytest.raises(RemoteCorrupt, match="damaged"):
            action(JsonFileCopy(b), open_remote(backend.url), None)
    assert backend.files() == remote_before
    assert (b.read_bytes(), sidecar(b).read_bytes()) == local_before


def test_encryption_wrong_passphrase_is_refused(
    backend: Backend, tmp_path: Path, seed_doc: dict[str, Any]
) -> None:
    a = write(tmp_path / "a.json", seed_doc)
    b = write(tmp_path / "b.json", seed_doc)
    push(JsonFileCopy(a), open_remote(backend.url), "correct horse")
    stored = b"".join(backend.files().values())
    assert b"QQQ" not in stored and b"general" not in stored  # the provider sees ciphertext
    remote_before, local_before = backend.files(), b.read_bytes()
    for secret in ("wrong horse", None):
        for action in (pull, push):
            with pytest.raises(PassphraseError) as caught:
                action(JsonFileCopy(b), open_remote(backend.url), secret)
            assert "Nothing was changed" in str(caught.value)
    assert backend.files() == remote_before and b.read_bytes() == local_before
    assert not sidecar(b).exists()
    pull(JsonFileCopy(b), open_remote(backend.url), "correct horse")
    assert sidecar(b).exists()


def test_a_folder_forked_by_a_sync_client_is_merged_not_lost(
    tmp_path: Path, seed_doc: dict[str, Any]
) -> None:
    """Two machines publish revision 2 before their sync client meets; the client keeps both
    (one under a conflict name). Both are heads; the next sync merges them."""
    remote_dir = tmp_path / "remote"
    remote_dir.mkdir()
    url = remote_dir.as_uri()
    a = write(tmp_path / "a.json", seed_doc)
    b = write(tmp_path / "b.json", seed_doc)
    push(JsonFileCopy(a), open_remote(url), None)
    pull(JsonFileCopy(b), open_remote(url), None)
    set_quantity(a, "general", "VOO", 31)
    push(JsonFileCopy(a), open_remote(url), None)
    theirs = remote_dir / "versions" / "00000002.xlrs"
    aside = tmp_path / "a-version"
    theirs.rename(aside)  # not yet delivered to B's machine
    set_quantity(b, "general", "QQQ", 42)
    assert push(JsonFileCopy(b), open_remote(url), None).revision == 2
    aside.rename(remote_dir / "versions" / "00000002 (1).xlrs")  # delivered, renamed
    assert len(read_remote(open_remote(url), None).heads) == 2
    assert status(JsonFileCopy(b), open_remote(url), None).action == "diverged"
    outcome = push(JsonFileCopy(b), open_remote(url), None)
    assert outcome.revision == 3 and outcome.conflicts == ()
    view = read_remote(open_remote(url), None)
    assert len(view.heads) == 1 and len(view.heads[0][1].parents) == 2
    pull(JsonFileCopy(a), open_remote(url), None)
    for copy in (a, b):
        assert quantity(copy, "general", "VOO") == 31 and quantity(copy, "general", "QQQ") == 42
