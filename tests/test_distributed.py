"""The protocol across processes (holograd.distributed): its parts, its single-process
simulation against the strategies' own step, and real torchrun runs (4 gloo processes on
this CPU) against the simulation, uninterrupted and with a worker killed mid-run."""

import json
import math

import pytest
import torch
import yaml

from holograd.commitments import commit_params
from holograd.data import SampleSet
from holograd.distributed.config import RunConfig
from holograd.distributed.launch import launch
from holograd.distributed.protocol import Verdict, assign, capacity, pack, simulate, unpack
from holograd.models import build_model
from holograd.strategies import make_strategy
from holograd.training import step_batches

BASE = {"workers": 4, "model": "micro", "block_size": 16, "batch_size": 4, "steps": 6, "lr": 0.05, "seed": 3}
VARIANTS = {
    "random": {"k": 8},
    "adc": {"k": 6, "rank": 4, "warm_steps": 3},  # 3 random warm-up steps, then codebook directions
    "momentum": {"aggregator": "trimmed_mean", "tau": 0.25, "cold_start_steps": 2},
}


@pytest.fixture()
def one_thread():
    """Results are compared bit for bit with 1-thread worker processes."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _splits(cache, cfg):
    return SampleSet(cache.splits["train"], cfg.block_size), SampleSet(cache.splits["validation"], cfg.block_size)


def _simulate(cache, cfg):
    model = build_model(cfg.model, cache.vocab_size, cfg.block_size, seed=cfg.seed)
    _, result = simulate(cfg, model, *_splits(cache, cfg))
    return commit_params(model).hex(), result


# --- the parts --------------------------------------------------------------------------------


def test_slots_go_round_robin_to_the_workers_not_slashed():
    assert assign(8, 4) == [0, 1, 2, 3, 0, 1, 2, 3]
    assert assign(8, 4, {1}) == [0, 2, 3, 0, 2, 3, 0, 2]
    assert capacity(assign(8, 4, {1}), 4) == 3
    with pytest.raises(RuntimeError, match="every worker has been slashed"):
        assign(8, 2, {0, 1})


def test_the_wire_format_keeps_every_bit_and_every_slot_once():
    """A scalar must cross the network with its exact float32 bits (catches a conversion
    through text or float64 that rounds), and a lost or doubled slot must be caught."""
    values = torch.tensor([1e-30, -3.5, float.fromhex("0x1.fffffep+127"), 2.0**-149])
    a, b = pack([0, 2], values[[0, 2]], 3), pack([1, 3], values[[1, 3]], 3)
    assert a.dtype == torch.int32 and a.shape == (3, 2)  # 8 bytes per proof, padded to 3 rows
    assert torch.equal(unpack([a, b], 4).view(torch.int32), values.view(torch.int32))
    with pytest.raises(RuntimeError, match="exactly once"):
        unpack([a, a], 4)
    with pytest.raises(RuntimeError, match="exactly once"):
        unpack([a], 4)
    verdict = Verdict(5, 2, frozenset({1, 3}))
    assert Verdict.decode(verdict.encode(4)) == verdict


@pytest.mark.parametrize(
    "change, message",
    [
        ({"strategy": "sgd"}, "at strategy: 'sgd' is not one of"),
        ({"colour": 1}, "'colour' was unexpected"),
        ({"options": {"k": 4, "warm_start": "bootstrap"}, "strategy": "adc"}, "bootstrap"),
        ({"byzantine": {"ranks": [0]}, "strategy": "random"}, r"at pogp\.verifier: must be an honest rank"),
        ({"byzantine": {"ranks": [0, 1, 2, 3]}, "strategy": "random"}, "no honest proof"),
        ({"options": {"k": 4, "proof_path": "backprop"}, "strategy": "random"}, "set by the protocol"),
        ({"workers": 0, "strategy": "random"}, "at workers: 0 is less than the minimum of 1"),
        ({"fault": {"rank": 4, "step": 1}, "strategy": "random"}, "at fault: must name a rank < 4"),
        ({"options": {"kk": 4}, "strategy": "random"}, r"unknown option\(s\) \['kk'\]"),
    ],
)
def test_a_bad_config_stops_with_one_line_naming_it(change, message):
    raw = {**BASE, "strategy": "random", "options": {"k": 4}, **change}
    with pytest.raises(ValueError, match=message) as info:
        RunConfig.from_mapping(raw)
    assert "\n" not in str(info.value)


def test_a_bad_run_file_is_named_and_its_schema_is_the_code_s(tmp_path):
    """The run file's error names the file; the schema's strategies and attacks are the code's."""
    from holograd.byzantine import ATTACKS
    from holograd.distributed.config import VERIFIABLE
    from holograd.validation import SCHEMA_DIR

    path = _write_config(tmp_path / "run.yaml", {**BASE, "strategy": "random", "lr": 0})
    with pytest.raises(ValueError, match=r"run\.yaml: distributed config error at lr: 0 is less than or equal to"):
        RunConfig.load(path)
    run = yaml.safe_load((SCHEMA_DIR / "distributed_run.schema.yaml").read_text())
    config = yaml.safe_load((SCHEMA_DIR / "config.schema.yaml").read_text())
    assert run["properties"]["strategy"]["enum"] == list(VERIFIABLE)
    assert config["$defs"]["attack"]["enum"] == list(ATTACKS)


# --- the simulation against the strategies' own step ----------------------------------------------


@pytest.mark.parametrize("strategy", list(VARIANTS))
def test_the_protocol_in_one_process_is_the_strategys_jvp_step(strategy, token_cache, one_thread):
    """Honest workers, no verifier: the protocol (slots spread over 4 workers, packed,
    gathered, unpacked) ends at exactly the theta of strategy.step with proofs by JVP.
    Catches a protocol that reorders, loses or rounds a proof, or derives other seeds."""
    cfg = RunConfig.from_mapping({**BASE, "strategy": strategy, "options": VARIANTS[strategy]})
    theta, result = _simulate(token_cache, cfg)
    model = build_model(cfg.model, token_cache.vocab_size, cfg.block_size, seed=cfg.seed)
    reference = make_strategy(
        strategy, model, lr=cfg.lr, seed=cfg.seed, proof_path="jvp", track_gradient=False, **cfg.strategy_options
    )
    train, _ = _splits(token_cache, cfg)
    losses = [
        reference.step(
            step_batches(train, reference.batches_per_step, t, batch_size=cfg.batch_size, data_seed=cfg.data_seed), t
        ).loss
        for t in range(cfg.steps)
    ]
    assert theta == commit_params(model).hex()
    assert [r["loss"] for r in result["records"]] == losses


def test_the_verifier_slashes_a_byzantine_worker_and_never_an_honest_one(token_cache, one_thread):
    """p = 1: every proof is recomputed.  Honest proofs recompute to the same bits (0
    rejections: catches a verifier that recomputes another direction or batch); rank 3's
    sign-flipped proofs are all rejected at step 0, and from then on its slots go to the
    three others, so every later step keeps all K proofs."""
    honest = RunConfig.from_mapping({**BASE, "strategy": "random", "options": {"k": 8}, "pogp": {"p": 1.0}})
    _, result = _simulate(token_cache, honest)
    assert result["verifier"] == {
        "checked": 8 * BASE["steps"],
        "accepted": 8 * BASE["steps"],
        "rejected": 0,
        "slashed": [],
    }
    attacked = RunConfig.from_mapping(
        {**BASE, "strategy": "random", "options": {"k": 8}, "pogp": {"p": 1.0}, "byzantine": {"ranks": [3]}}
    )
    _, result = _simulate(token_cache, attacked)
    assert result["verifier"] == {
        "checked": 8 * BASE["steps"],
        "accepted": 8 * BASE["steps"] - 2,
        "rejected": 2,
        "slashed": [3],
    }
    assert [r["kept"] for r in result["records"]] == [6] + [8] * (BASE["steps"] - 1)
    assert [r["active_workers"] for r in result["records"]] == [3] * BASE["steps"]
    assert [r["proof_bytes_per_worker"] for r in result["records"]] == [16] + [24] * (
        BASE["steps"] - 1
    )  # 8 B per proof


# --- real processes ---------------------------------------------------------------------------------


def _write_config(path, cfg: dict):
    path.write_text(json.dumps(cfg))  # JSON is YAML
    return path


def _launch(tmp_path, name, cfg: dict, token_cache_file):
    config = _write_config(tmp_path / f"{name}.yaml", cfg)
    out = tmp_path / f"{name}.json"
    with open(tmp_path / f"{name}.log", "w") as log:
        launch(config, token_cache_file, out, tmp_path / name, max_restarts=1, log_file=log)
    return json.loads(out.read_text())


DISTRIBUTED = {
    **BASE,
    "steps": 12,
    "strategy": "adc",
    "options": VARIANTS["adc"],
    "byzantine": {"ranks": [2], "attack": "sign_flip"},
    "pogp": {"p": 0.3, "seed": 1},
    "checkpoint_every": 4,
    "eval_every": 4,
}


@pytest.fixture(scope="module")
def distributed_reference(token_cache):
    """The simulation of DISTRIBUTED (1 thread, as the worker processes)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _simulate(token_cache, RunConfig.from_mapping(DISTRIBUTED))
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def distributed_run(tmp_path_factory, token_cache_file):
    return _launch(tmp_path_factory.mktemp("dist"), "run", DISTRIBUTED, token_cache_file)


def test_four_processes_end_where_the_simulation_ends(distributed_run, distributed_reference):
    """ADC with a random warm-up, a Byzantine rank and a verifier sampling 30 %: the 4 gloo
    processes end at the simulation's theta bit for bit, with the same records (loss,
    slashing, bytes) step by step."""
    theta, reference = distributed_reference
    assert distributed_run["theta_sha256"] == theta
    assert distributed_run["records"] == reference["records"]
    assert distributed_run["verifier"] == reference["verifier"] and distributed_run["verifier"]["slashed"] == [2]
    assert distributed_run["backend"] == "gloo" and distributed_run["restarts"] == 0


def test_the_bytes_sent_are_the_proofs_and_the_verdicts(distributed_run):
    """Rank 0 (worker and verifier) counted what it actually handed to all_gather and
    broadcast: its proof buffers, its verdicts and the 32-byte theta digests compared at the
    start, at the checkpoints and at the end -- nothing else.  A proof is 8 bytes, against
    4 D for a full-gradient all-reduce."""
    records, cfg = distributed_run["records"], distributed_run["config"]
    checks = 1 + (cfg["steps"] - 1) // cfg["checkpoint_every"] + 1
    expected = sum(r["proof_bytes_per_worker"] + r["verdict_bytes"] for r in records) + 32 * checks
    assert distributed_run["bytes_sent_by_rank0_this_attempt"] == expected
    assert all(r["proof_bytes_per_worker"] == 8 * math.ceil(6 / r["active_workers"]) for r in records if r["step"] > 0)
    assert all(r["verdict_bytes"] == 4 * (2 + cfg["workers"]) for r in records)
    comm = distributed_run["communication"]
    assert comm["allreduce_bytes_per_worker_per_step"] == 4 * distributed_run["D"]
    assert comm["reduction"] > 1000


def test_momentum_centric_across_processes_is_its_simulation(tmp_path, token_cache_file, token_cache, one_thread):
    """Momentum-Centric, where each slot is a worker's own batch and all project on the
    shared direction m_hat (after a 2-step cold start), with a trimmed mean: 4 processes,
    the simulation's theta and records."""
    cfg = {**BASE, "steps": 5, "strategy": "momentum", "options": VARIANTS["momentum"]}
    result = _launch(tmp_path, "momentum", cfg, token_cache_file)
    theta, reference = _simulate(token_cache, RunConfig.from_mapping(cfg))
    assert result["theta_sha256"] == theta and result["records"] == reference["records"]
    assert [r["phase"] for r in result["records"]] == ["cold", "cold", "main", "main", "main"]


def test_a_worker_killed_mid_run_restarts_from_the_checkpoint_and_ends_at_the_same_theta(
    tmp_path, token_cache_file, distributed_run
):
    """Rank 1 SIGKILLs itself at step 9 (after the checkpoint of step 8); torchrun stops the
    others and restarts all four, which resume at step 8 and end at the uninterrupted run's
    theta and records."""
    result = _launch(tmp_path, "killed", {**DISTRIBUTED, "fault": {"rank": 1, "step": 9}}, token_cache_file)
    assert result["restarts"] == 1
    assert result["timing"]["steps_this_attempt"] == DISTRIBUTED["steps"] - 8
    assert result["theta_sha256"] == distributed_run["theta_sha256"]
    assert result["records"] == distributed_run["records"]
    assert "resuming from" in (tmp_path / "killed" / "logs" / "rank0.log").read_text()
    assert not (tmp_path / "killed" / "checkpoint.pt").exists()
