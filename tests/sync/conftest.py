"""One fixture per storage back end, each a real server on 127.0.0.1 (or a real folder)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from sync_backends import (
    SEED,
    Backend,
    dav_backend,
    folder_backend,
    s3_backend,
)
from sync_servers import S3_BUCKET, moto_server, webdav_server


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=S3_BUCKET)
        yield endpoint


@pytest.fixture(scope="session")
def dav_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("dav")
    with webdav_server(root) as endpoint:
        yield endpoint, root


@pytest.fixture(params=["folder", "s3", "webdav"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Backend:
    monkeypatch.delenv("XLREBALANCE_SYNC_PASSPHRASE", raising=False)
    if request.param == "folder":
        made = folder_backend(tmp_path / "remote")
    elif request.param == "s3":
        made = s3_backend(request.getfixturevalue("s3_endpoint"))
    else:
        made = dav_backend(*request.getfixturevalue("dav_endpoint"))
    for key, value in made.env.items():
        monkeypatch.setenv(key, value)
    return made


@pytest.fixture
def seed_doc() -> dict[str, object]:
    data: dict[str, object] = json.loads(SEED.read_text(encoding="utf-8"))
    return data
