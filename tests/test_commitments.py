"""Commitments H(theta), H(B) and the proof seeds derived from them."""

import hashlib

import pytest
import torch

from holograd.commitments import commit_batch, commit_params, proof_seed, step_seeds


def test_param_commitment_is_a_function_of_the_weights_only(make_model):
    a, b = make_model(seed=0), make_model(seed=0)
    assert commit_params(a) == commit_params(b)
    assert commit_params(a) != commit_params(make_model(seed=1))
    with torch.no_grad():
        next(b.parameters()).view(-1)[0] += 1e-7  # one weight, one ulp-scale change
    assert commit_params(a) != commit_params(b)


def test_tensor_commitment_depends_on_dtype_shape_and_values():
    t = torch.arange(6, dtype=torch.float32)
    assert commit_params(t) == commit_params(t.clone())
    assert commit_params(t) != commit_params(t.reshape(2, 3))
    assert commit_params(t) != commit_params(t.double())
    assert commit_params(t[::2]) == commit_params(torch.tensor([0.0, 2.0, 4.0]))  # layout-free


@pytest.mark.gpu
def test_param_commitment_is_device_independent(make_model):
    m = make_model(seed=0)
    assert commit_params(m) == commit_params(m.to("cuda"))


def test_batch_commitment_is_ordered_ids():
    assert commit_batch([1, 2, 3]) == commit_batch(torch.tensor([1, 2, 3]))
    assert commit_batch([1, 2, 3]) != commit_batch([3, 2, 1])
    assert (
        commit_batch([1, 2])
        == hashlib.sha256(b"holograd.batch" + (1).to_bytes(8, "little") + (2).to_bytes(8, "little")).digest()
    )


def test_proof_seed_is_sha256_of_the_concatenation():
    # Written out by hand: catches a wrong field order, width or byte order.
    th, bh = b"\x01" * 32, b"\x02" * 32
    payload = (7).to_bytes(8, "little") + th + bh + (5).to_bytes(8, "little") + (3).to_bytes(8, "little")
    want = int.from_bytes(hashlib.sha256(payload).digest()[:8], "little")
    assert proof_seed(7, th, bh, 5, 3) == want
    assert 0 <= want < 2**64


def test_every_field_changes_the_seed():
    th, bh = b"\x01" * 32, b"\x02" * 32
    base = proof_seed(7, th, bh, 5, 3)
    others = [
        proof_seed(8, th, bh, 5, 3),
        proof_seed(7, b"\x03" * 32, bh, 5, 3),
        proof_seed(7, th, b"\x03" * 32, 5, 3),
        proof_seed(7, th, bh, 6, 3),
        proof_seed(7, th, bh, 5, 4),
    ]
    assert base not in others and len(set(others)) == 5
    assert step_seeds(7, th, bh, 5, 4)[3] == base


def test_bad_commitment_inputs_are_rejected():
    with pytest.raises(ValueError, match="step t"):
        proof_seed(0, b"", b"", -1, 0)
    with pytest.raises(TypeError, match="theta_hash"):
        proof_seed(0, "abc", b"", 0, 0)
    with pytest.raises(ValueError, match="sample id"):
        commit_batch([-3])
