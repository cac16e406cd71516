"""Arms of a training comparison: one strategy each, trained from the same weights on the same
data, with a learning rate tuned from a grid.

An arm is a dict from the config, e.g. {"kind": "random", "k": 64} or {"kind": "momentum",
"n_workers": 8, "variant": "theorem3"}; `kind` picks the strategy of holograd.strategies
and the other keys are its options.  An arm may start with a warm-up by another strategy,
`"warmup": {"kind": "random", "k": 64, "steps": 10, "lr": 0.1}` (holograd.strategies.
WarmStarted: the warm-up's own kind, options, step count and rate).  Fairness, as the
experiments need it:

- same weights: every arm starts from build_model(preset, seed=seed);
- same data: step t of every arm uses batch_ids(seed, t, ...) for worker streams 0..N-1, the
  single-batch arms taking the union of the N workers' batches (holograd.training);
- the loss is measured on fixed held-out batches of the validation split, at t = 0, every
  eval_every steps and after the last step; an arm's progress is its loss decrease
  L(theta_0) - L(theta_T) on those batches;
- learning rates: each arm's rate is chosen from its grid by the loss on the tuning half of
  the validation stream after a tuning run (as long as the measured one in the default
  config), on two tuning seeds of their own (a diverged run counts as +inf): the lowest
  summed loss, or the smallest rate within that loss's noise (choose_rate); the grid is
  extended while its best rate sits at an end (Bench.tune).  A scale-corrected
  random-direction update has norm ~ sqrt(D/K) ||g||, so one shared rate would be unfair
  to it.

A job that saves its progress hands its holograd.checkpoint.Checkpoint to the Bench, which
gives every run of the job its key in it (Bench.run).
"""

from __future__ import annotations

import dataclasses
import logging
import math

import torch

from holograd.checkpoint import Checkpoint
from holograd.data import SampleSet, TokenCache
from holograd.directions import DEFAULT_CHUNK_ELEMENTS
from holograd.models import build_model
from holograd.strategies import Byzantine, Strategy, WarmStarted, is_verifiable, make_strategy
from holograd.training import eval_batches, train_together

log = logging.getLogger(__name__)


def arm_options(arm: dict, seed: int, byzantine: Byzantine | None, chunk_elements: int) -> dict:
    """The options make_strategy builds an arm's strategy with: the arm's own keys (less
    `kind`), and for a verifiable strategy the run's seed, its Byzantine slots and the
    bench's chunk_elements.  SGD sends gradients, not proofs: Byzantine proofs do not apply."""
    options = {k: v for k, v in arm.items() if k != "kind"}
    if not is_verifiable(arm["kind"]):
        if byzantine is not None:
            raise ValueError(f"arm {arm} sends gradients, not proofs: it cannot have Byzantine proofs")
        return options
    if clash := sorted(set(options) & {"seed", "byzantine"}):
        raise ValueError(f"arm {arm} sets {clash}, which the bench sets for every arm")
    return {"chunk_elements": chunk_elements, **options, "seed": seed, "byzantine": byzantine}


TUNING_SEEDS = 2
"""Seeds a rate is tuned on (their losses summed): one seed's initial weights and data would
choose a rate for that seed."""


class Bench:
    """What every arm of one comparison shares: preset, data, held-out batches, steps, and
    the job's checkpoint (None: nothing is saved)."""

    def __init__(
        self,
        cfg: dict,
        cache: TokenCache,
        device: torch.device,
        workers: int | None = None,
        checkpoint: Checkpoint | None = None,
    ):
        self.cfg, self.device, self.workers, self.checkpoint = cfg, device, workers, checkpoint
        self.vocab_size = cache.vocab_size
        self.samples = SampleSet(cache.splits["train"], cfg["block_size"])
        tuning, measuring = split_validation(cache.splits["validation"])
        # the batches that measure every arm's progress, and disjoint ones that choose its rate:
        # a rate chosen on the measuring batches would be chosen for them (issue 25)
        self.held_out = eval_batches(
            SampleSet(measuring, cfg["block_size"]), cfg["eval_batches"], cfg["batch_size"], seed=0, device=device
        )
        self.tuning_batches = eval_batches(
            SampleSet(tuning, cfg["block_size"]), cfg["eval_batches"], cfg["batch_size"], seed=0, device=device
        )

    def model(self, seed: int) -> torch.nn.Module:
        return build_model(self.cfg["model"], self.vocab_size, self.cfg["block_size"], seed=seed, device=self.device)

    def run(
        self, arm: dict, lr: float, seed: int, steps: int | None = None, byzantine: Byzantine | None = None
    ) -> dict:
        """Train one arm from the seed's initial weights; its curve and loss decrease (a
        batch of one of run_together)."""
        return self.run_together([(arm, lr)], seed, steps, byzantine)[0]

    def run_together(
        self,
        runs: list[tuple[dict, float]],
        seed: int,
        steps: int | None = None,
        byzantine: Byzantine | None = None,
        tuning: bool = False,
    ) -> list[dict]:
        """Train several (arm, rate) runs from the seed's initial weights on the seed's data,
        in lockstep (holograd.training.train_together: direction work that runs share is done
        once); each run's curve and loss decrease, as `run` of that run alone gives them.
        tuning: evaluate on the tuning batches, not on the held-out batches that measure.

        With the bench's checkpoint (holograd.checkpoint), runs the job finished before it
        was killed return their saved results, and runs it was in the middle of go on from
        their last saved step."""
        steps = self.cfg["steps"] if steps is None else steps
        saving = self.checkpoint
        key = None
        if saving is not None:
            key = saving.next_key(
                {
                    "runs": [{"arm": arm, "lr": lr} for arm, lr in runs],
                    "seed": seed,
                    "steps": steps,
                    "byzantine": byzantine and dataclasses.asdict(byzantine),
                    "tuning": tuning,
                }
            )
            if (done := saving.result(key)) is not None:
                return done["runs"]
        strategies = [self.strategy(arm, lr, seed, byzantine) for arm, lr in runs]
        trained = train_together(
            strategies,
            self.samples,
            steps=steps,
            batch_size=self.cfg["batch_size"],
            data_seed=seed,
            held_out=self.tuning_batches if tuning else self.held_out,
            eval_every=self.cfg["eval_every"],
            workers=self.workers,
            max_loss_factor=self.cfg.get("max_loss_factor"),
            checkpoint=saving,
            key=key,
            device=self.device,
        )
        results = [_result(lr, records, s.dim) for (_, lr), records, s in zip(runs, trained, strategies)]
        if saving is not None:
            saving.finish(key, {"runs": results})
        return results

    def run_tuned(self, runs: list[tuple[dict, float, dict | None]], seed: int) -> list[dict]:
        """(arm, tuned rate, its tuning record) runs trained together (run_together); a run
        that diverged at its tuned rate is run again, alone, at the next lower rate its
        tuning tried (lower_rate), once: the rule issue 25 pre-registers, since a rate tuned
        on other seeds and batches can sit past the edge of stability for a measured seed.
        Its result then carries `diverged_at` {lr, stopped}; a run whose rate was the lowest
        tried, or was not tuned, stays stopped."""
        results = self.run_together([(arm, lr) for arm, lr, _ in runs], seed)
        out = []
        for (arm, lr, record), result in zip(runs, results):
            lower = lower_rate(record, lr) if result["stopped"] else None
            if lower is not None:
                log.info("%s diverged at its tuned lr %g (%s): run again at %g", arm, lr, result["stopped"], lower)
                result = {**self.run(arm, lower, seed), "diverged_at": {"lr": lr, "stopped": result["stopped"]}}
            out.append(result)
        return out

    def strategy(self, arm: dict, lr: float, seed: int, byzantine: Byzantine | None = None) -> Strategy:
        """The strategy of an arm, on the seed's initial weights (arm_options); an arm with a
        `warmup` is WarmStarted: the warm-up's strategy (its own options and rate, the same
        seed and Byzantine slots) on the same model, then the arm's."""
        chunk = self.cfg.get("chunk_elements", DEFAULT_CHUNK_ELEMENTS)
        main = {k: v for k, v in arm.items() if k != "warmup"}
        model = self.model(seed)
        strategy = make_strategy(arm["kind"], model, lr=lr, **arm_options(main, seed, byzantine, chunk))
        if "warmup" not in arm:
            return strategy
        warm = {k: v for k, v in arm["warmup"].items() if k not in ("steps", "lr")}
        warm_byzantine = byzantine if is_verifiable(warm["kind"]) else None
        warmup = make_strategy(
            warm["kind"], model, lr=arm["warmup"]["lr"], **arm_options(warm, seed, warm_byzantine, chunk)
        )
        return WarmStarted(strategy, warmup, arm["warmup"]["steps"])

    def final_losses(self, arm: dict, rates: list[float], seed: int, steps: int) -> dict[float, list[float]]:
        """{lr: [the tuning batches' loss after `steps` steps at rate lr, for each of the
        TUNING_SEEDS seeds from `seed` on]} of runs trained together; +inf where a run diverged."""
        losses: dict[float, list[float]] = {lr: [] for lr in rates}
        for s in range(seed, seed + TUNING_SEEDS):
            results = self.run_together([(arm, lr) for lr in rates], s, steps=steps, tuning=True)
            for lr, result in zip(rates, results):
                losses[lr].append(_final(result))
        return losses

    def tune(self, arm: dict, grid: list[float], seed: int, steps: int, max_extensions: int = 4) -> dict:
        """The rate chosen by choose_rate from each rate's loss on the tuning batches after
        `steps` steps, on TUNING_SEEDS seeds from `seed` on (initial weights and data of each,
        disjoint from the measured seeds; the batches disjoint from the held-out ones that
        measure).

        The grid is a starting point: while the rate of lowest summed loss is at an end of the
        rates tried and strictly better than its neighbour, the search goes one grid ratio
        further that way, and while every rate tried diverged it goes one ratio below the
        lowest (at most `max_extensions` times in all), so a grid in the wrong place is
        corrected rather than silently clipping an arm.  A best rate still at an end is
        flagged (`at_edge`); so is a grid where every rate diverged (`none_trains`)."""
        losses = self.final_losses(arm, sorted(grid), seed, steps)  # the grid's rates trained together
        ratio = grid[-1] / grid[-2] if len(grid) > 1 and grid[-2] > 0 else 3.0
        ratio = ratio if ratio > 1 else 1 / ratio if ratio < 1 else 3.0
        extended = []
        for _ in range(max_extensions if len(losses) > 1 else 0):
            final = {lr: math.fsum(v) for lr, v in losses.items()}
            rates = sorted(final)
            best = min(rates, key=lambda lr: final[lr])
            if not any(math.isfinite(v) for v in final.values()):  # every rate diverged: go lower
                new = rates[0] / ratio
            elif best == rates[-1] and final[best] < final[rates[-2]] - 1e-9:
                new = best * ratio
            elif best == rates[0] and final[best] < final[rates[1]] - 1e-9:
                new = best / ratio
            else:
                break
            losses.update(self.final_losses(arm, [new], seed, steps))
            extended.append(new)
        final = {lr: math.fsum(v) for lr, v in sorted(losses.items())}
        rates = sorted(final)
        best = min(rates, key=lambda lr: final[lr])
        chosen, tied = choose_rate(losses)
        at_edge = len(rates) > 1 and best in (rates[0], rates[-1]) and math.isfinite(final[best])
        none_trains = not any(math.isfinite(v) for v in final.values())
        log.info(
            "tuned %s: lr %g%s%s (tuning batches' loss by lr, summed over the tuning seeds: %s)",
            arm,
            chosen,
            f" (the smallest of {len(tied)} rates within noise of the best, {best:g})" if chosen != best else "",
            " (the best at the end of the rates tried)" if at_edge else "",
            {lr: round(v, 4) for lr, v in final.items()},
        )
        return {
            "lr": chosen,
            "best_lr": best,
            "tied_lrs": tied,
            "final_loss_by_lr": {f"{lr:g}": v for lr, v in final.items()},
            "final_loss_by_lr_seed": {f"{lr:g}": v for lr, v in sorted(losses.items())},
            "extended": extended,
            "at_edge": at_edge,
            "none_trains": none_trains,
            "tune_steps": steps,
            "tune_seeds": list(range(seed, seed + TUNING_SEEDS)),
        }


def choose_rate(losses: dict[float, list[float]]) -> tuple[float, list[float]]:
    """(the rate tuning picks, the rates tied with the best) from each rate's final losses on
    the tuning seeds (+inf: diverged).

    The best rate b has the lowest sum of losses over the seeds.  A rate r ties with it when
    its sum exceeds b's by no more than that sum difference's own noise: with d_s = L_s(r) -
    L_s(b) on seed s of n, when sum_s d_s <= sqrt(n) x sd(d) (one standard deviation of the
    sum, estimated from the seeds; with two seeds |d_1 - d_2|), or within float32's resolution
    of b's sum (1e-6 relative) where the seeds do not tell.  Of the tied rates the smallest is
    chosen: the one furthest from the edge of stability, where the last bits of the
    arithmetic move a run most.  So two rates that differ only by a last-bit change of the
    arithmetic do not swap the choice, unless the change carries one across the band."""
    total = {lr: math.fsum(v) for lr, v in losses.items()}
    best = min(sorted(total), key=lambda lr: total[lr])
    if not math.isfinite(total[best]):
        return best, [best]
    tied = []
    for lr in sorted(total):
        if not math.isfinite(total[lr]):
            continue
        d = [a - b for a, b in zip(losses[lr], losses[best])]
        n = len(d)
        mean = math.fsum(d) / n
        spread = math.sqrt(n * math.fsum((x - mean) ** 2 for x in d) / (n - 1)) if n > 1 else 0.0
        if math.fsum(d) <= max(spread, 1e-6 * abs(total[best])):
            tied.append(lr)
    return min(tied), tied


def _result(lr: float, records: list[dict], dim: int) -> dict:
    """A run's result from its step records: its held-out curve, its loss decrease (NaN for
    a run that stopped), why it stopped, its step records and D."""
    curve = [(r["step"], r["eval_loss"]) for r in records if "eval_loss" in r]
    stopped = next((r["stopped"] for r in records if "stopped" in r), None)
    first, last = curve[0][1], curve[-1][1]
    decrease = first - last if stopped is None and math.isfinite(last) else math.nan
    return {
        "lr": lr,
        "curve": curve,
        "loss_decrease": decrease,
        "stopped": stopped,
        "steps": [r for r in records if "loss" in r],
        "dim": dim,
    }


def lower_rate(record: dict | None, lr: float) -> float | None:
    """The largest rate below lr that a tuning record tried (None: none, or no record)."""
    tried = [float(r) for r in (record or {}).get("final_loss_by_lr", {})]
    lower = [r for r in tried if r < lr]
    return max(lower) if lower else None


def split_validation(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The validation stream cut in two halves that share no token: the first chooses learning
    rates (tuning), the second measures progress (held-out)."""
    half = tokens.numel() // 2
    return tokens[:half], tokens[half:]


def _final(result: dict) -> float:
    """A run's last held-out loss; +inf if it diverged."""
    loss = result["curve"][-1][1]
    return loss if result["stopped"] is None and math.isfinite(loss) else math.inf


def tune_all(
    module, cfg: dict, cache: TokenCache, device: torch.device, *, checkpoint: Checkpoint | None = None
) -> dict:
    """A setting's tuning in one job, from the experiment module's three tuning functions
    (holograd.experiments): every arm of module.tuning_arms(cfg) in its order, each handed the
    records of the arms it needs, then module.assemble_tuning.  The pipeline runs the same
    module.tune_arm calls as jobs of their own (one per arm, after the arms they need) and
    assembles their records alike (paper_checks.runner), so both give the same dict."""
    tuned: dict[str, dict] = {}
    for name, needs in module.tuning_arms(cfg).items():
        tuned[name] = module.tune_arm(cfg, cache, device, name, {n: tuned[n] for n in needs}, checkpoint=checkpoint)
    return module.assemble_tuning(cfg, tuned)
