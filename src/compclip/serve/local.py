"""The inspection service on loopback in a child process, for the demo, the tests and the load benchmark.

``start`` runs ``python -m compclip.serve`` on a free port of 127.0.0.1, waits until the model
reports ready, and returns its URL and process id; ``predict`` sends V1 instances and returns the
answers; ``stop`` ends its process group.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from compclip.errors import UserError
from compclip.s3local import stop_pid


@dataclass(frozen=True)
class Endpoint:
    """Where a model answers: the service's base URL and the model's name in its paths."""

    url: str
    name: str


@dataclass(frozen=True)
class LocalService(Endpoint):
    pid: int
    log: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(
    model: str, name: str, log: Path, args: tuple[str, ...] = (), timeout: float = 300.0
) -> LocalService:
    """Serve ``model`` as ``name`` (extra ``compclip serve`` flags in ``args``); return once it is ready."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "compclip.serve",
        "--model",
        str(model),
        "--name",
        name,
        "--port",
        str(port),
    ]
    with Path(log).open("wb") as out:
        process = subprocess.Popen(
            [*command, *args], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    service = LocalService(f"http://127.0.0.1:{port}", name, process.pid, str(log))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise UserError(f"compclip serve exited with {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"{service.url}/v2/models/{name}/ready", timeout=5) as response:
                if response.status == 200:
                    return service
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    stop(service)
    raise UserError(f"compclip serve was not ready in {timeout:.0f}s; see {log}")


def predict(service: Endpoint, instances: list[dict], timeout: float = 120.0) -> list[dict]:
    """The answers to V1 ``instances`` (see :mod:`compclip.serve.payloads`); a refusal is a UserError
    carrying the service's message."""
    request = urllib.request.Request(
        f"{service.url}/v1/models/{service.name}:predict",
        data=json.dumps({"instances": instances}).encode(),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())["predictions"]
    except urllib.error.HTTPError as err:
        message = err.read().decode(errors="replace")
        raise UserError(f"inspection service answered {err.code}: {message}") from None
    except (urllib.error.URLError, OSError) as err:  # refused, unknown host, timed out
        reason = getattr(err, "reason", err)
        raise UserError(f"no inspection service answers at {service.url} ({reason})") from None
    except (ValueError, KeyError):
        raise UserError(
            f"{service.url} answered, but not as an inspection service (no predictions)"
        ) from None


def stop(service: LocalService) -> None:
    stop_pid(service.pid)
