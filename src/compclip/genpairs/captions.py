"""Captions for pairs: a causal LM writes one realistic sentence featuring both, a filter checks it.

Prompts are one chat per pair, generated in batches with left padding; ``torch.manual_seed`` is
set per batch from the seed and the batch's first pair id, so a batch regenerates the same way
when a job resumes. ``samples`` candidates per pair; the first that passes :func:`caption_problem`
is kept, every rejected candidate is counted by reason.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from compclip.config import Checked, PositiveFloat, PositiveInt, Range
from compclip.genpairs.pairs import Pair
from compclip.negatives.llm import DEFAULT_MODEL, first_line, load_causal_lm
from compclip.rejects import Rejects

SYSTEM = (
    "You write captions for photographs. Answer with one realistic sentence describing a photo, nothing else."
)
USER = "Write a caption for a photo that clearly shows {a} and {b}. Use both words."


@dataclass(frozen=True)
class CaptionConfig(Checked):
    model: str = DEFAULT_MODEL  # hub name, local folder or s3:// URI
    batch_size: PositiveInt = 32  # prompts per generate() call
    samples: PositiveInt = 3  # candidates per pair
    max_new_tokens: PositiveInt = 48
    do_sample: bool = True
    temperature: PositiveFloat = 0.8
    top_p: Annotated[float, Range(0, 1, open_low=True)] = 0.95
    dtype: str = "bfloat16"
    device: str = "auto"


class Captioner(Protocol):
    def candidates(self, pairs: list[Pair]) -> list[list[str]]:
        """Candidate captions for each pair."""
        ...


class Concepts(Protocol):
    def concepts(self, text: str) -> list[str]: ...


def messages(pair: Pair) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": USER.format(a=pair.label, b=pair.concept)},
    ]


def caption_problem(caption: str, pair: Pair, table: Concepts) -> str | None:
    """Why a caption is rejected (a reason), or None when its concepts hold the class's and the other's."""
    if not caption.strip():
        return "caption_empty"
    found = set(table.concepts(caption))
    if not set(table.concepts(pair.label)) <= found:
        return "caption_missing_class"
    if not set(table.concepts(pair.concept)) <= found:
        return "caption_missing_concept"
    return None


def choose(
    pairs: list[Pair], candidates: list[list[str]], table: Concepts, rejects: Rejects
) -> list[str | None]:
    """Per pair the first candidate without a problem (None when every one has one; counted)."""
    chosen: list[str | None] = []
    for pair, proposed in zip(pairs, candidates, strict=True):
        keep = None
        for caption in proposed:
            problem = caption_problem(caption, pair, table)
            if problem is None:
                keep = caption
                break
            rejects.add(problem, f"{pair.pair_id}: {caption!r}")
        if keep is None:
            rejects.add("pair_without_caption", pair.pair_id)
        chosen.append(keep)
    return chosen


class LLMCaptioner:
    """Batched, seeded chat generation with any transformers causal LM."""

    def __init__(self, model: Any, tokenizer: Any, config: CaptionConfig, seed: int) -> None:
        self.model, self.tokenizer, self.config, self.seed = model, tokenizer, config, seed
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    @classmethod
    def load(cls, config: CaptionConfig, seed: int) -> LLMCaptioner:
        return cls(*load_causal_lm(config.model, config.dtype, config.device), config, seed)

    def candidates(self, pairs: list[Pair]) -> list[list[str]]:
        out: list[list[str]] = []
        for start in range(0, len(pairs), self.config.batch_size):
            out.extend(self._batch(pairs[start : start + self.config.batch_size]))
        return out

    def _batch(self, pairs: list[Pair]) -> list[list[str]]:
        import torch

        prompts = self.tokenizer.apply_chat_template(
            [messages(p) for p in pairs], add_generation_prompt=True, tokenize=False
        )
        inputs = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        inputs = inputs.to(self.model.device)
        torch.manual_seed(zlib.crc32(f"{self.seed}:{pairs[0].pair_id}".encode()))
        c = self.config
        sampling = {"temperature": c.temperature, "top_p": c.top_p} if c.do_sample else {}
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                max_new_tokens=c.max_new_tokens,
                do_sample=c.do_sample,
                num_return_sequences=c.samples,
                pad_token_id=self.tokenizer.pad_token_id,
                **sampling,
            )
        texts = self.tokenizer.batch_decode(
            output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True
        )
        return [
            [first_line(t) for t in texts[i * c.samples : (i + 1) * c.samples]] for i in range(len(pairs))
        ]
