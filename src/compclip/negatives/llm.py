"""The LLM generator: in-context hard negatives from a chat model (Llama-3.1-8B-Instruct by default).

For each (caption, type) the prompt is one chat: a system message with the type's instruction
and a user message listing the type's in-context examples (``examples.yaml``, written by this
team) as ``Caption:``/``Negative:`` pairs, then the caption. Prompts are generated in batches
with left padding; ``torch.manual_seed`` is set per batch from the seed and the batch's first
id, so a resumed run regenerates a batch the same way. The first non-empty line of each output
is the candidate; the validity filter judges it like any other.
"""

from __future__ import annotations

import logging
import zlib
from contextlib import nullcontext
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any

import yaml

from compclip.config import Checked, Count, PositiveFloat, PositiveInt, Range
from compclip.devices import resolve_device
from compclip.errors import UserError
from compclip.negatives.types import TYPES
from compclip.storage import local_dir

log = logging.getLogger(__name__)

DEFAULT_MODEL = "meta-llama/Llama-3.1-8B-Instruct"


@dataclass(frozen=True)
class LLMConfig(Checked):
    model: str = DEFAULT_MODEL  # hub name, local folder or s3:// URI
    batch_size: PositiveInt = 16  # prompts per generate() call
    shots: Count = 50  # in-context examples per prompt (the first N of the type)
    samples: PositiveInt = 2  # outputs per prompt
    max_new_tokens: PositiveInt = 64
    do_sample: bool = True
    temperature: PositiveFloat = 0.8
    top_p: Annotated[float, Range(0, 1, open_low=True)] = 0.95
    dtype: str = "bfloat16"
    device: str = "auto"  # cuda when available, else cpu


@dataclass(frozen=True)
class Examples:
    """Per type: an instruction and (caption, negative) pairs (``examples.yaml``: one entry per caption)."""

    instructions: dict[str, str]
    pairs: dict[str, list[tuple[str, str]]]

    @classmethod
    def load(cls) -> Examples:
        data = yaml.safe_load(resources.files(__package__).joinpath("examples.yaml").read_text())
        pairs = {t: [(e["caption"], e[t]) for e in data["examples"] if e.get(t)] for t in TYPES}
        missing = [t for t in TYPES if t not in data["instructions"] or not pairs[t]]
        if missing:
            raise UserError(f"examples.yaml: no instruction or examples for {missing}")
        return cls(dict(data["instructions"]), pairs)


def messages(caption: str, kind: str, examples: Examples, shots: int) -> list[dict[str, str]]:
    """The chat for one caption and one type."""
    shown = "\n\n".join(f"Caption: {a}\nNegative: {b}" for a, b in examples.pairs[kind][:shots])
    user = f"Examples:\n\n{shown}\n\nNow the caption to change.\nCaption: {caption}\nNegative:"
    return [{"role": "system", "content": examples.instructions[kind]}, {"role": "user", "content": user}]


def first_line(text: str) -> str:
    """The candidate in a model's output: its first non-empty line, without a ``Negative:`` label."""
    line = next((s.strip() for s in text.splitlines() if s.strip()), "")
    if line.lower().startswith("negative:"):
        line = line[len("negative:") :].strip()
    return line.strip("\"'` ")


def load_causal_lm(source: str, dtype: str, device: str) -> tuple[Any, Any]:
    """A causal LM in eval mode on ``device`` and its tokenizer, from a hub name, a folder or an s3:// URI."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = resolve_device(device)
    log.info("loading %s on %s (%s)", source, device, dtype)
    with local_dir(source) if source.startswith("s3://") else nullcontext(source) as folder:
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(folder))
            model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=getattr(torch, dtype))
        except OSError as err:
            raise UserError(f"cannot load model {source!r}: {err}") from err
    return model.to(device).eval(), tokenizer


class LLMGenerator:
    """Batched, seeded chat generation of candidate negatives."""

    def __init__(self, model: Any, tokenizer: Any, config: LLMConfig, seed: int, examples: Examples) -> None:
        self.model, self.tokenizer, self.config, self.seed, self.examples = (
            model,
            tokenizer,
            config,
            seed,
            examples,
        )
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    @classmethod
    def load(cls, config: LLMConfig, seed: int) -> LLMGenerator:
        """Load the model from a hub name, a local folder or an s3:// URI (copied to a temp folder)."""
        model, tokenizer = load_causal_lm(config.model, config.dtype, config.device)
        return cls(model, tokenizer, config, seed, Examples.load())

    def generate(self, items: list[tuple[str, str, str]]) -> list[list[str]]:
        """Candidates for each ``(image_id, caption, type)``, ``samples`` per item."""
        out: list[list[str]] = []
        for start in range(0, len(items), self.config.batch_size):
            out.extend(self._batch(items[start : start + self.config.batch_size]))
        return out

    def _batch(self, items: list[tuple[str, str, str]]) -> list[list[str]]:
        import torch

        chats = [messages(caption, kind, self.examples, self.config.shots) for _, caption, kind in items]
        prompts = self.tokenizer.apply_chat_template(chats, add_generation_prompt=True, tokenize=False)
        inputs = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        inputs = inputs.to(self.model.device)
        torch.manual_seed(zlib.crc32(f"{self.seed}:{items[0][0]}".encode()))
        sampling = (
            {"temperature": self.config.temperature, "top_p": self.config.top_p}
            if self.config.do_sample
            else {}
        )
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                max_new_tokens=self.config.max_new_tokens,
                do_sample=self.config.do_sample,
                num_return_sequences=self.config.samples,
                pad_token_id=self.tokenizer.pad_token_id,
                **sampling,
            )
        texts = self.tokenizer.batch_decode(
            output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True
        )
        n = self.config.samples
        return [[first_line(t) for t in texts[i * n : (i + 1) * n]] for i in range(len(items))]
