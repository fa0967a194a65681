"""Answers from LLaVA-1.5 through transformers (``LlavaForConditionalGeneration``), batched, greedy.

The prompt is LLaVA-1.5's evaluation prompt in its ``vicuna_v1`` conversation: the Vicuna system
line, then ``USER: <image>\\n{question}\\nAnswer the question using a single word or phrase.
ASSISTANT:``, with TextVQA's ``Reference OCR token: ...`` line after the question as in LLaVA's
``llava_textvqa_val_v051_ocr.jsonl``. Images are padded to a square with the image processor's
mean colour before the processor sees them (LLaVA-1.5's ``image_aspect_ratio: pad``), where the
processor alone would centre-crop. Answers are decoded greedily, so they do not depend on a seed.
Predictions are rows in LLaVA's evaluation JSONL format.
"""

from __future__ import annotations

import io
import logging
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

from PIL import Image

from compclip.config import Checked, PositiveInt
from compclip.devices import resolve_device
from compclip.errors import UserError
from compclip.storage import local_dir, open_uri
from compclip.vqa.data import Question

log = logging.getLogger(__name__)

DEFAULT_LLAVA = "llava-hf/llava-1.5-7b-hf"
SYSTEM = (
    "A chat between a curious human and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the human's questions."
)
INSTRUCTION = "Answer the question using a single word or phrase."
PROMPT = SYSTEM + " USER: <image>\n{text} ASSISTANT:"
IMAGE_PATTERNS = {"vqav2": "COCO_val2014_{image_id:012d}.jpg", "textvqa": "{image_id}.jpg"}


@dataclass(frozen=True)
class LlavaConfig(Checked):
    model: str = DEFAULT_LLAVA  # hub name, local folder or s3:// URI
    batch_size: PositiveInt = 16
    max_new_tokens: PositiveInt = 16
    image_pattern: str | None = None  # image file name from {image_id}; default per dataset
    pad_to_square: bool = True  # LLaVA-1.5's image_aspect_ratio: pad (False: the processor's crop)
    dtype: str = "float16"
    device: str = "auto"


class Answerer(Protocol):
    def answer(self, questions: list[Question]) -> list[str]: ...


def image_name(pattern: str, image_id: str) -> str:
    return pattern.format(image_id=int(image_id) if image_id.isdigit() else image_id)


def user_text(question: Question) -> str:
    """The question as LLaVA's evaluation files put it: TextVQA's OCR tokens on a line of their own."""
    lines = [question.question]
    if question.ocr_tokens:
        lines.append("Reference OCR token: " + ", ".join(question.ocr_tokens))
    return "\n".join([*lines, INSTRUCTION])


def prompt(question: Question) -> str:
    return PROMPT.format(text=user_text(question))


def pad_to_square(image: Image.Image, fill: tuple[int, ...]) -> Image.Image:
    """``image`` centred on a square of colour ``fill`` (LLaVA's ``expand2square``)."""
    width, height = image.size
    if width == height:
        return image
    side = max(width, height)
    square = Image.new(image.mode, (side, side), fill)
    square.paste(image, ((side - width) // 2, (side - height) // 2))
    return square


def prediction(question: Question, text: str, model_id: str) -> dict:
    """One line of LLaVA's evaluation JSONL (``prompt``: the question as LLaVA's files hold it)."""
    return {"question_id": question.question_id, "prompt": user_text(question), "text": text,
            "answer_id": f"{model_id}:{question.question_id}", "model_id": model_id,
            "metadata": {}}  # fmt: skip


class LlavaAnswerer:
    """A LLaVA model and its processor answering questions about images of a folder."""

    def __init__(self, model: Any, processor: Any, config: LlavaConfig, images: str, pattern: str) -> None:
        self.model, self.processor, self.config, self.images, self.pattern = (
            model,
            processor,
            config,
            images,
            pattern,
        )
        self.processor.tokenizer.padding_side = "left"

    @classmethod
    def load(cls, config: LlavaConfig, images: str, dataset: str) -> LlavaAnswerer:
        import torch
        from transformers import AutoProcessor, LlavaForConditionalGeneration

        device = resolve_device(config.device)
        log.info("loading %s on %s (%s)", config.model, device, config.dtype)
        remote = config.model.startswith("s3://")
        with local_dir(config.model) if remote else nullcontext(config.model) as folder:
            try:
                processor = AutoProcessor.from_pretrained(str(folder))
                model = LlavaForConditionalGeneration.from_pretrained(
                    str(folder), dtype=getattr(torch, config.dtype)
                )
            except OSError as err:
                raise UserError(f"cannot load LLaVA model {config.model!r}: {err}") from err
        pattern = config.image_pattern or IMAGE_PATTERNS[dataset]
        return cls(model.to(device).eval(), processor, config, images, pattern)

    def _image(self, question: Question) -> Image.Image:
        with open_uri(f"{self.images.rstrip('/')}/{image_name(self.pattern, question.image_id)}") as handle:
            image = Image.open(io.BytesIO(handle.read())).convert("RGB")
        if not self.config.pad_to_square:
            return image
        mean = self.processor.image_processor.image_mean
        return pad_to_square(image, tuple(int(x * 255) for x in mean))

    def answer(self, questions: list[Question]) -> list[str]:
        import torch

        texts = []
        for start in range(0, len(questions), self.config.batch_size):
            batch = questions[start : start + self.config.batch_size]
            inputs = self.processor(
                images=[self._image(q) for q in batch],
                text=[prompt(q) for q in batch],
                return_tensors="pt",
                padding=True,
            ).to(self.model.device)
            inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
            with torch.inference_mode():
                output = self.model.generate(
                    **inputs,
                    max_new_tokens=self.config.max_new_tokens,
                    do_sample=False,
                    pad_token_id=self.processor.tokenizer.pad_token_id,
                )
            new = output[:, inputs["input_ids"].shape[1] :]
            texts.extend(t.strip() for t in self.processor.batch_decode(new, skip_special_tokens=True))
        return texts
