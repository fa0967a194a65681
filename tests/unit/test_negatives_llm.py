"""The LLM generator's plumbing with a tiny random Llama built in-process (no download)."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from compclip.negatives import Examples, LLMConfig, LLMGenerator, NegativesConfig, generate
from compclip.negatives.llm import first_line, messages
from compclip.negatives.validity import FilterConfig


def unfiltered(**settings) -> NegativesConfig:
    """A config without the blind filter: these inputs are far fewer than it learns from."""
    return NegativesConfig(filter=FilterConfig(blind=False), **settings)


torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

CHAT = (
    "{% for m in messages %}<s> {{ m['role'] }} : {{ m['content'] }} </s> {% endfor %}"
    "{% if add_generation_prompt %}<s> assistant :{% endif %}"
)
CAPTIONS = ["a red car next to a white dog", "two cats on a sofa", "a man riding a horse", "a blue kite"]


@pytest.fixture(scope="module")
def tiny():
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    examples = Examples.load()
    texts = [
        *CAPTIONS,
        *examples.instructions.values(),
        "system user assistant Examples Caption Negative Now",
    ]
    texts += [f"{a} {b}" for pairs in examples.pairs.values() for a, b in pairs]
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(
        texts, trainers.WordLevelTrainer(special_tokens=["[UNK]", "<pad>", "<s>", "</s>"])
    )
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", bos_token="<s>", eos_token="</s>", chat_template=CHAT
    )
    config = transformers.LlamaConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(config).eval(), tokenizer, examples


class Recording(LLMGenerator):
    """Counts prompts per batch and the ids asked for."""

    batches: list[int]
    asked: list[str]
    kill: str | None  # an id whose chunk fails, as a killed run would

    def generate(self, items):
        if any(i == self.kill for i, _, _ in items):
            raise KeyboardInterrupt
        return super().generate(items)

    def _batch(self, items):
        self.batches.append(len(items))
        self.asked.extend(i for i, _, _ in items)
        return super()._batch(items)


def make(tiny, config: LLMConfig, seed: int = 0, kill: str | None = None) -> Recording:
    model, tokenizer, examples = tiny
    generator = Recording(model, tokenizer, config, seed, examples)
    generator.batches, generator.asked, generator.kill = [], [], kill
    return generator


def test_prompt_holds_the_types_examples(tiny):
    examples = tiny[2]
    chat = messages("a red car", "swap_adjectives", examples, shots=50)
    assert chat[0]["content"] == examples.instructions["swap_adjectives"]
    for original, negative in examples.pairs["swap_adjectives"][:50]:
        assert f"Caption: {original}\nNegative: {negative}" in chat[1]["content"]
    assert examples.pairs["replace_nouns"][0][1] not in chat[1]["content"]
    assert chat[1]["content"].endswith("Caption: a red car\nNegative:")
    assert first_line('\n Negative: "a blue car"\nmore') == "a blue car"


def test_batched_generation_resumes_and_rejects_junk(tiny, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    ids = [f"i{n}" for n in range(len(CAPTIONS))]
    pq.write_table(pa.table({"id": ids, "caption": CAPTIONS, "image": ids}), data / "captions.parquet")
    llm = LLMConfig(batch_size=4, shots=3, samples=2, max_new_tokens=6, device="cpu")
    config = unfiltered(generator="llm", types=("swap_nouns", "replace_nouns"), chunk=3, llm=llm)
    first = make(tiny, llm, kill="i3")
    with pytest.raises(KeyboardInterrupt):
        generate(str(data), tmp_path / "out", config, first)
    assert first.batches == [4, 2]  # a chunk of 3 captions x 2 types, in batches of 4
    lines = (tmp_path / "out.progress" / "progress.jsonl").read_text().splitlines()
    assert [json.loads(line)["image_id"] for line in lines] == ids[:3]

    second = make(tiny, llm)
    metrics = generate(str(data), tmp_path / "out", config, second)
    assert set(second.asked) == {"i3"} and metrics["resumed"] == 3 and metrics["n_captions"] == 4
    assert metrics["candidates_swap_nouns"] == metrics["candidates_replace_nouns"] == 8
    rejected = metrics["rejected_swap_nouns"] + metrics["rejected_replace_nouns"]
    assert rejected == sum(v for k, v in metrics.items() if k.startswith("reject_"))
    valid = metrics["valid_swap_nouns"] + metrics["valid_replace_nouns"]
    assert rejected + valid == 16 and rejected > 0  # a random model writes junk; the filter counts it


def test_same_seed_same_samples(tiny):
    llm = LLMConfig(batch_size=2, shots=2, samples=2, max_new_tokens=5, device="cpu")
    items = [("a", CAPTIONS[0], "reshuffle"), ("b", CAPTIONS[1], "replace_adjectives")]
    assert make(tiny, llm, seed=1).generate(items) == make(tiny, llm, seed=1).generate(items)


def test_real_captions_take_the_llm_for_its_types_and_the_rules_for_the_rest(tiny, tmp_path):
    model, tokenizer, _ = tiny
    folder = tmp_path / "lm"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    data = tmp_path / "data"
    data.mkdir()
    ids = [f"i{n}" for n in range(len(CAPTIONS))]
    pq.write_table(pa.table({"id": ids, "caption": CAPTIONS, "image": ids}), data / "captions.parquet")
    llm = LLMConfig(
        model=str(folder), batch_size=4, shots=2, samples=2, max_new_tokens=6, dtype="float32", device="cpu"
    )
    types = ("swap_nouns", "replace_adjectives")
    mixed = unfiltered(types=types, llm_types=("swap_nouns",), llm=llm)  # generator auto, real captions
    metrics = generate(str(data), tmp_path / "mixed", mixed)
    assert (metrics["generator_swap_nouns"], metrics["generator_replace_adjectives"]) == ("llm", "rules")
    assert metrics["llm_fallback"] == ""
    assert metrics["candidates_swap_nouns"] == 2 * len(CAPTIONS)  # the LLM's samples, every one judged
    ruled = generate(str(data), tmp_path / "rules", unfiltered(types=types, generator="rules"))
    assert ruled["generator_swap_nouns"] == "rules"

    def adjectives(folder):
        records = json.loads((folder / "negatives.json").read_text())
        found = {r["original"]: [n for n, t in zip(r["enhanced"], r["types"], strict=True)
                                 if t == "replace_adjectives"] for r in records}  # fmt: skip
        return {caption: negatives for caption, negatives in found.items() if negatives}

    made = adjectives(tmp_path / "mixed")
    assert made and made == adjectives(tmp_path / "rules")  # the rules' types as before
