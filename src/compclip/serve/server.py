"""Run the inspection service: kserve's model server on the chosen host, with a body-size limit and
kserve's model repository extension closed.

kserve 0.21's REST server builds its ``uvicorn.Config`` with ``host="0.0.0.0"`` and no way to
change it. :class:`ModelServer` sets the config's ``host`` after kserve built it and before
uvicorn binds (uvicorn reads it only when it starts serving), so the service listens on
127.0.0.1 unless told otherwise. gRPC stays off (it would bind every interface).

Per request, kserve logs three timing lines (``kserve.trace``) and uvicorn an access line, and
FastAPI warns that kserve's response class is deprecated: five synchronous writes to stdout on the
event loop for every request. The service's Prometheus metrics count and time requests instead, so
:func:`serve` leaves those off (``access_log`` turns uvicorn's access lines back on).

kserve registers the V2 model repository extension (``POST /v2/repository/models/NAME/load`` and
``.../unload``) with no option to leave it out: anyone reaching the port could unload the model
for good while liveness stays green. :class:`ClosedPaths` answers 404 under that prefix.
"""

from __future__ import annotations

import json
import logging
import warnings

import kserve
from fastapi.exceptions import FastAPIDeprecationWarning
from kserve import model_server

from compclip.serve import metrics
from compclip.serve.config import ServeConfig
from compclip.serve.model import InspectionModel

log = logging.getLogger(__name__)


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` gets 413 before the app reads it."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(send, int(declared))
        chunks, size, more = [], 0, True
        while more:  # read the body (also a chunked one) up to the limit
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self._refuse(send, size)
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)

    async def _refuse(self, send, size: int) -> None:
        metrics.REFUSED.labels("payload_too_large").inc()
        text = f"request body of {size} bytes or more exceeds the limit of {self.max_bytes} bytes"
        content = json.dumps({"error": text}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": content})


class ClosedPaths:
    """ASGI middleware: any request under one of ``prefixes`` gets 404 before the app sees it."""

    def __init__(self, app, prefixes: tuple[str, ...]) -> None:
        self.app, self.prefixes = app, prefixes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            return await self.app(scope, receive, send)
        metrics.REFUSED.labels("closed_path").inc()
        content = json.dumps({"error": f"{scope['path']} is not served"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": 404, "headers": headers})
        await send({"type": "http.response.body", "body": content})


REPOSITORY = ("/v2/repository/",)  # kserve's model repository extension: load and unload


class ModelServer(kserve.ModelServer):
    """kserve's model server, its REST server bound to ``host``."""

    def __init__(self, host: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.host = host

    async def _serve(self) -> None:
        self._rest_server.config.host = self.host
        log.info("listening on http://%s:%d", self.host, self.http_port)
        await super()._serve()


def quiet_requests(access_log: bool) -> None:
    """No log line or warning per request (kserve's timings, FastAPI's deprecation; uvicorn's access
    line unless ``access_log``)."""
    logging.getLogger("kserve.trace").setLevel(logging.WARNING)
    if not access_log:
        logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=FastAPIDeprecationWarning)


def serve(source: str, name: str, config: ServeConfig | None = None) -> None:
    """Load ``source`` as model ``name`` and serve it until interrupted."""
    config = config or ServeConfig()
    model = InspectionModel(name, source, config)
    model.load()
    model_server.app.add_middleware(BodyLimit, max_bytes=config.max_payload_bytes)
    model_server.app.add_middleware(ClosedPaths, prefixes=REPOSITORY)
    quiet_requests(config.access_log)
    server = ModelServer(
        config.host, http_port=config.port, enable_grpc=False, workers=1, enable_latency_logging=False
    )
    server.start([model])
