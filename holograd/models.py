"""GPT-2 models from `transformers`, in the sizes of the user's plan (§3 of the plan).

| preset   | n_layer | n_head | n_embd | used by          |
|----------|---------|--------|--------|------------------|
| micro    | 1       | 2      | 32     | CPU sweeps that need K/D >= 0.01 |
| tiny     | 2       | 2      | 64     | E2, E4, E5, E6, E7 |
| small    | 4       | 4      | 256    | E2, E3           |
| gpt2like | 6       | 8      | 512    | E1               |

D depends on the vocabulary (from the tokenizer) and on the context length: with the GPT-2
tokenizer (50257 tokens) the token embedding alone is 50257 x n_embd, so "tiny" has about
3.3M parameters, not the ~500K of the plan's table; `holograd.models.param_count` reports D.

Every preset disables dropout (so a proof recomputed from the same theta, batch and seed
is bit-identical), uses eager attention (the fused SDPA kernels have no forward-mode
derivative) and no KV cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from holograd.params import ParamSpace

if TYPE_CHECKING:  # transformers takes seconds to import: load it when a model is built
    from transformers import GPT2Config, GPT2LMHeadModel


@dataclass(frozen=True)
class ModelPreset:
    n_layer: int
    n_head: int
    n_embd: int


PRESETS: dict[str, ModelPreset] = {
    "micro": ModelPreset(n_layer=1, n_head=2, n_embd=32),
    "tiny": ModelPreset(n_layer=2, n_head=2, n_embd=64),
    "small": ModelPreset(n_layer=4, n_head=4, n_embd=256),
    "gpt2like": ModelPreset(n_layer=6, n_head=8, n_embd=512),
}


def model_config(preset: str, vocab_size: int, block_size: int) -> GPT2Config:
    """The GPT2Config of a preset for a vocabulary and a context length."""
    if preset not in PRESETS:
        raise ValueError(f"unknown model preset {preset!r}; choose one of {sorted(PRESETS)}")
    if vocab_size < 2 or block_size < 1:
        raise ValueError(f"vocab_size must be >= 2 and block_size >= 1, got {vocab_size} and {block_size}")
    from transformers import GPT2Config

    p = PRESETS[preset]
    return GPT2Config(
        vocab_size=vocab_size,
        n_positions=block_size,
        n_embd=p.n_embd,
        n_layer=p.n_layer,
        n_head=p.n_head,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        use_cache=False,
        bos_token_id=vocab_size - 1,
        eos_token_id=vocab_size - 1,
        attn_implementation="eager",
    )


def build_model(
    preset: str,
    vocab_size: int,
    block_size: int,
    *,
    seed: int = 0,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> GPT2LMHeadModel:
    """A freshly initialised GPT2LMHeadModel; the weights depend on `seed` only.

    Initialised on the CPU under a private RNG state (the global one is left untouched),
    then moved, so the same seed gives the same weights on every device.
    """
    from transformers import GPT2LMHeadModel

    config = model_config(preset, vocab_size, block_size)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(config)
    return model.to(device=device, dtype=dtype).eval()


def param_count(preset: str, vocab_size: int, block_size: int) -> int:
    """D, the number of distinct trainable parameters of a preset (tied weights once)."""
    from transformers import GPT2LMHeadModel

    with torch.device("meta"):
        model = GPT2LMHeadModel(model_config(preset, vocab_size, block_size))
    return ParamSpace(model).dim
