"""Push and pull of a 700-row portfolio through each back end, against local servers
(a folder, moto's S3 server, wsgidav): time, bytes sent and round trips.

    .venv/bin/python bench/sync.py [--rows 700]

The S3 client is created once before timing (a new aiobotocore client costs about a second,
once per process); every figure after that is one full push or pull: read, decode, merge,
validate, encode, conditional write, local save.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "sync"))

from sync_servers import DAV_PASSWORD, DAV_USER, S3_BUCKET, moto_server, webdav_server  # noqa: E402

from xlrebalance.sync.engine import pull, push  # noqa: E402
from xlrebalance.sync.files import JsonFileCopy  # noqa: E402
from xlrebalance.sync.remote import open_remote  # noqa: E402


def portfolio(rows: int) -> dict[str, object]:
    accounts = [f"acct{i}" for i in range(7)]
    return {
        "version": 1,
        "base_currency": "KRW",
        "fx": {"USDKRW": 1450.0},
        "accounts": [{"id": a, "cash": {"KRW": 1e6, "USD": 500.0}} for a in accounts],
        "holdings": [
            {
                "account": accounts[i % 7],
                "ticker": f"T{i:04d}X",
                "quantity": i + 1,
                "price": 10.0 + i,
                "name": f"Holding number {i}",
                "locked": i % 50 == 0,
            }
            for i in range(rows)
        ],
        "targets": {"CASH": 1.0},
        "groups": [{"name": "Tech", "tickers": ["T0001X", "T0002X"], "max_weight": 0.3}],
    }


def measure(name: str, url: str, rows: int, work: Path, secret: str | None) -> None:
    a, b = work / f"{name}-a.json", work / f"{name}-b.json"
    a.write_text(json.dumps(portfolio(rows)))
    b.write_text(json.dumps({"version": 1, "accounts": [{"id": "x"}], "holdings": [],
                             "targets": {"CASH": 1.0}}))  # fmt: skip
    open_remote(url).read()  # warm the client (S3: one aiobotocore client per process)
    steps = []
    for label, action, path in (
        ("push (first, 700 rows)", push, a),
        ("pull (fresh copy)", pull, b),
    ):
        remote = open_remote(url)
        start = time.perf_counter()
        action(JsonFileCopy(path), remote, secret)
        steps.append((label, time.perf_counter() - start, remote.stats))
    doc = json.loads(b.read_text())
    doc["holdings"][3]["quantity"] += 1
    b.write_text(json.dumps(doc))
    for label, action, path in (("push (one edit)", push, b), ("pull (one edit)", pull, a)):
        remote = open_remote(url)
        start = time.perf_counter()
        action(JsonFileCopy(path), remote, secret)
        steps.append((label, time.perf_counter() - start, remote.stats))
    mode = "encrypted" if secret else "plain"
    for label, seconds, stats in steps:
        print(
            f"{name:7} {mode:9} {label:24} {seconds * 1000:7.0f} ms  "
            f"{stats.bytes_sent:8} B sent  {stats.bytes_received:8} B received  "
            f"{stats.round_trips:3} round trips"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=700)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ.update(
            AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
        )
        os.environ.update(
            XLREBALANCE_WEBDAV_USER=DAV_USER, XLREBALANCE_WEBDAV_PASSWORD=DAV_PASSWORD
        )
        (work / "dav").mkdir()
        with moto_server() as s3, webdav_server(work / "dav") as dav:
            import boto3

            boto3.client("s3", endpoint_url=s3, region_name="us-east-1").create_bucket(
                Bucket=S3_BUCKET
            )
            os.environ["XLREBALANCE_SYNC_ENDPOINT"] = s3
            for secret in (None, "bench passphrase"):
                tag = "enc" if secret else "plain"
                folder = work / f"folder-{tag}"
                folder.mkdir()
                measure("folder", folder.as_uri(), args.rows, work, secret)
                measure("s3", f"s3://{S3_BUCKET}/{tag}", args.rows, work, secret)
                dav_url = f"webdav+http://{dav.split('://', 1)[1]}/{tag}"
                measure("webdav", dav_url, args.rows, work, secret)


if __name__ == "__main__":
    main()
