"""The storage back ends the sync tests run against (a folder, moto's S3, wsgidav)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sync_servers import DAV_PASSWORD, DAV_USER, S3_BUCKET, Faults, fault_proxy

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "python" / "xlrebalance" / "templates" / "examples" / "seed.json"


@dataclass
class Backend:
    name: str
    url: str
    env: dict[str, str]
    files: Callable[[], dict[str, bytes]]
    """Every stored object under the remote, by name (to prove nothing was overwritten)."""
    damage: Callable[[bytes], None]
    """Replace the current version's bytes."""
    proxied: Callable[[], AbstractContextManager[tuple[str, dict[str, str], Faults]]] | None
    """A URL and environment that reach the same storage through a fault proxy."""


def s3_backend(endpoint: str) -> Backend:
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


def dav_backend(endpoint: str, root: Path) -> Backend:
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


def folder_backend(root: Path) -> Backend:
    root.mkdir()

    def files() -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    def damage(data: bytes) -> None:
        newest = sorted((root / "versions").glob("*.xlrs"))[-1]
        newest.write_bytes(data)

    return Backend("folder", root.as_uri(), {}, files, damage, None)
