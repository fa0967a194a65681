"""Every task of a local run in its own image: kfp's ``DockerRunner`` on podman's Docker API.

``podman system service`` serves the API on a socket of the run's own (``DOCKER_HOST``) while the
run lasts. Each task runs in its family's image of this checkout (``make image-core images-torch``
builds them; the content tag, as ``pipeline compile`` names them) as on a cluster: a read-only
root with ``/tmp`` writable. It runs as this machine's user, because the pipeline root is a bind
mount the task writes into, with the host's network and this environment's S3 settings
(``AWS_*``), so the loopback S3 server of ``make demo`` is reached as outside.

kfp 2.17's ``DockerRunner`` starts each container with auto-removal and reads its exit status after
the log stream ends; on podman the container is often removed by then, and kfp counts a status it
could not read as success, so a failed task passed. :func:`run_container` replaces kfp's launch
function for the run (kfp picks its task handler by the runner's exact type, so a runner subclass
cannot bring its own): the container is removed only after its status is read, and a non-zero
status fails the task.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from compclip.errors import UserError

# What a task sees of this environment: the S3 endpoint and credentials, nothing else.
PASSED_ENV = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
SERVICE_START_SECONDS = 30.0


def run_container(client, image: str, command: list[str], volumes: dict[str, Any], **run_args) -> int:
    """Run ``command`` in ``image``, print its log line by line as it comes, and return its exit
    status; the container is removed after its status is read."""
    import docker

    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise UserError(
            f"no image {image} here: `make image-core images-torch` builds this checkout's"
        ) from None
    container = client.containers.run(image=image, command=command, volumes=volumes, detach=True, **run_args)
    try:
        pending = b""  # podman streams the log in pieces; it is printed a whole line at a time
        for chunk in container.logs(stream=True, follow=True):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                print(line.decode(errors="replace"))
        if pending:
            print(pending.decode(errors="replace"))
        return container.wait()["StatusCode"]
    finally:
        container.remove(force=True)


def task_settings() -> dict[str, Any]:
    """The ``docker run`` settings of every task (see the module's docstring)."""
    return {
        "user": f"{os.getuid()}:{os.getgid()}",
        "read_only": True,
        "tmpfs": {"/tmp": "rw,exec"},
        "network_mode": "host",
        "environment": {k: os.environ[k] for k in PASSED_ENV if k in os.environ},
    }


@contextmanager
def podman_service() -> Iterator[str]:
    """A podman API service on a socket of its own while the block runs; yields its ``unix://`` URL."""
    with tempfile.TemporaryDirectory(prefix="compclip-podman-") as tmp:
        url = f"unix://{Path(tmp) / 'podman.sock'}"
        try:
            service = subprocess.Popen(
                ["podman", "system", "service", "--time=0", url], stderr=subprocess.PIPE
            )
        except FileNotFoundError:
            raise UserError("the containers runner needs podman (`make image-tools` installs it)") from None
        try:
            deadline = time.monotonic() + SERVICE_START_SECONDS
            while not (Path(tmp) / "podman.sock").exists():
                if service.poll() is not None or time.monotonic() > deadline:
                    problem = service.stderr.read().decode(errors="replace").strip() if service.stderr else ""
                    raise UserError(
                        f"podman's API service did not start: {problem.splitlines()[-1:] or 'timeout'}"
                    )
                time.sleep(0.1)
            yield url
        finally:
            service.terminate()
            service.wait(timeout=30)


@contextmanager
def container_runner() -> Iterator[Any]:
    """kfp's ``DockerRunner`` for this machine's podman, with :func:`run_container` launching tasks."""
    from kfp import local
    from kfp.local import docker_task_handler

    with podman_service() as url:
        saved_host, saved_launch = os.environ.get("DOCKER_HOST"), docker_task_handler.run_docker_container
        os.environ["DOCKER_HOST"] = url
        docker_task_handler.run_docker_container = run_container
        try:
            yield local.DockerRunner(**task_settings())
        finally:
            docker_task_handler.run_docker_container = saved_launch
            if saved_host is None:
                os.environ.pop("DOCKER_HOST", None)
            else:
                os.environ["DOCKER_HOST"] = saved_host
