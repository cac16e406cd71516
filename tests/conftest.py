"""Shared fixtures: a small token cache of the embedded corpus, the micro model, batches."""

import os

# Never wait on the Hugging Face hub in tests: the paper dataset must fail fast and clearly.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest
from pipeline import SMOKE, TARGET, run_on_fake_cluster, tracked_copy

from holograd.data import SampleSet, batch_ids, load_token_cache, prepare_token_cache
from holograd.models import build_model

VOCAB = 300
BLOCK = 16


@pytest.fixture(scope="session")
def cluster_smoke_run(tmp_path_factory):
    """The one full run of the smoke config that the pipeline tests share: a tracked copy of
    the repository, every measurement job submitted through a scheduler stand-in to a fresh
    "machine" (tests/fake_cluster.py), with fake credentials in the environment.
    Returns (repo, queue, result)."""
    repo = tracked_copy(tmp_path_factory.mktemp("repo"))
    queue = tmp_path_factory.mktemp("queue")
    return repo, queue, run_on_fake_cluster(repo, queue, *SMOKE, TARGET)


@pytest.fixture(scope="session")
def smoke_run(cluster_smoke_run):
    """The repository after the smoke run, which must have succeeded."""
    repo, _, result = cluster_smoke_run
    assert result.returncode == 0, f"the smoke run failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return repo


@pytest.fixture(scope="session")
def token_cache_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cache") / "embedded.pt"
    prepare_token_cache("embedded", path, vocab_size=VOCAB)
    return path


@pytest.fixture(scope="session")
def token_cache(token_cache_file):
    return load_token_cache(token_cache_file)


@pytest.fixture(scope="session")
def train_samples(token_cache):
    return SampleSet(token_cache.splits["train"], BLOCK)


@pytest.fixture()
def make_model(token_cache):
    def make(seed=0, preset="micro"):
        return build_model(preset, token_cache.vocab_size, BLOCK, seed=seed)

    return make


@pytest.fixture()
def make_batch(train_samples):
    def make(step=0, size=4, stream=0, seed=0):
        return train_samples.batch(batch_ids(seed, step, size, train_samples.n_samples, stream=stream))

    return make


REQUIRE_GPU = "HOLOGRAD_REQUIRE_GPU"
"""Set to 1 (benchmarks/gpu_check.sh does) to make a missing or unusable GPU an error: the tests
marked `gpu` then fail instead of being skipped, so a GPU check can never pass without a GPU."""


def pytest_collection_modifyitems(config, items):
    from holograd.devices import cuda_problem

    gpu_items = [item for item in items if "gpu" in item.keywords]
    problem = cuda_problem() if gpu_items else None
    if problem is None:
        return
    if os.environ.get(REQUIRE_GPU, "0") not in ("", "0"):
        raise pytest.UsageError(f"{REQUIRE_GPU}=1 but the tests marked gpu cannot run: {problem}")
    skip = pytest.mark.skip(reason=f"needs a CUDA device ({problem})")
    for item in gpu_items:
        item.add_marker(skip)
