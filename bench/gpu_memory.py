"""Weights in GPU memory of the models the GPU stages load, counted from the installed classes.

Each model is built on PyTorch's ``meta`` device (no memory, no download) from its published
configuration, written out below, and its parameters are counted; bytes = parameters x 2 (bf16 or
fp16). The caption phase adds its KV cache, the arithmetic of which is printed beside it.

    python bench/gpu_memory.py            # a Markdown table for BENCHMARKS.md and docs/genpairs.md
"""

from __future__ import annotations

import torch

GB = 1e9


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def llama_3_1_8b() -> torch.nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    # meta-llama/Llama-3.1-8B-Instruct config.json
    config = LlamaConfig(vocab_size=128256, hidden_size=4096, intermediate_size=14336,
                         num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                         tie_word_embeddings=False)  # fmt: skip
    return LlamaForCausalLM(config)


def flux_transformer() -> torch.nn.Module:
    from diffusers import FluxTransformer2DModel

    # black-forest-labs/FLUX.1-dev transformer/config.json
    return FluxTransformer2DModel(patch_size=1, in_channels=64, num_layers=19, num_single_layers=38,
                                  attention_head_dim=128, num_attention_heads=24, joint_attention_dim=4096,
                                  pooled_projection_dim=768, guidance_embeds=True)  # fmt: skip


def t5_xxl_encoder() -> torch.nn.Module:
    from transformers import T5Config, T5EncoderModel

    # FLUX.1-dev text_encoder_2/config.json (google/t5-v1_1-xxl)
    return T5EncoderModel(T5Config(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24,
                                   num_heads=64, feed_forward_proj="gated-gelu"))  # fmt: skip


def clip_l_text() -> torch.nn.Module:
    from transformers import CLIPTextConfig, CLIPTextModel

    # FLUX.1-dev text_encoder/config.json (openai/clip-vit-large-patch14)
    config = CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                            num_attention_heads=12, projection_dim=768)  # fmt: skip
    return CLIPTextModel(config)


def flux_vae() -> torch.nn.Module:
    from diffusers import AutoencoderKL

    # FLUX.1-dev vae/config.json
    return AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                         up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(128, 256, 512, 512),
                         layers_per_block=2, latent_channels=16, use_quant_conv=False,
                         use_post_quant_conv=False)  # fmt: skip


def llava_1_5_7b() -> torch.nn.Module:
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    # llava-hf/llava-1.5-7b-hf config.json: CLIP ViT-L/14 at 336 px + Vicuna-7B
    vision = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                              num_attention_heads=16, image_size=336, patch_size=14,
                              projection_dim=768)  # fmt: skip
    text = LlamaConfig(vocab_size=32064, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                       num_attention_heads=32, num_key_value_heads=32)  # fmt: skip
    return LlavaForConditionalGeneration(LlavaConfig(vision_config=vision, text_config=text))


MODELS = {
    "Llama-3.1-8B-Instruct (captions, LLM negatives)": llama_3_1_8b,
    "FLUX.1-dev transformer": flux_transformer,
    "T5-XXL encoder (FLUX text_encoder_2)": t5_xxl_encoder,
    "CLIP-L text encoder (FLUX text_encoder)": clip_l_text,
    "FLUX VAE": flux_vae,
    "LLaVA-1.5-7B (VQA)": llava_1_5_7b,
}


def main() -> None:
    import diffusers
    import transformers

    versions = f"transformers {transformers.__version__}, diffusers {diffusers.__version__}"
    print(f"torch {torch.__version__}, {versions}")
    print("\n| model | parameters | bf16 weights |\n|---|---|---|")
    sizes = {}
    for name, build in MODELS.items():
        with torch.device("meta"):
            n = count(build())
        sizes[name] = 2 * n / GB
        print(f"| {name} | {n / 1e9:.3f} B | {sizes[name]:.1f} GB |")
    flux = [sizes[k] for k in list(MODELS)[1:5]]
    # KV cache of one caption batch: 64 prompts x (about 90 prompt + 50 new tokens) x 32 layers x
    # (K and V) x 8 KV heads x 128 dims x 2 bytes
    kv = 64 * 140 * 32 * 2 * 8 * 128 * 2 / GB
    llm = sizes[next(iter(MODELS))]
    print(f"\ncaption phase: {llm:.1f} GB weights + {kv:.1f} GB KV cache (batch 64)")
    print(f"image phase, all resident: {sum(flux):.1f} GB; offloaded (peak = transformer): {flux[0]:.1f} GB")
    print(f"one task holding both (before this change): {llm + sum(flux):.1f} GB")


if __name__ == "__main__":
    main()
