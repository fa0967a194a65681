"""The inspection service's ``kserve.Model``: a compclip model folder answering inspections and
zero-shot queries over KServe's V1 and V2 protocols (see :mod:`compclip.serve.payloads`)."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import re

import kserve
import torch
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferRequest, InferResponse
from PIL import Image

from compclip.devices import resolve_device
from compclip.errors import UserError
from compclip.models import load_model, parse_source
from compclip.serve import metrics
from compclip.serve.config import ServeConfig
from compclip.serve.engine import Batcher, Engine
from compclip.serve.inspection import HardNegatives
from compclip.serve.payloads import INPUTS, OUTPUTS, Parser, v1_response, v2_response

log = logging.getLogger(__name__)

WARM_UP = "a red cube to the left of a blue ring"
SHA256 = re.compile(r"[0-9a-f]{64}")


class InspectionModel(kserve.Model):
    """Loads a model folder (local path, ``s3://`` registry version or KServe's ``/mnt/models``)."""

    def __init__(self, name: str, source: str, config: ServeConfig | None = None) -> None:
        super().__init__(name)
        self.source = source
        self.config = config or ServeConfig()
        self.parser: Parser | None = None
        self.batcher: Batcher | None = None

    def load(self) -> bool:
        """Read and verify the folder (manifest sha256, safetensors only), answer one inspection
        to warm the model and WordNet, then report ready."""
        try:
            folder = parse_source(self.source).kind == "folder"
        except UserError:
            folder = False
        if not folder:
            raise UserError(
                f"no model folder at {self.source!r}: "
                "give a folder, s3://BUCKET/registry/NAME/vN/ or /mnt/models"
            )
        pinned = self.config.manifest_sha256
        if pinned is not None and not SHA256.fullmatch(pinned):
            raise UserError(
                f"--manifest-sha256 {pinned!r} is not a sha256 (64 hex digits); "
                "`compclip deploy render` sets it from the registry alias"
            )
        device = resolve_device(self.config.device)
        torch.set_num_threads(self.config.threads)
        bundle = load_model(self.source, device=str(device), manifest_sha256=self.config.manifest_sha256)
        engine = Engine(bundle, device, self.config.text_cache)
        negatives = HardNegatives(self.config.per_type, self.config.seed, self.config.filter)
        self.parser = Parser(self.config, bundle.preprocess, negatives)
        self.batcher = Batcher(
            engine.answer,
            self.config.max_batch,
            self.config.batch_wait_ms,
            lambda n, seconds: metrics.observe_pass(self.name, n, seconds),
        )
        engine.answer(self.parser.v1({"instances": [{"image": blank_png(), "specification": WARM_UP}]}))
        log.info("model %s loaded from %s (%s) on %s", self.name, self.source, bundle.name, device)
        self.ready = True
        return self.ready

    async def predict(
        self, payload: dict | InferRequest, headers: dict | None = None
    ) -> dict | InferResponse:
        v2 = isinstance(payload, InferRequest)
        parse = self.parser.v2 if v2 else self.parser.v1
        try:  # decoding images and generating negatives stay off the event loop
            queries = await asyncio.get_running_loop().run_in_executor(None, parse, payload)
        except InvalidInput:
            metrics.REFUSED.labels("invalid_input").inc()
            raise
        answers = await self.batcher.submit(queries)
        metrics.count_answers(self.name, answers)
        return v2_response(payload, self.name, answers) if v2 else v1_response(answers)

    def get_input_types(self) -> list[dict]:
        return [dict(spec) for spec in INPUTS]

    def get_output_types(self) -> list[dict]:
        return [dict(spec) for spec in OUTPUTS]

    def stop(self) -> None:
        if self.batcher is not None:
            self.batcher.close()
        super().stop()


def blank_png(size: int = 64) -> str:
    """A grey square as base64 PNG."""
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (128, 128, 128)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()
