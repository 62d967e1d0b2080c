"""One fixture per storage back end, each a real server on 127.0.0.1 (or a real folder)."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from servers import (
    DAV_PASSWORD,
    DAV_USER,
    S3_BUCKET,
    Faults,
    fault_proxy,
    moto_server,
    webdav_server,
)

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "python" / "xlrebalance" / "templates" / "examples" / "seed.json"


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


@dataclass
class Backend:
    name: str
    url: str
    env: dict[str, str]
    files: Callable[[], dict[str, bytes]]
    """Every stored object under the remote, by name (to prove nothing was overwritten)."""
    damage: Callable[[bytes], None]
    """Replace the current version's bytes."""
    proxied: Callable[[], contextmanager[tuple[str, dict[str, str], Faults]]] | None  # type: ignore[type-arg]
    """A URL and environment that reach the same storage through a fault proxy."""


def _s3_backend(endpoint: str) -> Backend:
    import boto3

    prefix = f"t-{uuid.uuid4().hex[:10]}"
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "XLREBALANCE_SYNC_ENDPOINT": endpoint,
    }
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )

    def files() -> dict[str, bytes]:
        found = client.list_objects_v2(Bucket=S3_BUCKET, Prefix=prefix + "/").get("Contents", [])
        return {
            o["Key"]: client.get_object(Bucket=S3_BUCKET, Key=o["Key"])["Body"].read()
            for o in found
        }

    def damage(data: bytes) -> None:
        head = json.loads(client.get_object(Bucket=S3_BUCKET, Key=f"{prefix}/HEAD")["Body"].read())
        key = f"{prefix}/versions/{head['version']}.xlrs"
        client.put_object(Bucket=S3_BUCKET, Key=key, Body=data)

    @contextmanager
    def proxied() -> Iterator[tuple[str, dict[str, str], Faults]]:
        with fault_proxy(endpoint) as (url, faults):
            yield f"s3://{S3_BUCKET}/{prefix}", {**env, "XLREBALANCE_SYNC_ENDPOINT": url}, faults

    return Backend("s3", f"s3://{S3_BUCKET}/{prefix}", env, files, damage, proxied)


def _dav_backend(endpoint: str, root: Path) -> Backend:
    name = f"t-{uuid.uuid4().hex[:10]}"
    folder = root / name
    folder.mkdir()
    host = endpoint.split("://", 1)[1]
    env = {"XLREBALANCE_WEBDAV_USER": DAV_USER, "XLREBALANCE_WEBDAV_PASSWORD": DAV_PASSWORD}

    def files() -> dict[str, bytes]:
        return {
            str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()
        }

    def damage(data: bytes) -> None:
        head = json.loads((folder / "HEAD").read_text())
        (folder / "versions" / f"{head['version']}.xlrs").write_bytes(data)

    @contextmanager
    def proxied() -> Iterator[tuple[str, dict[str, str], Faults]]:
        with fault_proxy(endpoint) as (url, faults):
            yield f"webdav+http://{url.split('://', 1)[1]}/{name}", env, faults

    return Backend("webdav", f"webdav+http://{host}/{name}", env, files, damage, proxied)


def _folder_backend(root: Path) -> Backend:
    root.mkdir()

    def files() -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    def damage(data: bytes) -> None:
        newest = sorted((root / "versions").glob("*.xlrs"))[-1]
        newest.write_bytes(data)

    return Backend("folder", root.as_uri(), {}, files, damage, None)


@pytest.fixture(params=["folder", "s3", "webdav"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Backend:
    monkeypatch.delenv("XLREBALANCE_SYNC_PASSPHRASE", raising=False)
    if request.param == "folder":
        made = _folder_backend(tmp_path / "remote")
    elif request.param == "s3":
        made = _s3_backend(request.getfixturevalue("s3_endpoint"))
    else:
        made = _dav_backend(*request.getfixturevalue("dav_endpoint"))
    for key, value in made.env.items():
        monkeypatch.setenv(key, value)
    return made


@pytest.fixture
def seed_doc() -> dict[str, object]:
    data: dict[str, object] = json.loads(SEED.read_text(encoding="utf-8"))
    return data
