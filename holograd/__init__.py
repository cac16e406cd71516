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
- `models`, `data`, `training`   GPT-2 presets, corpora and token caches, a training loop.
"""

from holograd.adc import DirectionCodebook
from holograd.aggregation import aggregate, mean, median, trimmed_mean
from holograd.byzantine import attack, byzantine_indices
from holograd.commitments import commit_batch, commit_params, proof_seed, step_seeds
from holograd.derivatives import directional_derivative, flat_grad, lm_loss
from holograd.directions import derive_seed, inverse_norms, project, random_directions, reconstruct
from holograd.estimators import cosine, estimate_gradient, expected_cosine, expected_relative_mse
from holograd.models import PRESETS, build_model, param_count
from holograd.params import ParamSpace
from holograd.pogp import PoGPVerifier, Proof, compute_proof, min_slash, p_caught
from holograd.strategies import (
    SGD,
    Byzantine,
    HoloGradADC,
    HoloGradRandom,
    MomentumCentric,
    StepMetrics,
    make_strategy,
)

__version__ = "0.1.0"

__all__ = [
    "SGD",
    "Byzantine",
    "DirectionCodebook",
    "HoloGradADC",
    "HoloGradRandom",
    "MomentumCentric",
    "PRESETS",
    "ParamSpace",
    "PoGPVerifier",
    "Proof",
    "StepMetrics",
    "aggregate",
    "attack",
    "build_model",
    "byzantine_indices",
    "commit_batch",
    "commit_params",
    "compute_proof",
    "cosine",
    "derive_seed",
    "directional_derivative",
    "estimate_gradient",
    "expected_cosine",
    "expected_relative_mse",
    "flat_grad",
    "inverse_norms",
    "lm_loss",
    "make_strategy",
    "mean",
    "median",
    "min_slash",
    "p_caught",
    "param_count",
    "project",
    "proof_seed",
    "random_directions",
    "reconstruct",
    "step_seeds",
    "trimmed_mean",
]
