"""HoloGrad: distributed training in which workers send a seed and one scalar.

The mathematics of the protocol, on PyTorch, on any device:

- `directions`   Dir(s) = z/||z|| from a portable counter-based generator; streaming
                 projection and reconstruction (the scale-corrected estimator);
- `commitments`  H(theta), H(B) and the proof seeds s_{t,j};
- `derivatives`  the LM loss, its gradient, and directional derivatives by forward-mode JVP;
- `estimators`   the scale-corrected estimator and its theory (bias, variance, alignment);
- `adc`          the Adaptive Direction Codebook (Oja-QR, captured energy, warm starts);
- `aggregation`  mean, trimmed mean, median;
- `byzantine`    attacks on a fraction of proofs;
- `pogp`         proofs, verification by recomputation, catch probability and slash;
- `strategies`   SGD, HoloGrad-Random, HoloGrad-ADC and Momentum-Centric behind one step;
- `models`, `data`, `training`   GPT-2 presets, corpora and token caches, a training loop;
- `devices`      the device a job asks for, checked before use, and the software it ran on;
- `files`        atomic writes and strict JSON (no torch: the workflow imports it at start-up).

The names below are imported from their modules when first used (PEP 562), so that
`import holograd.files` does not import torch.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "DirectionCodebook": "holograd.adc",
    "aggregate": "holograd.aggregation",
    "mean": "holograd.aggregation",
    "median": "holograd.aggregation",
    "trimmed_mean": "holograd.aggregation",
    "attack": "holograd.byzantine",
    "byzantine_indices": "holograd.byzantine",
    "commit_batch": "holograd.commitments",
    "commit_params": "holograd.commitments",
    "proof_seed": "holograd.commitments",
    "step_seeds": "holograd.commitments",
    "directional_derivative": "holograd.derivatives",
    "flat_grad": "holograd.derivatives",
    "lm_loss": "holograd.derivatives",
    "derive_seed": "holograd.directions",
    "inverse_norms": "holograd.directions",
    "project": "holograd.directions",
    "random_directions": "holograd.directions",
    "reconstruct": "holograd.directions",
    "cosine": "holograd.estimators",
    "estimate_gradient": "holograd.estimators",
    "expected_cosine": "holograd.estimators",
    "expected_relative_mse": "holograd.estimators",
    "PRESETS": "holograd.models",
    "build_model": "holograd.models",
    "param_count": "holograd.models",
    "ParamSpace": "holograd.params",
    "PoGPVerifier": "holograd.pogp",
    "Proof": "holograd.pogp",
    "compute_proof": "holograd.pogp",
    "min_slash": "holograd.pogp",
    "p_caught": "holograd.pogp",
    "SGD": "holograd.strategies",
    "Byzantine": "holograd.strategies",
    "HoloGradADC": "holograd.strategies",
    "HoloGradRandom": "holograd.strategies",
    "MomentumCentric": "holograd.strategies",
    "StepMetrics": "holograd.strategies",
    "Strategy": "holograd.strategies",
    "VerifiableStrategy": "holograd.strategies",
    "make_strategy": "holograd.strategies",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'holograd' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
