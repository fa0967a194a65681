"""Requests to the inspection service, parsed and checked into queries; answers back into responses.

One instance is an image with either a ``specification`` (inspection: against the hard negatives
generated from it, or the ``candidates`` given) or ``labels`` (zero-shot):

- V1, ``POST /v1/models/NAME:predict``: ``{"instances": [{"image": B64, "specification": "...",
  "candidates": [...], "types": [...]}, {"image": B64, "labels": [...]}]}`` ->
  ``{"predictions": [answer, ...]}``;
- V2 (Open Inference Protocol), ``POST /v2/models/NAME/infer``: inputs ``image`` (BYTES, shape
  [N], base64 PNG or JPEG) and ``query`` (BYTES, shape [N], a JSON object holding an instance's
  other fields) -> output ``result`` (BYTES, shape [N], each answer as JSON). A declared shape
  or datatype that is not the data's is refused.

A request may decode at most ``max_request_pixels`` pixels (each image's size read from its
header, before decoding) and score at most ``max_request_texts`` texts, so one request cannot
take seconds of CPU.

A candidate is a caption or ``{"caption": ..., "type": ...}`` (type ``given`` when left out);
``types`` picks the generated types. Every problem raises kserve's ``InvalidInput`` (HTTP 400)
naming the instance and field; nothing here touches the model.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferInput, InferOutput, InferRequest, InferResponse
from PIL import Image, UnidentifiedImageError

from compclip.negatives.types import TYPES
from compclip.serve.config import ServeConfig
from compclip.serve.inspection import GIVEN

FIELDS = {"image", "specification", "candidates", "types", "labels"}
INPUTS = (
    {"name": "image", "datatype": "BYTES", "shape": [-1]},
    {"name": "query", "datatype": "BYTES", "shape": [-1]},
)
OUTPUTS = ({"name": "result", "datatype": "BYTES", "shape": [-1]},)
FORMATS = ("PNG", "JPEG")

Negatives = Callable[[str, tuple[str, ...]], list[tuple[str, str]]]


@dataclass(frozen=True)
class Query:
    """One checked instance: the preprocessed image and the texts to score it against."""

    kind: str  # inspect | zeroshot
    image: torch.Tensor
    texts: tuple[str, ...]  # candidate captions or labels
    types: tuple[str, ...] = ()  # each candidate's type (inspection)
    specification: str = ""


@dataclass
class Budget:
    """What one request may decode (pixels) and score (texts) in all, and what it used so far."""

    max_pixels: int
    max_texts: int
    pixels: int = 0
    texts: int = 0

    def take(self, where: str, pixels: int = 0, texts: int = 0) -> None:
        self.pixels, self.texts = self.pixels + pixels, self.texts + texts
        if self.pixels > self.max_pixels:
            raise InvalidInput(
                f"{where}: the request's images exceed {self.max_pixels} pixels in all, the limit"
            )
        if self.texts > self.max_texts:
            raise InvalidInput(f"{where}: the request holds over {self.max_texts} texts to score, the limit")


class Parser:
    """Turns V1 and V2 request bodies into queries under the service's limits."""

    def __init__(self, config: ServeConfig, preprocess: Callable, negatives: Negatives) -> None:
        self.config = config
        self.preprocess = preprocess
        self.negatives = negatives

    def v1(self, body: Any) -> list[Query]:
        instances = body.get("instances") if isinstance(body, dict) else None
        if not isinstance(instances, list) or not instances:
            raise InvalidInput('expected {"instances": [...]} with at least one instance')
        self._count(len(instances))
        budget = self._budget()
        return [self.instance(fields, f"instances[{i}]", budget) for i, fields in enumerate(instances)]

    def v2(self, request: InferRequest) -> list[Query]:
        given = {tensor.name: tensor for tensor in request.inputs}
        names = sorted(given)
        if names != ["image", "query"]:
            raise InvalidInput(f"expected the BYTES inputs 'image' and 'query', got {names}")
        images, queries = (_strings(given[name]) for name in ("image", "query"))
        if len(images) != len(queries):
            raise InvalidInput(f"'image' has {len(images)} elements but 'query' has {len(queries)}")
        self._count(len(images))
        budget, out = self._budget(), []
        for i, (image, text) in enumerate(zip(images, queries, strict=True)):
            try:
                fields = json.loads(text)
            except json.JSONDecodeError as err:
                raise InvalidInput(f"query[{i}]: not JSON ({err})") from None
            if not isinstance(fields, dict) or "image" in fields:
                raise InvalidInput(
                    f"query[{i}]: expected a JSON object without 'image' (the image is its own input)"
                )
            out.append(self.instance({**fields, "image": image}, f"query[{i}]", budget))
        return out

    def _count(self, n: int) -> None:
        if n > self.config.max_instances:
            raise InvalidInput(f"{n} instances in one request; the limit is {self.config.max_instances}")

    def _budget(self) -> Budget:
        return Budget(self.config.max_request_pixels, self.config.max_request_texts)

    def instance(self, fields: Any, where: str, budget: Budget) -> Query:
        """One instance as a query, charged to its request's ``budget``."""
        if not isinstance(fields, dict):
            raise InvalidInput(f"{where}: expected an object with 'image' and 'specification' or 'labels'")
        unknown = sorted(set(fields) - FIELDS)
        if unknown:
            raise InvalidInput(f"{where}: unknown fields {unknown}; known: {sorted(FIELDS)}")
        if "image" not in fields:
            raise InvalidInput(f"{where}: missing field 'image' (a base64 PNG or JPEG)")
        if ("specification" in fields) == ("labels" in fields):
            raise InvalidInput(
                f"{where}: give exactly one of 'specification' (inspection) or 'labels' (zero-shot)"
            )
        if "labels" in fields:
            if "candidates" in fields or "types" in fields:
                raise InvalidInput(f"{where}: 'candidates' and 'types' go with 'specification', not 'labels'")
            labels = self._texts(fields["labels"], f"{where}.labels")
            budget.take(f"{where}.labels", texts=len(labels))
            return Query("zeroshot", self._image(fields["image"], f"{where}.image", budget), labels)
        specification = self._caption(fields["specification"], f"{where}.specification")
        if "candidates" in fields:
            if "types" in fields:
                raise InvalidInput(
                    f"{where}: 'types' chooses generated negatives; drop it when giving 'candidates'"
                )
            captions, types = self._candidates(fields["candidates"], f"{where}.candidates")
        else:
            pairs = self.negatives(specification, self._types(fields.get("types"), f"{where}.types"))
            if not pairs:
                raise InvalidInput(
                    f"{where}: no hard negative of the chosen types can be generated from {specification!r}; "
                    "give 'candidates' explicitly"
                )
            captions, types = (tuple(x) for x in zip(*pairs, strict=True))
        budget.take(where, texts=1 + len(captions))
        image = self._image(fields["image"], f"{where}.image", budget)
        return Query("inspect", image, captions, types, specification)

    def _caption(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(f"{where}: expected a non-empty string")
        if len(value) > self.config.max_caption_chars:
            raise InvalidInput(
                f"{where}: {len(value)} characters; the limit is {self.config.max_caption_chars}"
            )
        return value.strip()

    def _list(self, value: Any, where: str) -> list:
        if not isinstance(value, list) or not value:
            raise InvalidInput(f"{where}: expected a non-empty list")
        if len(value) > self.config.max_candidates:
            raise InvalidInput(f"{where}: {len(value)} given; the limit is {self.config.max_candidates}")
        return value

    def _texts(self, value: Any, where: str) -> tuple[str, ...]:
        return tuple(self._caption(v, f"{where}[{i}]") for i, v in enumerate(self._list(value, where)))

    def _candidates(self, value: Any, where: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        captions, types = [], []
        for i, item in enumerate(self._list(value, where)):
            if isinstance(item, dict):
                if "caption" not in item or set(item) - {"caption", "type"}:
                    raise InvalidInput(
                        f"{where}[{i}]: a candidate object has 'caption' and optionally 'type'"
                    )
                kind = item.get("type", GIVEN)
                if not isinstance(kind, str) or not kind:
                    raise InvalidInput(f"{where}[{i}].type: expected a non-empty string")
                captions.append(self._caption(item["caption"], f"{where}[{i}].caption"))
                types.append(kind)
            else:
                captions.append(self._caption(item, f"{where}[{i}]"))
                types.append(GIVEN)
        return tuple(captions), tuple(types)

    def _types(self, value: Any, where: str) -> tuple[str, ...]:
        if value is None:
            return self.config.types
        if not isinstance(value, list) or not value or any(t not in TYPES for t in value):
            raise InvalidInput(f"{where}: expected a non-empty list of {', '.join(TYPES)}")
        return tuple(dict.fromkeys(value))

    def _image(self, value: Any, where: str, budget: Budget) -> torch.Tensor:
        """The preprocessed image of a base64 PNG or JPEG within the pixel limits."""
        if not isinstance(value, str) or not value:
            raise InvalidInput(f"{where}: expected a base64 string of a PNG or JPEG image")
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(f"{where}: not valid base64") from None
        limit = self.config.max_pixels
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit applies
                image = Image.open(io.BytesIO(data), formats=FORMATS)
        except Image.DecompressionBombError:
            raise InvalidInput(f"{where}: the image has more than {limit} pixels, the limit") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            raise InvalidInput(f"{where}: not a PNG or JPEG image") from None
        width, height = image.size
        if width * height > limit:
            raise InvalidInput(f"{where}: the image has {width}x{height} pixels; the limit is {limit}")
        budget.take(where, pixels=width * height)
        try:
            image = image.convert("RGB")
        except (OSError, ValueError, SyntaxError):
            raise InvalidInput(f"{where}: the {image.format} data is truncated or corrupt") from None
        return self.preprocess(image)


def _strings(tensor: InferInput) -> list[str]:
    """The elements of a BYTES input of shape [N], as text."""
    if tensor.datatype != "BYTES":
        raise InvalidInput(f"input '{tensor.name}': expected datatype BYTES, got {tensor.datatype}")
    flat = _flat(tensor)
    if list(tensor.shape or []) != [len(flat)]:
        raise InvalidInput(
            f"input '{tensor.name}': declared shape {list(tensor.shape or [])} but {len(flat)} "
            f"elements; expected shape [N] with N elements"
        )
    return flat


def _flat(tensor: InferInput) -> list[str]:
    data, flat = tensor.data, []
    stack = [data] if not isinstance(data, list) else list(reversed(data))
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, bytes):
            try:
                flat.append(item.decode("utf-8"))
            except UnicodeDecodeError:
                raise InvalidInput(f"input '{tensor.name}': elements must be UTF-8 text") from None
        elif isinstance(item, str):
            flat.append(item)
        else:
            raise InvalidInput(f"input '{tensor.name}': elements must be strings, got {type(item).__name__}")
    return flat


def v1_response(answers: list[dict]) -> dict:
    return {"predictions": answers}


def v2_response(request: InferRequest, model_name: str, answers: list[dict]) -> InferResponse:
    results = [json.dumps(answer) for answer in answers]
    output = InferOutput("result", [len(results)], "BYTES", data=results)
    return InferResponse(request.id or str(uuid.uuid4()), model_name, [output])
