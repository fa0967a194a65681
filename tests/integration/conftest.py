"""Tiny random-weight models saved to folders, loaded by the real code paths (no download), and a
small PMI table: the fixtures of the GenPairs, ImageNet-paste and VQA end-to-end tests."""

from __future__ import annotations

import numpy as np
import pytest

from compclip.pmi import CountConfig, count_corpus

CLASSES = ["goldfish", "tabby cat", "sports car", "lemon"]
CONCEPTS = ["red", "beach", "grass", "ball", "water", "tree", "street", "wooden", "table", "box", "yes", "no"]
CHAT = (
    "{% for m in messages %}<s> {{ m['role'] }} : {{ m['content'] }} </s> {% endfor %}"
    "{% if add_generation_prompt %}<s> assistant :{% endif %}"
)
WORDS = sorted({w for name in CLASSES for w in name.split()} | set(CONCEPTS) | {"a", "the", "on", "photo"})


def corpus_captions(n: int = 400, seed: int = 0) -> list[str]:
    """Captions of a class and one or two concepts, the concepts skewed per class (a PMI range)."""
    rng = np.random.default_rng(seed)
    captions = []
    for i in range(n):
        name = CLASSES[i % len(CLASSES)]
        weights = np.exp(-0.6 * ((np.arange(len(CONCEPTS)) - 3 * (i % len(CLASSES))) % len(CONCEPTS)))
        picks = rng.choice(len(CONCEPTS), size=2, replace=False, p=weights / weights.sum())
        captions.append(f"a {CONCEPTS[picks[0]]} {name} near the {CONCEPTS[picks[1]]}")
    return captions


@pytest.fixture(scope="session")
def pmi_table(tmp_path_factory):
    root = tmp_path_factory.mktemp("pmi")
    (root / "captions.txt").write_text("\n".join(corpus_captions()) + "\n")
    count_corpus([str(root / "captions.txt")], root / "table", CountConfig(min_count=1))
    return root / "table"


def word_tokenizer(words: list[str], max_length: int, chat: bool = False, special: tuple[str, ...] = ()):
    """A word-level fast tokenizer built in-process (nothing downloaded)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["[UNK]", "<pad>", "<s>", "</s>", *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens(list(special))
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="<pad>", bos_token="<s>", eos_token="</s>",
        model_max_length=max_length, chat_template=CHAT if chat else None,
    )  # fmt: skip


def tiny_llama_config(vocab_size: int):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
        bos_token_id=2, eos_token_id=3, pad_token_id=1,
    )  # fmt: skip


@pytest.fixture(scope="session")
def tiny_llm(tmp_path_factory):
    """A tiny random Llama and its chat tokenizer, saved as a model folder (the prompt's own words
    are unknown to it, so it writes class and concept words)."""
    import torch
    from transformers import LlamaForCausalLM

    folder = tmp_path_factory.mktemp("llm")
    tokenizer = word_tokenizer(WORDS, 1024, chat=True)
    torch.manual_seed(0)
    LlamaForCausalLM(tiny_llama_config(len(tokenizer))).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_flux(tmp_path_factory):
    """A tiny FluxPipeline (transformer with a guidance embedding, VAE, CLIP + T5 encoders), saved."""
    import torch
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    folder = tmp_path_factory.mktemp("flux")
    n = len(WORDS) + 4
    torch.manual_seed(0)
    pipeline = FluxPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=AutoencoderKL(
            in_channels=3, out_channels=3, block_out_channels=(4,), layers_per_block=1, latent_channels=1,
            norm_num_groups=1, use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.0609,
            scaling_factor=1.5035,
        ),
        text_encoder=CLIPTextModel(CLIPTextConfig(
            vocab_size=n, hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=4,
            projection_dim=32, max_position_embeddings=77, bos_token_id=2, eos_token_id=3, pad_token_id=1,
        )),
        tokenizer=word_tokenizer(WORDS, 77),
        text_encoder_2=T5EncoderModel(T5Config(
            vocab_size=n, d_model=32, d_kv=8, d_ff=37, num_layers=1, num_heads=4, decoder_start_token_id=0,
        )),
        tokenizer_2=word_tokenizer(WORDS, 512),
        transformer=FluxTransformer2DModel(
            patch_size=1, in_channels=4, num_layers=1, num_single_layers=1, attention_head_dim=16,
            num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32, axes_dims_rope=[4, 4, 8],
            guidance_embeds=True,
        ),
    )  # fmt: skip
    pipeline.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_classes() -> list[str]:
    """The class names of the small PMI table's corpus."""
    return list(CLASSES)


@pytest.fixture(scope="session")
def tiny_llava(tmp_path_factory):
    """A tiny random LLaVA (CLIP vision tower + Llama) and its processor, saved as a model folder."""
    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    folder = tmp_path_factory.mktemp("llava")
    tokenizer = word_tokenizer(WORDS, 2048, special=("<image>",))
    vision = CLIPVisionConfig(
        hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, image_size=32,
        patch_size=8, projection_dim=32,
    )  # fmt: skip
    config = LlavaConfig(vision_config=vision, text_config=tiny_llama_config(len(tokenizer)),
                         image_token_id=tokenizer.convert_tokens_to_ids("<image>"), vision_feature_layer=-2,
                         vision_feature_select_strategy="default")  # fmt: skip
    torch.manual_seed(0)
    LlavaForConditionalGeneration(config).save_pretrained(folder)
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=8,
                               image_token="<image>", vision_feature_select_strategy="default",
                               num_additional_image_tokens=1)  # fmt: skip
    processor.save_pretrained(folder)
    return folder
