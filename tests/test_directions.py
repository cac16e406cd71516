"""Seeded directions: the generator's definition, determinism, streaming, and its statistics."""

import hashlib
import math
import subprocess
import sys
from statistics import NormalDist

import pytest
import torch

import holograd.directions as directions
from holograd import generator_cpu
from holograd.directions import (
    gaussian_block,
    inverse_norms,
    project,
    random_directions,
    reconstruct,
    seed_keys,
)

SEEDS = [0, 1, 2**63 + 5, 123456789]


# --- the definition ----------------------------------------------------------------------


def reference_normals(seed: int, indices) -> list[float]:
    """The generator as written in the module docstring, in plain Python integers and floats."""
    digest = hashlib.blake2b(seed.to_bytes(8, "little"), digest_size=12, person=b"holograd.dir").digest()
    k0, k1, k2 = (int.from_bytes(digest[4 * i : 4 * i + 4], "little") for i in range(3))
    mask, out = 0xFFFFFFFF, []
    for i in indices:
        x = i ^ k0
        x ^= x >> 17
        x = (x * 0xED5AD4BB) & mask
        x ^= x >> 11
        x = (x + k1) & mask
        x = (x * 0xAC4C1B51) & mask
        x ^= x >> 15
        x ^= k2
        x = (x * 0x31848BAB) & mask
        m = x >> 8
        m = m - (1 << 24) if m >= 1 << 23 else m  # top 24 bits as a signed integer
        y = (2 * m + 1) / 2**24
        out.append(NormalDist().inv_cdf((y + 1) / 2))  # sqrt(2) erfinv(y)
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_tensor_generator_matches_reference(seed):
    # Catches any slip in the int32 tensor version: an arithmetic instead of a logical shift
    # (missing mask), a key injected at the wrong place, a wrong multiplier, or a float mapping
    # that is not the exact (2m+1)/2^24.
    indices = list(range(3000)) + [2**20 + 7, 2**30 + 1, 2**31 - 2]
    got = torch.cat([gaussian_block(seed_keys([seed]), i, i + 1)[0] for i in indices[3000:]])
    got = torch.cat([gaussian_block(seed_keys([seed]), 0, 3000)[0], got]).double()
    want = torch.tensor(reference_normals(seed, indices), dtype=torch.float64)
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-6)


def test_inverse_cdf_is_accurate_on_every_possible_input():
    # The hash yields one of 2^24 values q = (2m + 1) / 2^25; check the float32 PPND7 transform
    # on all of them against float64 Cephes ndtri.  PPND7's design accuracy is ~1e-7 relative
    # and float32 adds a few ulps; a wrong coefficient, a broken tail logarithm or a branch
    # selected on the wrong side of |q| = 0.425 is off by far more.  It must also be exactly odd.
    m = torch.arange(-(2**23), 2**23, dtype=torch.int32)
    q = m.to(torch.float32).mul_(2.0**-24).add_(2.0**-25).view(1, -1)
    want = torch.special.ndtri(0.5 + q.double())[0]
    z = torch.from_numpy(generator_cpu.inverse_cdf_of(q[0].numpy())).double()
    assert ((z - want).abs() / want.abs()).max().item() < 5e-7
    assert torch.equal(z, -z.flip(0))


def test_rows_are_unit_vectors_of_the_requested_dtype():
    v = random_directions(SEEDS, 1000, dtype=torch.float64)
    assert v.shape == (4, 1000) and v.dtype == torch.float64
    assert torch.allclose(v.norm(dim=1), torch.ones(4, dtype=torch.float64), atol=1e-6)


# --- determinism ----------------------------------------------------------------------------


def test_direction_independent_of_other_seeds_and_order():
    # A generator with shared state (one torch.Generator for the batch) would fail this.
    alone = random_directions([77], 5000)[0]
    assert torch.equal(random_directions([1, 77, 3], 5000)[1], alone)
    assert torch.equal(random_directions([77, 1, 3][::-1], 5000)[2], alone)


def test_direction_prefix_is_independent_of_dim():
    # z_i depends on (seed, i) only: a longer vector extends a shorter one.
    z = gaussian_block(seed_keys([9]), 0, 4000)
    assert torch.equal(gaussian_block(seed_keys([9]), 1000, 2000), z[:, 1000:2000])


def _digest(seeds, dim) -> str:
    return hashlib.sha256(random_directions(seeds, dim).numpy().tobytes()).hexdigest()


def test_direction_identical_in_another_process():
    # A seed mixed with process state (hash randomisation, time, global RNG) would fail this.
    code = (
        "import hashlib; from holograd import random_directions as r;"
        f"print(hashlib.sha256(r({SEEDS!r}, 4321).numpy().tobytes()).hexdigest())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123", "PATH": ""},
    )
    assert out.stdout.strip() == _digest(SEEDS, 4321)


@pytest.mark.gpu
def test_same_direction_on_cpu_and_cuda():
    # torch's per-device generators would differ completely.  Ours uses only correctly rounded
    # operations, so the directions must be bit-identical (the spec asks for <= 1e-6).
    cpu = random_directions(SEEDS, 1_000_003)
    gpu = random_directions(SEEDS, 1_000_003, device="cuda").cpu()
    assert (cpu - gpu).abs().max().item() <= 1e-6
    assert torch.equal(cpu, gpu)
    g = torch.randn(1_000_003)
    assert torch.allclose(project(g, SEEDS), project(g.cuda(), SEEDS).cpu(), rtol=1e-4, atol=1e-5)


# --- streaming --------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [100, 333, 5000, 1 << 18])
def test_chunked_projection_and_reconstruction_equal_dense(chunk):
    torch.manual_seed(0)
    dim, seeds = 2500, list(range(40))
    g = torch.randn(dim)
    v = random_directions(seeds, dim)
    a = project(g, seeds, chunk_elements=chunk)
    assert torch.allclose(a, v @ g, rtol=0, atol=1e-5 * g.norm().item())
    g_hat = reconstruct(a, seeds, dim, chunk_elements=chunk)
    dense = (dim / len(seeds)) * (a @ v)
    assert torch.allclose(g_hat, dense, rtol=0, atol=1e-5 * dense.norm().item())
    # The fixed-point sum truncates each z_i^2 to a multiple of 2^-28: relative error < 1e-8.
    assert torch.allclose(
        inverse_norms(seeds, dim, chunk_elements=chunk),
        gaussian_block(seed_keys(seeds), 0, dim).double().norm(dim=1).reciprocal(),
        rtol=1e-8,
        atol=0,
    )


def generated(monkeypatch) -> list[tuple[int, int]]:
    """(entries generated, entries of a direction held at once) of every call of the CPU
    generator from now on, in order (the kernels hold one segment of `width` entries)."""
    seen = []
    fill, project_, reconstruct_ = generator_cpu.fill, generator_cpu.project, generator_cpu.reconstruct

    def spy_fill(keys, start, out, *args):
        seen.append((out.size, out.size))
        return fill(keys, start, out, *args)

    def spy_project(keys, grad, width, *args):
        seen.append((len(keys) * grad.size, width))
        return project_(keys, grad, width, *args)

    def spy_reconstruct(keys, coef, out, width, *args):
        seen.append((len(keys) * out.size, width))
        return reconstruct_(keys, coef, out, width, *args)

    monkeypatch.setattr(generator_cpu, "fill", spy_fill)
    monkeypatch.setattr(generator_cpu, "project", spy_project)
    monkeypatch.setattr(generator_cpu, "reconstruct", spy_reconstruct)
    return seen


@pytest.mark.parametrize("chunk", [700, 5000])
def test_streaming_never_holds_more_than_the_chunk(monkeypatch, chunk):
    # Generating all K directions at once (K x D entries) would break this bound.
    seen = generated(monkeypatch)
    seeds, dim = list(range(300)), 20_000
    g = torch.randn(dim)
    a = project(g, seeds, chunk_elements=chunk)
    reconstruct(a, seeds, dim, chunk_elements=chunk)
    assert seen and max(held for _, held in seen) <= chunk
    assert sum(entries for entries, _ in seen) == 3 * len(seeds) * dim  # project, norm pass, reconstruction pass


def test_reconstruct_reuses_norms_from_project(monkeypatch):
    seeds, dim = list(range(8)), 3000
    g = torch.randn(dim)
    a, inv = project(g, seeds, return_inv_norms=True)
    calls = []
    monkeypatch.setattr(directions, "inverse_norms", lambda *x, **k: calls.append(1))
    reconstruct(a, seeds, dim, inv_norms=inv)
    assert not calls


# --- statistics of the generator ----------------------------------------------------------------

N = 1 << 20


def test_entries_are_standard_normal():
    # n = 2^20 entries: the sample mean has sd 1/sqrt(n), the variance sd sqrt(2/n), the fourth
    # moment sd sqrt(96/n); 5 sd bounds.  A missing sign mask (biased mean), a uniform instead of
    # a Gaussian transform (kurtosis 1.8) or a dropped sqrt(2) (variance 1/2) fail.
    z = gaussian_block(seed_keys([2024]), 0, N)[0].double()
    assert abs(z.mean().item()) < 5 / math.sqrt(N)
    assert abs(z.var().item() - 1) < 5 * math.sqrt(2 / N)
    assert abs((z**4).mean().item() - 3) < 5 * math.sqrt(96 / N)
    # Tails: P(|z| > 3) = 0.0026998; binomial sd.
    p = 2 * (1 - NormalDist().cdf(3))
    assert abs((z.abs() > 3).double().mean().item() - p) < 5 * math.sqrt(p * (1 - p) / N)


def test_entries_are_uncorrelated_within_and_across_seeds():
    # Correlation estimates of independent streams have sd 1/sqrt(n).  Keys that do not reach
    # the hash (all seeds one stream) give correlation 1; a weak mix correlates neighbours.
    z = gaussian_block(seed_keys([5, 6, 2**40 + 5]), 0, N).double()
    bound = 5 / math.sqrt(N)
    for lag in (1, 2, 256):
        assert abs(torch.corrcoef(torch.stack([z[0, :-lag], z[0, lag:]]))[0, 1].item()) < bound
    c = torch.corrcoef(z)
    assert c[0, 1].abs().item() < bound and c[0, 2].abs().item() < bound


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seeds", [[-1], [2**64], [1.5], ["3"], []])
def test_bad_seeds_are_rejected(seeds):
    with pytest.raises(ValueError, match="seed"):
        random_directions(seeds, 10)


def test_low_and_high_precision_gradients():
    g = torch.randn(5000, generator=torch.Generator().manual_seed(0))
    seeds = list(range(4))
    want = project(g, seeds)
    assert project(g.bfloat16(), seeds).dtype == torch.bfloat16
    assert torch.allclose(project(g.bfloat16(), seeds).float(), want, atol=0.02 * g.norm().item() / 70)
    assert torch.allclose(project(g.double(), seeds).float(), want, atol=1e-5)
    assert reconstruct(want.double(), seeds, 5000).dtype == torch.float64


def test_bad_dimension_chunk_and_scalars_are_rejected():
    with pytest.raises(ValueError, match="dimension"):
        random_directions([1], 0)
    with pytest.raises(ValueError, match="chunk_elements"):
        project(torch.randn(10), [1], chunk_elements=0)
    with pytest.raises(ValueError, match="one scalar per seed"):
        reconstruct(torch.randn(3), [1, 2], 10)
    with pytest.raises(ValueError, match="flat floating-point gradient"):
        project(torch.randn(2, 5), [1])
    with pytest.raises(ValueError, match="flat floating-point gradient"):
        project(torch.arange(5), [1])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_project_reconstruct_in_one_pass_equals_two_passes(dtype):
    """The fused pass (each direction generated once) gives project's scalars and
    reconstruct's g_hat up to summation order.  Catches a fused pass that uses a row before
    its norm is known, mixes up the rows of a block, or applies the scale twice."""
    from holograd.directions import project_reconstruct

    dim, seeds = 5_003, list(range(40, 77))  # row blocks of 2 rows (chunk 12_000) and a ragged last one
    g = torch.randn(dim, generator=torch.Generator().manual_seed(3), dtype=dtype)
    a2 = project(g, seeds)
    g2 = reconstruct(a2, seeds, dim, scale=123.0)
    a1, g1 = project_reconstruct(g, seeds, scale=123.0, chunk_elements=12_000)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert a1.dtype == g1.dtype == dtype
    torch.testing.assert_close(a1, a2, rtol=tol, atol=tol * g.norm().item() / dim**0.5)
    torch.testing.assert_close(g1, g2, rtol=tol, atol=tol * g2.abs().max().item())


@pytest.mark.parametrize("chunk", [12_000, 3_000])
def test_project_reconstruct_generates_each_direction_once_within_the_chunk(monkeypatch, chunk):
    """With whole rows fitting the chunk (D = 5,003 <= 12,000) every direction entry is
    generated exactly once; with D above the chunk it falls back to column tiles (norm pass
    shared, so twice).  Either way no tile exceeds the chunk: a fused pass that generated a
    whole D-row regardless of the chunk (the bound the issue sets for any K) fails here."""
    from holograd.directions import project_reconstruct

    seen = generated(monkeypatch)
    dim, seeds = 5_003, list(range(37))
    g = torch.randn(dim, generator=torch.Generator().manual_seed(4))
    a1, g1 = project_reconstruct(g, seeds, chunk_elements=chunk)
    assert max(held for _, held in seen) <= chunk
    assert sum(entries for entries, _ in seen) == (1 if dim <= chunk else 2) * len(seeds) * dim
    torch.testing.assert_close(
        g1, reconstruct(project(g, seeds), seeds, dim), rtol=1e-5, atol=1e-5 * g1.abs().max().item()
    )
