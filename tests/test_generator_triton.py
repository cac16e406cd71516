"""The Triton kernels of the direction generator (holograd.generator_triton).

Without a GPU the kernels run under Triton's interpreter on CPU tensors (numpy float32, one
correctly rounded operation at a time), in this process: `gaussian` must equal the numpy
reference of the definition (tests/generator_reference.py) bit for bit, `project_partials`'
sums of squares must equal the reference's exact fixed-point sums, and its dot products and
`reconstruct` must be within the rounding bound of their float sums.  A CPU test also compiles
the kernels for sm_90 (Triton ships ptxas) and reads the PTX: correctly rounded division and
square root, no fused multiply-add.  The `gpu` tests run the compiled kernels on CUDA (skipped
without a CUDA device) and compare them with the reference, the interpreter and the CPU
generator, up to 10^7 entries.

The interpreter costs about 40 ms per generated vector whatever its length, so the CPU tests
use large blocks except where the default configuration itself is under test.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys

import generator_reference as ref
import numpy as np
import pytest
import torch

from holograd import directions, generator_triton
from holograd.directions import seed_keys

needs_triton = pytest.mark.skipif(
    not generator_triton.is_available(), reason=f"needs triton >= {generator_triton.MIN_TRITON}"
)


def _interpreter_problem() -> str | None:
    """Why these tests cannot run the kernels under Triton's interpreter beside compiled ones
    here, or None (see generator_triton.MIN_TRITON: interpreters before 3.6 leak their patches
    into later compilations; 3.6's fails under numpy >= 2.4)."""
    if not generator_triton.is_available():
        return f"needs triton >= {generator_triton.MIN_TRITON}"
    import triton

    version, numpy_version = generator_triton.triton_version(triton.__version__), np.__version__
    if version < (3, 6) or (version < (3, 7) and generator_triton.triton_version(numpy_version) >= (2, 4)):
        found = f"found triton {triton.__version__}, numpy {numpy_version}"
        return f"Triton's interpreter needs triton >= 3.7, or 3.6 with numpy < 2.4 ({found})"
    return None


needs_interpreter = pytest.mark.skipif(_interpreter_problem() is not None, reason=str(_interpreter_problem()))
# triton's own jit-decorated helpers are interpreted functions when TRITON_INTERPRET=1 is set at import
needs_compiler = pytest.mark.skipif(
    os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"), reason="TRITON_INTERPRET is set: no compiled kernels"
)

U32 = 2.0**-24  # unit roundoff of float32
U64 = 2.0**-53  # unit roundoff of float64


def reference_matrix(seeds: list[int], start: int, stop: int) -> np.ndarray:
    return np.stack([ref.gaussian(s, start, stop) for s in seeds])


def assert_bits_equal(actual: torch.Tensor, expected: np.ndarray) -> None:
    got = actual.cpu().numpy().view(np.int32)
    want = expected.view(np.int32)
    assert got.shape == want.shape
    differ = np.argwhere(got != want)
    assert differ.size == 0, f"{len(differ)} entries differ, first at {differ[:5].tolist()}"


def exact_sums(products: np.ndarray, axis: int) -> np.ndarray:
    """Exactly rounded sums of the (already rounded) products along `axis` (math.fsum)."""
    return np.apply_along_axis(math.fsum, axis, products.astype(np.float64))


# ----------------------------------------------------------------------------------------------
# gaussian: bit for bit
# ----------------------------------------------------------------------------------------------


@needs_interpreter
@pytest.mark.parametrize(
    ("seeds", "start", "stop", "block"),
    [
        # 2^16 entries per seed: about 190 with |z| > 3, deep in the tail branch
        ([0, 1, 2**64 - 1], 0, 2**16, 16384),
        # the default block (1024): a start and a width that are not multiples of it
        ([12345], 1000, 1000 + 3 * 1024 + 5, generator_triton.BLOCK),
        # the top of the index range: int64 offsets, truncated to uint32 indices
        ([7, directions.derive_seed("test", 0)], 2**31 - 5000, 2**31, 4096),
    ],
)
def test_gaussian_is_bit_identical_to_the_reference(seeds, start, stop, block):
    z = generator_triton.gaussian(seed_keys(seeds), start, stop, block=block)
    assert z.dtype == torch.float32 and z.shape == (len(seeds), stop - start)
    expected = reference_matrix(seeds, start, stop)
    assert_bits_equal(z, expected)
    if stop - start >= 2**16:  # both branches of PPND7 were exercised
        tail = np.abs(expected) > 1.45  # |q| > 0.425 <=> |z| > 1.4395
        assert tail.sum() > 1000 and (~tail).sum() > 1000 and (np.abs(expected) > 3).sum() > 100


@needs_interpreter
def test_gaussian_edges_and_argument_checks():
    keys = seed_keys([3, 4])
    assert generator_triton.gaussian(keys, 5, 5).shape == (2, 0)
    one = generator_triton.gaussian(keys, 2**31 - 1, 2**31, block=16)
    assert_bits_equal(one, reference_matrix([3, 4], 2**31 - 1, 2**31))
    with pytest.raises(ValueError, match="start <= stop"):
        generator_triton.gaussian(keys, 6, 5)
    with pytest.raises(ValueError, match="2\\*\\*31"):
        generator_triton.gaussian(keys, 0, 2**31 + 1)
    with pytest.raises(ValueError, match="int32 tensor of shape"):
        generator_triton.gaussian(keys.to(torch.int64), 0, 5)
    with pytest.raises(ValueError, match="power of two"):
        generator_triton.gaussian(keys, 0, 5, block=1000)


# ----------------------------------------------------------------------------------------------
# project_partials and sumsq: exact sums of squares, dots within the rounding bound
# ----------------------------------------------------------------------------------------------


def sparse_gradient(dim: int, periods: list[int], seed: int, nonzeros: int = 300) -> torch.Tensor:
    """A float64 gradient, N(0, 1) at `nonzeros` random places and at both sides of every
    multiple of each period (block and span edges), and at 0 and dim - 1; zero elsewhere."""
    rng = np.random.default_rng(seed)
    places = {0, dim - 1, *rng.choice(dim, nonzeros, replace=False).tolist()}
    for period in periods:
        places.update(i for m in range(period, dim, period) for i in (m - 1, m))
    grad = np.zeros(dim)
    index = np.array(sorted(places))
    grad[index] = rng.standard_normal(len(index))
    return torch.from_numpy(grad)


def dot_bound_terms(block: int, span_blocks: int) -> int:
    """Additions that one product passes through on its way into a dot, bounding the error:
    the lane accumulation over the span's blocks, the lane reduction (log2(block) levels on a
    GPU; numpy's pairwise sum, used by the interpreter, adds up to 12 levels in its 128-element
    leaves), and the float64 sum of the partials (at most 1 float32 ulp-equivalent)."""
    return span_blocks + int(math.log2(block)) + 12 + 2


@needs_interpreter
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.float64])
def test_project_partials_sums_squares_exactly_and_dots_within_the_rounding_bound(dtype):
    """sumsq: equal to the reference's fixed-point sum.  dots: the products fl(z_i g_i) (float32,
    or float64 for a float64 gradient) are exactly those numpy forms, so the only error is the
    summation's: |dot - fsum(products)| <= n u sum |products|, n = dot_bound_terms (30 here).
    The gradient is sparse (300 non-zeros, on every block and at the block, span and tail
    edges), so that rounding errors of wrongly typed products cannot hide in cancellation:
    the bound then catches products rounded to fp16/bf16 (2^-12 or 2^-9 per product: 7 to 500
    times the bound), any float32 step in the float64 path (10^5 times the bound), a shifted
    column, a dropped or doubled block and a wrong row (errors of the order of the products).
    It does not constrain the order of the summation, which is not part of the definition."""
    seeds = [3, 99, 2**63]  # with rows=2: a second row group that is half empty
    block, span_blocks, rows = 4096, 2, 2
    dim = 2 * block * span_blocks + 777  # three spans, the last one partly masked
    grad = sparse_gradient(dim, [block, block * span_blocks], seed=1).to(dtype)
    dots, sumsq = generator_triton.project_partials(
        grad, seed_keys(seeds), block=block, span_blocks=span_blocks, rows=rows
    )
    assert dots.dtype == torch.float64 and sumsq.dtype == torch.int64 and dots.shape == sumsq.shape == (3,)
    z = reference_matrix(seeds, 0, dim)
    assert sumsq.tolist() == [ref.sumsq_fixed_point(row) for row in z]

    work = np.float64 if dtype == torch.float64 else np.float32
    products = z.astype(work) * grad.to(torch.float64).numpy().astype(work)  # grad -> work is exact
    unit = U64 if dtype == torch.float64 else U32
    bound = dot_bound_terms(block, span_blocks) * unit * np.abs(products.astype(np.float64)).sum(axis=1)
    error = np.abs(dots.numpy() - exact_sums(products, axis=1))
    assert np.all(error <= bound), (error, bound)


@needs_interpreter
def test_sumsq_alone_equals_the_reference_with_the_default_configuration():
    seeds = [5, 6, 7, 8, 9]  # K = 5 > PROJECT_ROWS: a second, partly empty row group
    dim = 8192 + 1000
    sumsq = generator_triton.sumsq(seed_keys(seeds), dim)
    assert sumsq.tolist() == [ref.sumsq_fixed_point(row) for row in reference_matrix(seeds, 0, dim)]


@needs_interpreter
def test_project_partials_checks_its_arguments():
    keys = seed_keys([1])
    with pytest.raises(ValueError, match="flat floating-point"):
        generator_triton.project_partials(torch.zeros(2, 3, 4), keys)
    with pytest.raises(ValueError, match="flat floating-point"):
        generator_triton.project_partials(torch.zeros(4, dtype=torch.int64), keys)


# ----------------------------------------------------------------------------------------------
# reconstruct: within the rounding bound of the dense reference
# ----------------------------------------------------------------------------------------------


@needs_interpreter
@pytest.mark.parametrize(
    ("k", "dim", "dtype", "block"),
    [
        (6, 5000, torch.float32, 8192),
        (6, 5000, torch.float64, 8192),
        (6, 2500, torch.float32, generator_triton.BLOCK),  # the default block, a partial last block
        (40, 300, torch.float32, 8192),  # few columns: the seeds are split into 5 groups
    ],
)
def test_reconstruct_is_within_the_rounding_bound_of_the_dense_sum(k, dim, dtype, block):
    """out_i = sum_j fl(coef_j z_ji): the products are those numpy forms; the rows are added in
    order within a split and the splits then added, at most K additions in all, so
    |out_i - fsum_j p_ji| <= (K + 1) u sum_j |p_ji|.  That catches a product or a sum in the
    wrong dtype, a row skipped or counted twice by the split boundaries, a shifted column or an
    unmasked tail."""
    seeds = list(range(100, 100 + k))
    coef = torch.randn(k, generator=torch.Generator().manual_seed(2), dtype=torch.float64).to(dtype)
    out = generator_triton.reconstruct(coef, seed_keys(seeds), dim, block=block)
    assert out.dtype == dtype and out.shape == (dim,)
    if k == 40:
        assert generator_triton.reconstruct_splits(k, dim, block) == 5
    work = coef.numpy().dtype
    products = coef.numpy()[:, None] * reference_matrix(seeds, 0, dim).astype(work)
    unit = U64 if dtype == torch.float64 else U32
    bound = (k + 1) * unit * np.abs(products.astype(np.float64)).sum(axis=0)
    error = np.abs(out.numpy() - exact_sums(products, axis=0))
    assert np.all(error <= bound)


@needs_interpreter
def test_reconstruct_checks_its_arguments():
    keys = seed_keys([1, 2])
    with pytest.raises(ValueError, match="coef must be"):
        generator_triton.reconstruct(torch.ones(3), keys, 10)
    with pytest.raises(ValueError, match="coef must be"):
        generator_triton.reconstruct(torch.ones(2, dtype=torch.bfloat16), keys, 10)


# ----------------------------------------------------------------------------------------------
# Several runs at once: each run's result is its own call's, bit for bit
# ----------------------------------------------------------------------------------------------


def _runs_inputs(dtype, n_runs=3, dim=2 * 4096 * 2 + 777):
    torch.manual_seed(7)
    return torch.randn(n_runs, dim, dtype=torch.float64).to(dtype), [3, 99, 2**63, 12345, 7]


@needs_interpreter
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_project_partials_of_several_runs_are_each_runs_own_bit_for_bit(dtype):
    """Three gradients (a tile of four accumulators, one masked) on five seeds (a half-empty
    second row group) and three spans (the last partly masked): each run's dots equal its own
    call's bit for bit, the sums of squares are the single call's.  Catches a run's products
    landing in another run's row, a masked run leaking in, a run stride off by a row."""
    grads, seeds = _runs_inputs(dtype)
    keys, options = seed_keys(seeds), {"block": 4096, "span_blocks": 2, "rows": 2}
    dots, sumsq = generator_triton.project_partials(grads, keys, **options)
    assert dots.shape == (3, 5) and sumsq.shape == (5,)
    for run in range(3):
        alone, alone_sumsq = generator_triton.project_partials(grads[run], keys, **options)
        assert torch.equal(dots[run], alone) and torch.equal(sumsq, alone_sumsq)


@needs_interpreter
@pytest.mark.parametrize(("dtype", "dim"), [(torch.float32, 5000), (torch.float64, 5000), (torch.float32, 300)])
def test_reconstruct_of_several_runs_is_each_runs_own_bit_for_bit(dtype, dim):
    """Coefficients of three runs (and, at D = 300, seeds split into groups): each run's
    entries equal its own call's bit for bit."""
    seeds = list(range(100, 140))
    coef = torch.randn(3, len(seeds), generator=torch.Generator().manual_seed(3), dtype=torch.float64).to(dtype)
    out = generator_triton.reconstruct(coef, seed_keys(seeds), dim, block=4096)
    assert out.shape == (3, dim) and out.dtype == dtype
    for run in range(3):
        assert torch.equal(out[run], generator_triton.reconstruct(coef[run], seed_keys(seeds), dim, block=4096))


@needs_interpreter
def test_project_reconstruct_of_several_runs_on_the_cuda_path_is_each_runs_own():
    """holograd.directions' CUDA path of project_reconstruct (here on interpreted kernels): R
    runs at once give each run what the same path gives it alone, scalars and g_hat."""
    grads, seeds = _runs_inputs(torch.float32, dim=3000)
    scalars, g_hat = directions._project_reconstruct_cuda(grads, seeds, None)
    assert scalars.shape == (3, 5) and g_hat.shape == (3, 3000)
    for run in range(3):
        alone_scalars, alone = directions._project_reconstruct_cuda(grads[run : run + 1], seeds, None)
        assert torch.equal(scalars[run], alone_scalars[0]) and torch.equal(g_hat[run], alone[0])


# ----------------------------------------------------------------------------------------------
# The compiled kernels, without a GPU: PTX for sm_90
# ----------------------------------------------------------------------------------------------

_SIGNATURES = {
    "gaussian_kernel": (
        {"keys_ptr": "*i32", "out_ptr": "*fp32", "start": "i32", "width": "i32", "BLOCK": "constexpr"},
        {"BLOCK": generator_triton.BLOCK},
    ),
    "project_kernel": (
        {
            "keys_ptr": "*i32",
            "grad_ptr": "*bf16",
            "dots_ptr": "*fp32",
            "sumsq_ptr": "*i64",
            "n_rows": "i32",
            "dim": "i32",
            "n_spans": "i32",
            "n_runs": "i32",
            "run_stride": "i32",
            "HAS_GRAD": "constexpr",
            "WORK_F64": "constexpr",
            "ROWS": "constexpr",
            "RUNS": "constexpr",
            "SPAN_BLOCKS": "constexpr",
            "BLOCK": "constexpr",
        },
        {
            "HAS_GRAD": True,
            "WORK_F64": False,
            "ROWS": generator_triton.PROJECT_ROWS,
            "RUNS": 1,
            "SPAN_BLOCKS": generator_triton.PROJECT_SPAN_BLOCKS,
            "BLOCK": generator_triton.BLOCK,
        },
    ),
    "reconstruct_kernel": (
        {
            "keys_ptr": "*i32",
            "coef_ptr": "*fp32",
            "out_ptr": "*fp32",
            "n_rows": "i32",
            "rows_per_split": "i32",
            "dim": "i32",
            "n_runs": "i32",
            "WORK_F64": "constexpr",
            "RUNS": "constexpr",
            "BLOCK": "constexpr",
        },
        {"WORK_F64": False, "RUNS": 1, "BLOCK": generator_triton.BLOCK},
    ),
}
# the kernels for several runs at once (a tile of RUNS accumulators beside each z)
for _name in ("project_kernel", "reconstruct_kernel"):
    _signature, _constexprs = _SIGNATURES[_name]
    _SIGNATURES[f"{_name}[runs=4]"] = (_signature, {**_constexprs, "RUNS": 4})


@needs_interpreter
@needs_compiler
@pytest.mark.parametrize("name", sorted(_SIGNATURES))
def test_cuda_kernels_compile_with_correctly_rounded_operations_and_no_fma(name, tmp_path, monkeypatch):
    """Compile for sm_90 as a launch would (enable_fp_fusion=False, the module's warps) and read
    the PTX: every division and square root is the IEEE one (div.rn / sqrt.rn, never div.full
    or sqrt.approx), every float add and multiply carries .rn (which ptxas may not contract),
    there is no fma, the hash shifts are logical and m = x >> 8 is arithmetic."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path))
    kernel = getattr(generator_triton._kernels(False), name.partition("[")[0])
    signature, constexprs = _SIGNATURES[name]
    try:
        compiled = triton.compile(
            ASTSource(kernel, signature=signature, constexprs=constexprs),
            target=GPUTarget("cuda", 90, 32),
            options={"num_warps": generator_triton.NUM_WARPS, "enable_fp_fusion": False},
        )
    except (FileNotFoundError, RuntimeError) as exc:  # no CUDA toolchain in this triton installation
        pytest.skip(f"cannot compile for CUDA here: {exc}")
    ptx = compiled.asm["ptx"]
    assert "fma" not in ptx and "mad.f" not in ptx and "mad.rn" not in ptx
    assert "div.rn.f32" in ptx and "sqrt.rn.f32" in ptx
    assert "div.full" not in ptx and "div.approx" not in ptx and "sqrt.approx" not in ptx and "rcp" not in ptx
    assert "mul.rn.f32" in ptx and "add.rn.f32" in ptx
    for op in ("mul.f32", "add.f32", "sub.f32"):
        assert f"\t{op}" not in ptx, f"{op} without .rn may be contracted"
    for shift in (17, 11, 15):
        assert f", {shift};" in ptx and all(
            line.split()[0] == "shr.u32"
            for line in ptx.splitlines()
            if line.strip().startswith("shr") and f", {shift};" in line
        )
    assert any(
        line.split()[0] == "shr.s32" and line.rstrip().endswith(", 8;") for line in ptx.splitlines() if "shr" in line
    )
    assert "cubin" in compiled.asm  # ptxas (with --fmad=false) accepted it


@needs_interpreter
@needs_compiler
def test_interpreted_and_compiled_kernels_coexist_in_one_process():
    from triton.runtime.interpreter import InterpretedFunction
    from triton.runtime.jit import JITFunction

    interpreted, compiled = generator_triton._kernels(True), generator_triton._kernels(False)
    assert isinstance(interpreted.gaussian_kernel, InterpretedFunction)
    assert isinstance(compiled.gaussian_kernel, JITFunction)
    assert generator_triton._interpret(torch.device("cpu"))


def test_an_old_triton_is_refused_in_one_line_naming_the_minimum(monkeypatch):
    """torch 2.3 brings triton 2.3.1, without the features the kernels use: the module says which
    version it needs instead of failing somewhere inside a compilation."""
    import types

    fake = types.ModuleType("triton")
    fake.__version__ = "2.3.1"
    fake.language = types.ModuleType("triton.language")
    monkeypatch.setitem(sys.modules, "triton", fake)
    monkeypatch.setitem(sys.modules, "triton.language", fake.language)
    assert not generator_triton.is_available()
    with pytest.raises(RuntimeError) as error:
        generator_triton._import_triton()
    assert str(error.value) == "holograd.generator_triton needs triton >= 3.0 (found 2.3.1; torch >= 2.4 brings it)"
    assert generator_triton.triton_version("3.1.0+git4f2a") == (3, 1) and generator_triton.triton_version("3") == (3, 0)


def test_the_module_imports_without_triton_and_says_what_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "triton", None)  # `import triton` raises ImportError
    monkeypatch.setitem(sys.modules, "triton.language", None)
    spec = importlib.util.spec_from_file_location("generator_triton_without_triton", generator_triton.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert not module.is_available()
    with pytest.raises(RuntimeError, match="needs the 'triton' package"):
        module.gaussian(seed_keys([1]), 0, 10)


# ----------------------------------------------------------------------------------------------
# On CUDA (skipped without a CUDA device)
# ----------------------------------------------------------------------------------------------


def cuda_keys(seeds: list[int]) -> torch.Tensor:
    return seed_keys(seeds, "cuda")


@pytest.mark.gpu
@needs_triton
@pytest.mark.parametrize(
    ("seeds", "start", "stop"),
    [
        ([0, 1, 2**64 - 1], 0, 2**16),
        ([12345, 6789], 1000, 1000 + 3 * 1024 + 5),
        ([7], 2**31 - 5000, 2**31),
        ([8], 2**31 - 1, 2**31),
    ],
)
def test_gpu_gaussian_is_bit_identical_to_the_reference(seeds, start, stop):
    assert_bits_equal(generator_triton.gaussian(cuda_keys(seeds), start, stop), reference_matrix(seeds, start, stop))


@pytest.mark.gpu
@needs_triton
def test_gpu_gaussian_10_million_entries_bit_identical_to_the_reference():
    seeds = directions.derive_seeds("test-gpu-bit-identity", 0, 10)
    z = generator_triton.gaussian(cuda_keys(seeds), 0, 10**6).cpu()
    for row, seed in zip(z, seeds):
        assert_bits_equal(row, ref.gaussian(seed, 0, 10**6))


@pytest.mark.gpu
@needs_triton
def test_gpu_gaussian_equals_the_cpu_generator():
    seeds = directions.derive_seeds("test-gpu-cpu", 0, 8)
    for start, stop in ((0, 300_000), (2**30 + 17, 2**30 + 17 + 100_003)):
        cpu = directions.gaussian_block(seed_keys(seeds), start, stop)
        assert_bits_equal(generator_triton.gaussian(cuda_keys(seeds), start, stop), cpu.numpy())


@pytest.mark.gpu
@needs_triton
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.float64])
def test_gpu_project_partials_exact_sumsq_bounded_deterministic_dots(dtype):
    seeds = directions.derive_seeds("test-gpu-project", 0, 9)
    dim = 1_000_003
    grad = torch.randn(dim, generator=torch.Generator().manual_seed(3), dtype=torch.float64).to(dtype)
    dots, sumsq = generator_triton.project_partials(grad.cuda(), cuda_keys(seeds))
    again, sumsq_again = generator_triton.project_partials(grad.cuda(), cuda_keys(seeds))
    assert torch.equal(dots, again) and torch.equal(sumsq, sumsq_again)  # bit for bit: no atomics
    assert torch.equal(generator_triton.sumsq(cuda_keys(seeds), dim), sumsq)
    z = reference_matrix(seeds, 0, dim)
    assert sumsq.cpu().tolist() == [ref.sumsq_fixed_point(row) for row in z]
    work = np.float64 if dtype == torch.float64 else np.float32
    products = z.astype(work) * grad.to(torch.float64).numpy().astype(work)
    unit = U64 if dtype == torch.float64 else U32
    terms = dot_bound_terms(generator_triton.BLOCK, generator_triton.PROJECT_SPAN_BLOCKS)
    bound = terms * unit * np.abs(products.astype(np.float64)).sum(axis=1)
    assert np.all(np.abs(dots.cpu().numpy() - exact_sums(products, axis=1)) <= bound)


@pytest.mark.gpu
@needs_triton
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gpu_reconstruct_equals_the_ordered_float_sum_bit_for_bit(dtype):
    """With one split, the compiled kernel performs, per entry, the correctly rounded products
    c_j z_j and their sum row by row, in order; numpy does the same operations one at a time
    (as Triton's interpreter would): equal bits unless the compiler contracted a multiply and
    an add into an FMA or reordered the sum."""
    seeds, dim = list(range(200, 206)), 5000
    assert generator_triton.reconstruct_splits(len(seeds), dim) == 1
    coef = torch.randn(len(seeds), generator=torch.Generator().manual_seed(4), dtype=torch.float64).to(dtype)
    on_gpu = generator_triton.reconstruct(coef.cuda(), cuda_keys(seeds), dim).cpu().numpy()
    work = np.float64 if dtype == torch.float64 else np.float32
    expected = np.zeros(dim, dtype=work)
    for c, z in zip(coef.numpy(), reference_matrix(seeds, 0, dim)):
        expected = expected + work(c) * z.astype(work)
    assert np.array_equal(on_gpu.view(np.uint8), expected.view(np.uint8))


@pytest.mark.gpu
@needs_triton
def test_gpu_reconstruct_large_is_close_to_the_dense_sum():
    seeds, dim = directions.derive_seeds("test-gpu-reconstruct", 0, 16), 200_001
    coef = torch.randn(len(seeds), generator=torch.Generator().manual_seed(5))
    out = generator_triton.reconstruct(coef.cuda(), cuda_keys(seeds), dim).cpu().numpy()
    products = coef.numpy()[:, None] * reference_matrix(seeds, 0, dim)
    bound = (len(seeds) + 1) * U32 * np.abs(products.astype(np.float64)).sum(axis=0)
    assert np.all(np.abs(out - exact_sums(products, axis=0)) <= bound)


@pytest.mark.gpu
@needs_triton
def test_gpu_several_runs_are_each_runs_own_bit_for_bit():
    """The compiled kernels with a tile of runs: each run's dots and reconstruction equal its
    own launch's (the interpreter tests show it for the kernel source; this shows the compiler
    kept the lane order of the projection's reduction)."""
    grads, seeds = _runs_inputs(torch.float32)
    keys = cuda_keys(seeds)
    dots, _ = generator_triton.project_partials(grads.cuda(), keys)
    coef = dots.to(torch.float32)
    out = generator_triton.reconstruct(coef, keys, grads.size(1))
    for run in range(grads.size(0)):
        assert torch.equal(dots[run], generator_triton.project_partials(grads[run].cuda(), keys)[0])
        assert torch.equal(out[run], generator_triton.reconstruct(coef[run].contiguous(), keys, grads.size(1)))


@needs_interpreter
def test_interpreted_kernel_equals_the_cpu_generator_bit_for_bit():
    # The two implementations a worker and a verifier would use (CPU: numba; CUDA: Triton,
    # here interpreted), compared directly rather than each through the reference.
    from holograd.directions import gaussian_block, seed_keys

    keys = seed_keys([5, 2**64 - 1, 31337])
    cpu = gaussian_block(keys, 777, 777 + 20_000)
    triton_z = generator_triton.gaussian(keys, 777, 777 + 20_000)
    assert torch.equal(cpu.view(torch.int32), triton_z.view(torch.int32))
