"""GPT-2 presets from transformers."""

import pytest
import torch

from holograd.models import PRESETS, build_model, param_count
from holograd.params import ParamSpace


@pytest.mark.parametrize("preset", ["micro", "tiny"])
def test_presets_build_and_report_d(preset):
    model = build_model(preset, 300, 16, seed=0)
    cfg = model.config
    want = PRESETS[preset]
    assert (cfg.n_layer, cfg.n_head, cfg.n_embd) == (want.n_layer, want.n_head, want.n_embd)
    assert cfg.resid_pdrop == cfg.embd_pdrop == cfg.attn_pdrop == 0.0
    assert cfg._attn_implementation == "eager"
    assert param_count(preset, 300, 16) == ParamSpace(model).dim


def test_paper_sizes_are_reported():
    # D with the GPT-2 vocabulary (50257) and 128-token contexts: the token embedding dominates
    # the small presets, so "tiny" is ~3.3M rather than the plan's ~500K.
    d = {p: param_count(p, 50257, 128) for p in PRESETS}
    assert d["micro"] < d["tiny"] < d["small"] < d["gpt2like"]
    assert 3.0e6 < d["tiny"] < 3.6e6 and 4.0e7 < d["gpt2like"] < 5.0e7


def test_weights_depend_on_seed_only():
    a, b, c = (build_model("micro", 300, 16, seed=s) for s in (5, 5, 6))
    ta, tb, tc = (ParamSpace(m).get_flat() for m in (a, b, c))
    assert torch.equal(ta, tb) and not torch.equal(ta, tc)
    state = torch.random.get_rng_state()
    build_model("micro", 300, 16, seed=7)
    assert torch.equal(state, torch.random.get_rng_state())  # global RNG untouched


def test_unknown_preset_is_rejected():
    with pytest.raises(ValueError, match="preset"):
        build_model("huge", 300, 16)
