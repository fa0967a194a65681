"""The caption phase of GenPairs: a causal LM writes one sentence featuring both sides of each pair.

The prompt, sampling (temperature 0.1, min_p 0.05, top_p from the model's generation config, 50 new
tokens, one sample) and the first-line answer follow the released code
(``generate_captions/generate_captions_dataparallel.py``). Prompts are generated in batches with
left padding; ``torch.manual_seed`` is set per batch from the seed and the batch's first pair id,
so a batch regenerates the same way when a job resumes. The first of the ``samples`` candidates
that passes :func:`caption_problem` is kept; every rejected candidate is counted by reason.

``caption_stage(pairs, out, config)`` reads a pairs file (``compclip genpairs pairs``) and writes
the same rows plus ``caption`` (null when no candidate passed) to ``out``, one Parquet file. It
holds only the LM (Llama-3.1-8B in bf16: 16.1 GB) and works in resumable chunks of pairs.
"""

from __future__ import annotations

import dataclasses
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Protocol

import pyarrow as pa

from compclip.chunks import Shard, Work, run_chunks, work_folder
from compclip.config import Checked, PositiveFloat, PositiveInt, Range, Share
from compclip.errors import UserError
from compclip.genpairs.pairs import Pair, pairs_table, read_pairs, write_table_file
from compclip.negatives.llm import DEFAULT_MODEL, first_line, load_causal_lm
from compclip.pmi import PMITable
from compclip.rejects import Rejects

log = logging.getLogger(__name__)

SYSTEM = "You are a helpful assistant that creates prompts for image generation."
USER = (
    "Please write a single sentence that could describe an image that contains the words '{a}' and '{b}'. "
    "Make sure both {a} and {b} are the focus of the image."
)


@dataclass(frozen=True)
class CaptionConfig(Checked):
    model: str = DEFAULT_MODEL  # hub name, local folder or s3:// URI
    batch_size: PositiveInt = 64  # prompts per generate() call
    samples: PositiveInt = 1  # candidates per pair (the released code: 1)
    max_new_tokens: PositiveInt = 50
    do_sample: bool = True
    temperature: PositiveFloat = 0.1
    min_p: Annotated[float, Range(0, 1)] | None = 0.05
    top_p: Annotated[float, Range(0, 1, open_low=True)] | None = None  # None: the model's (Llama-3.1: 0.9)
    reject_other_classes: bool = True  # drop a caption naming another class's head noun (released code)
    chunk: PositiveInt = 256  # pairs per unit of work (resume granularity)
    max_reject_share: Share = 0.5  # of pairs left without a valid caption, before the phase fails
    dtype: str = "bfloat16"
    device: str = "auto"


class Captioner(Protocol):
    def candidates(self, pairs: list[Pair]) -> list[list[str]]:
        """Candidate captions for each pair."""
        ...


class Concepts(Protocol):
    def concepts(self, text: str) -> list[str]: ...


def messages(pair: Pair) -> list[dict[str, str]]:
    """The released code's chat: the other concept first, then the class name."""
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": USER.format(a=pair.concept, b=pair.label)},
    ]


def class_heads(names: list[str], table: Concepts) -> frozenset[str]:
    """The head noun (last concept) of every class name."""
    return frozenset(found[-1] for name in names if (found := table.concepts(name)))


def caption_problem(
    caption: str, pair: Pair, table: Concepts, heads: frozenset[str] = frozenset()
) -> str | None:
    """Why a caption is rejected (a reason), or None when its concepts hold the class's and the other's
    and no other class's head noun (``heads``: those of every class)."""
    if not caption.strip():
        return "caption_empty"
    found = set(table.concepts(caption))
    own = set(table.concepts(pair.label))
    if not own <= found:
        return "caption_missing_class"
    if not set(table.concepts(pair.concept)) <= found:
        return "caption_missing_concept"
    if (found & heads) - own:
        return "caption_other_class"
    return None


def choose(
    pairs: list[Pair],
    candidates: list[list[str]],
    table: Concepts,
    rejects: Rejects,
    heads: frozenset[str] = frozenset(),
) -> list[str | None]:
    """Per pair the first candidate without a problem (None when every one has one; counted)."""
    chosen: list[str | None] = []
    for pair, proposed in zip(pairs, candidates, strict=True):
        keep = None
        for caption in proposed:
            problem = caption_problem(caption, pair, table, heads)
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
        sampling = {"temperature": c.temperature, "min_p": c.min_p, "top_p": c.top_p} if c.do_sample else {}
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                max_new_tokens=c.max_new_tokens,
                do_sample=c.do_sample,
                num_return_sequences=c.samples,
                pad_token_id=self.tokenizer.pad_token_id,
                **{k: v for k, v in sampling.items() if v is not None},
            )
        texts = self.tokenizer.batch_decode(
            output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True
        )
        return [
            [first_line(t) for t in texts[i * c.samples : (i + 1) * c.samples]] for i in range(len(pairs))
        ]


def matching_table(pmi: str | None, header: dict) -> PMITable:
    """The PMI table the pairs were selected from (``pmi``, else the path the pairs file recorded)."""
    recorded = dict(header["pmi_table"])
    uri = pmi or recorded.pop("path")
    recorded.pop("path", None)
    table = PMITable.load(uri)
    if table.header != recorded:
        raise UserError(f"{uri}: not the PMI table these pairs were selected from")
    return table


def caption_stage(
    pairs: str,
    out: str,
    config: CaptionConfig = CaptionConfig(),
    pmi: str | None = None,
    work_dir: str | Path | None = None,
    captioner: Callable[[], Captioner] | None = None,
    after_chunk: Callable[[int], None] | None = None,
) -> dict:
    """Caption every pair of the pairs file ``pairs`` into the captions file ``out``; return metrics.

    ``captioner`` makes the model (default: load ``config``), called only when a chunk is left to do.
    """
    chosen, _, header = read_pairs(str(pairs))
    table = matching_table(pmi, header)
    heads = class_heads(header["classes"], table) if config.reject_other_classes else frozenset()
    settings = dataclasses.asdict(config)
    settings.pop("device")  # the run may resume on another node
    work = Work(work_folder(work_dir, str(out), "genpairs-captions", Shard()), {"pairs": header, **settings})
    model: list[Captioner] = []

    def process(items: range) -> tuple[list[dict], Rejects]:
        if not model:
            model.append((captioner or (lambda: LLMCaptioner.load(config, header["seed"])))())
        batch, rejects = [chosen[i] for i in items], Rejects()
        captions = choose(batch, model[0].candidates(batch), table, rejects, heads)
        return [{"pair_id": p.pair_id, "caption": c} for p, c in zip(batch, captions, strict=True)], rejects

    chunks = Shard().chunks(len(chosen), config.chunk)
    rows, rejects, resumed = run_chunks(work, chunks, process, after_chunk)
    missing = rejects.counts["pair_without_caption"]
    if chosen:  # a candidate refused is counted; a pair left without a caption is a record lost
        rejects.check(len(chosen), config.max_reject_share, "genpairs captions", "pair_without_caption")
    metrics = {"pairs": len(chosen), "pairs_captioned": len(chosen) - missing, "chunks": len(chunks),
               "chunks_resumed": resumed,
               **{f"rejects/{k}": v for k, v in rejects.as_dict().items()}}  # fmt: skip
    header = {**header, "captions": {"settings": settings, "metrics": metrics}}
    caption = {r["pair_id"]: r["caption"] for r in rows}
    extra = {"caption": (pa.string(), [caption[p.pair_id] for p in chosen])}
    write_table_file(str(out), pairs_table(chosen, header, extra))
    work.remove()
    log.info("captioned %d of %d pairs into %s", len(chosen) - missing, len(chosen), out)
    return metrics
