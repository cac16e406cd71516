"""Commitments and per-proof seeds of the PoGP protocol (HoloGrad §4.4).

    s_{t,j} = SHA-256(S0 || H(theta_t) || H(B_t) || t || j)

H(theta) hashes the weights serialised in a device-independent way and H(B) hashes the
minibatch's sample ids, so a seed can neither be chosen by a worker nor reused for another
checkpoint or batch.  The digest's first 8 bytes (little-endian) are the direction seed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import Tensor, nn

_U64 = 2**64


def _u64(value: int, what: str) -> bytes:
    if isinstance(value, bool) or not hasattr(value, "__index__") or not 0 <= int(value) < _U64:
        raise ValueError(f"{what} must be an integer in [0, 2**64), got {value!r}")
    return int(value).to_bytes(8, "little")


def _tensor_bytes(t: Tensor) -> bytes:
    """Raw little-endian bytes of a tensor, independent of its device and memory layout."""
    t = t.detach().to("cpu").contiguous()
    header = f"{t.dtype}|{tuple(t.shape)}|".encode()
    return header + t.reshape(-1).view(torch.uint8).numpy().tobytes()


def commit_params(model_or_tensor: nn.Module | Tensor | Mapping[str, Tensor]) -> bytes:
    """H(theta): SHA-256 of the trainable weights, serialised device-independently.

    A module contributes its distinct trainable parameters in registration order (tied
    weights once), each as name, dtype, shape and raw little-endian bytes; a tensor
    contributes its dtype, shape and bytes.  The same weights give the same digest on CPU
    and CUDA and in any process.
    """
    h = hashlib.sha256(b"holograd.theta")
    if isinstance(model_or_tensor, Tensor):
        h.update(_tensor_bytes(model_or_tensor))
        return h.digest()
    if isinstance(model_or_tensor, nn.Module):
        items: Iterable[tuple[str, Tensor]] = ((n, p) for n, p in model_or_tensor.named_parameters() if p.requires_grad)
    elif isinstance(model_or_tensor, Mapping):
        items = model_or_tensor.items()
    else:
        raise TypeError(
            f"commit_params takes a module, a tensor or a name->tensor mapping, got {type(model_or_tensor).__name__}"
        )
    for name, tensor in items:
        h.update(name.encode() + b"\0")
        h.update(_tensor_bytes(tensor))
    return h.digest()


def commit_batch(sample_ids: Sequence[int] | Tensor) -> bytes:
    """H(B): SHA-256 of the minibatch's sample ids as little-endian uint64, in order."""
    if isinstance(sample_ids, Tensor):
        sample_ids = sample_ids.reshape(-1).tolist()
    h = hashlib.sha256(b"holograd.batch")
    for i in sample_ids:
        h.update(_u64(i, "sample id"))
    return h.digest()


def proof_seed(S0: int | bytes, theta_hash: bytes, batch_hash: bytes, t: int, j: int) -> int:
    """s_{t,j} = SHA-256(S0 || H(theta_t) || H(B_t) || t || j), mapped to a direction seed.

    S0 is the run's public seed (an integer, as 8 little-endian bytes, or raw bytes); t and
    j are 8 little-endian bytes each.  Returns the digest's first 8 bytes as an integer in
    [0, 2^64), the seed that `holograd.directions` expects.
    """
    s0 = _u64(S0, "S0") if not isinstance(S0, (bytes, bytearray)) else bytes(S0)
    for name, digest in (("theta_hash", theta_hash), ("batch_hash", batch_hash)):
        if not isinstance(digest, (bytes, bytearray)):
            raise TypeError(f"{name} must be bytes (a SHA-256 digest), got {type(digest).__name__}")
    payload = s0 + bytes(theta_hash) + bytes(batch_hash) + _u64(t, "step t") + _u64(j, "proof index j")
    return int.from_bytes(hashlib.sha256(payload).digest()[:8], "little")


def step_seeds(S0: int | bytes, theta_hash: bytes, batch_hash: bytes, t: int, k: int) -> list[int]:
    """The K proof seeds s_{t,0..K-1} of one step."""
    return [proof_seed(S0, theta_hash, batch_hash, t, j) for j in range(k)]
