"""E7 — Byzantine tolerance of trimmed-mean aggregation (claim C7; HoloGrad §4.3, §8).

One setting per strategy (cfg["strategy"]), each a reading of the paper:

- momentum: Momentum-Centric with N workers as written (one-step random cold start).  All N
  scalars a_i = <g_{B_i}, m_hat> estimate one number, so a robust mean applies:
  g_hat = Agg({a_i}) m_hat.
- momentum_random_warmup: the same after a random warm-up (holograd.strategies.WarmStarted):
  the first warmup.steps steps are HoloGrad-Random steps with K = warmup.k proofs, whose
  g_hat's build m (m <- beta m + (1 - beta) g_hat); the warm-up's rate is tuned for a
  random K arm in the same tuning job.
- momentum_oracle: m <- beta m + (1 - beta) g from the true gradient (momentum_from=
  "gradient"; not verifiable: the protocol never sends g).
- random: HoloGrad-Random with K = N proofs; the mean keeps every proof, Algorithm 1's
  trimmed mean (HoloGradRandom's `trim`) drops the floor(tau K) largest and smallest a_j and
  synthesises g_hat = (D/K') sum_{j kept} a_j v_j from the K' left (biased: a finding).
- static: the authors' E7 measurement, no model and no training (static_run below).

In each training job every (attack, fraction f, aggregator) trains from the seed's initial
weights on the same batches with the same learning rate (tuned once on the clean run): a
seeded fraction f of the proof slots submit attacked scalars (holograd.byzantine), from two
attack sets: "paper" (cfg attacks: random N(0, s^2), -a, 100 a) and "authors" (cfg
authors_attacks: uniform(-100, 100), -10 a, 100 a).  "Tolerated at f" = the run's held-out
loss decrease is at least `tolerance` (0.8) times that of the clean run (f = 0) with the same
aggregator; the largest tolerated f is the largest f at which every attack of the set is
tolerated at every f' <= f.  The Byzantine slots attack every proof they send, the random
warm-up's included (arms.Bench gives the warm-up the run's Byzantine slots), and a trimmed-
mean aggregator trims the warm-up's K proofs too (Algorithm 1 with the same tau), so no step
of a defended run is left undefended.  Runs that
compute the same thing (a trimmed mean that drops as
many scalars as another, the paper's x100 and the authors' x100) are trained once.
"""

from __future__ import annotations

import logging
import math
import sys

import torch

from holograd.aggregation import aggregate, n_trimmed
from holograd.byzantine import DEFAULT_SCALE
from holograd.checkpoint import Checkpoint
from holograd.data import TokenCache
from holograd.directions import derive_seed, random_directions
from holograd.experiments.arms import Bench, tune_all
from holograd.experiments.setup import environment, scale
from holograd.strategies import Byzantine

log = logging.getLogger(__name__)

TUNE_SEED = 10_000
"""The tuning runs' seed: their weights and batches are none of the measured seeds'."""

MOMENTUM_SETTINGS = ("momentum", "momentum_random_warmup", "momentum_oracle")
STRATEGIES = (*MOMENTUM_SETTINGS, "random", "static")
ATTACK_SETS = ("paper", "authors")
WARMUP_DEFAULTS = {"k": 64, "steps": 10}


def check_strategy(cfg: dict) -> str:
    if cfg["strategy"] not in STRATEGIES:
        raise ValueError(f"unknown E7 strategy {cfg['strategy']!r}; choose one of {list(STRATEGIES)}")
    return cfg["strategy"]


def aggregators(cfg: dict) -> dict[str, dict]:
    """Name -> options of each aggregation compared: "mean" and "trimmed_<tau>" for every tau
    of cfg taus.  Momentum-Centric's options are its `aggregator`/`tau`, HoloGrad-Random's its
    `trim` (Algorithm 1); the static setting reads the names only."""
    strategy = check_strategy(cfg)
    if strategy == "random":
        return {"mean": {}, **{f"trimmed_{tau:g}": {"trim": tau} for tau in cfg["taus"]}}
    out = {"mean": {"aggregator": "mean"}}
    out.update({f"trimmed_{tau:g}": {"aggregator": "trimmed_mean", "tau": tau} for tau in cfg["taus"]})
    return out


def effective(options: dict, n_workers: int) -> dict:
    """An aggregator's options as computed.  A trimmed mean drops floor(tau N) scalars at each
    end, so two taus that drop as many compute the same thing (tau = 0.1 and 0.15 with N = 10):
    tau is replaced by drop / N, and a trimmed mean that drops nothing (tau = 0.05 with N = 10)
    is the mean.  Rows of equal options repeat one aggregator's runs instead of training them
    again."""
    if options.get("aggregator") == "trimmed_mean":
        drop = n_trimmed(n_workers, options["tau"])
        return {"aggregator": "trimmed_mean", "tau": drop / n_workers} if drop else {"aggregator": "mean"}
    if options.get("trim"):
        drop = n_trimmed(n_workers, options["trim"])
        return {"trim": drop / n_workers} if drop else {}
    return options


def attack_sets(cfg: dict) -> dict[str, list[tuple[str, str, float]]]:
    """Per attack set, its attacks as (name, attack of holograd.byzantine, scale): "paper" from
    cfg attacks (named by the attack, default scales), "authors" from cfg authors_attacks.  A
    set without attacks is left out; names must be unique across the sets."""
    out = {
        "paper": [(a, a, float(DEFAULT_SCALE[a])) for a in cfg["attacks"]],
        "authors": [(a["name"], a["attack"], float(a["scale"])) for a in cfg.get("authors_attacks", [])],
    }
    out = {name: attacks for name, attacks in out.items() if attacks}
    names = [a[0] for attacks in out.values() for a in attacks]
    if len(set(names)) != len(names) or "none" in names:
        raise ValueError(f"E7 attack names must be unique across attacks and authors_attacks and not 'none': {names}")
    return out


def warmup(cfg: dict) -> dict:
    """The random warm-up of momentum_random_warmup: {k, steps} (defaults K = 64, 10 steps)."""
    return {**WARMUP_DEFAULTS, **cfg.get("warmup", {})}


def base_arm(cfg: dict, warmup_lr: float | None = None) -> dict:
    """The setting's arm (Bench) before its aggregator's options; momentum_random_warmup
    needs the warm-up's rate."""
    strategy = check_strategy(cfg)
    if strategy == "random":
        return {"kind": "random", "k": cfg["n_workers"]}
    if strategy == "static":
        raise ValueError("the static setting trains no arm")
    arm = {
        "kind": "momentum",
        "n_workers": cfg["n_workers"],
        "beta": cfg["beta"],
        "cold_start_steps": cfg["cold_start_steps"],
    }
    if strategy == "momentum_oracle":
        arm["momentum_from"] = "gradient"
    if strategy == "momentum_random_warmup":
        if warmup_lr is None:
            raise ValueError("momentum_random_warmup's arm needs the warm-up's tuned rate")
        arm["warmup"] = {"kind": "random", "k": warmup(cfg)["k"], "steps": warmup(cfg)["steps"], "lr": warmup_lr}
    return arm


def aggregator_arm(cfg: dict, options: dict, warmup_lr: float | None = None) -> dict:
    """The arm an aggregator trains: the setting's arm with the aggregator's options as
    computed (`effective`), and a random warm-up defended as the run is (`warmup_trimmed`)."""
    arm = {**base_arm(cfg, warmup_lr), **effective(options, cfg["n_workers"])}
    if "warmup" in arm and options.get("aggregator") == "trimmed_mean":
        arm["warmup"] = warmup_trimmed(arm["warmup"], options["tau"])
    return arm


def warmup_trimmed(warm: dict, tau: float) -> dict:
    """A random warm-up defended as its run is: Algorithm 1's trimmed mean over its K proofs
    (floor(tau K) dropped at each end), written as drop / K like `effective`, so taus that drop
    as many share their runs; a tau that drops nothing leaves the warm-up as it is."""
    drop = n_trimmed(warm["k"], tau)
    return {**warm, "trim": drop / warm["k"]} if drop else warm


def warmup_arm(cfg: dict) -> dict:
    """The random K arm whose tuned rate the warm-up takes."""
    return {"kind": "random", "k": warmup(cfg)["k"]}


def lr_grid(cfg: dict) -> list[float]:
    """The clean run's starting grid: lr_grid.random for HoloGrad-Random, lr_grid.momentum_oracle
    (if given; an oracle momentum takes SGD-sized steps) for the oracle, else lr_grid.momentum."""
    grids = cfg["lr_grid"]
    if cfg["strategy"] == "random":
        return grids["random"]
    if cfg["strategy"] == "momentum_oracle" and "momentum_oracle" in grids:
        return grids["momentum_oracle"]
    return grids["momentum"]


def tuning_arms(cfg: dict) -> dict[str, list[str]]:
    """The tuned rates in the order a one-job tuning runs them, each with the ones it needs:
    the clean run's (`clean`), for momentum_random_warmup after the warm-up's (`warmup`, tuned
    on a random K arm); the static setting has nothing to tune."""
    strategy = check_strategy(cfg)
    if strategy == "static":
        return {}
    if strategy == "momentum_random_warmup":
        return {"warmup": [], "clean": ["warmup"]}
    return {"clean": []}


def tune_arm(
    cfg: dict,
    cache: TokenCache,
    device: torch.device,
    name: str,
    tuned: dict[str, dict],
    *,
    checkpoint: Checkpoint | None = None,
) -> dict:
    """The warm-up's rate (lr_grid.random, a random K arm) or the clean run's (lr_grid), the
    latter after the warm-up at its tuned rate (`tuned`: the records tuning_arms says it needs)."""
    if name not in tuning_arms(cfg):
        raise ValueError(f"E7 {cfg['strategy']}: {name!r} is not tuned; the tuned rates are {list(tuning_arms(cfg))}")
    bench = Bench(cfg, cache, device, workers=cfg["n_workers"], checkpoint=checkpoint)
    if name == "warmup":
        return bench.tune(warmup_arm(cfg), cfg["lr_grid"]["random"], TUNE_SEED, cfg["tune_steps"])
    warm_lr = tuned["warmup"]["lr"] if "warmup" in tuned else None
    return bench.tune(base_arm(cfg, warm_lr), lr_grid(cfg), TUNE_SEED, cfg["tune_steps"])


def assemble_tuning(cfg: dict, tuned: dict[str, dict]) -> dict:
    """The setting's rates: every tuned record, as tuned ({} for the static setting)."""
    return dict(tuned)


def tune(cfg: dict, cache: TokenCache, device: torch.device, *, checkpoint: Checkpoint | None = None) -> dict:
    """The clean run's rate (and for momentum_random_warmup first the warm-up's, tuned on a
    random K arm) in one job (tune_all); the static setting has nothing to tune ({})."""
    return tune_all(sys.modules[__name__], cfg, cache, device, checkpoint=checkpoint)


def byzantine_of(attack: str, attack_scale: float, fraction: float, seed: int) -> Byzantine:
    """The attacked slots of a run: floor(f N) slots fixed by the seed, attack and scale."""
    return Byzantine(fraction=fraction, attack=attack, scale=float(attack_scale), seed=seed)


def run(
    cfg: dict, seed: int, cache: TokenCache, device: torch.device, tuned: dict, *, checkpoint: Checkpoint | None = None
) -> dict:
    """One (setting, seed): the training table, or for the static setting static_run."""
    if check_strategy(cfg) == "static":
        return static_run(cfg, seed, cache, device)
    sets = attack_sets(cfg)
    bench = Bench(cfg, cache, device, workers=cfg["n_workers"], checkpoint=checkpoint)
    lr = tuned["clean"]["lr"]
    warm_lr = tuned["warmup"]["lr"] if cfg["strategy"] == "momentum_random_warmup" else None
    rows, dim = [], None
    trained: dict[str, dict] = {}  # runs by what they compute: an aggregator equal to another reuses its runs

    def train(arm: dict, byzantine: Byzantine | None) -> dict:
        key = repr((arm, byzantine))
        if key not in trained:
            trained[key] = bench.run(arm, lr, seed, byzantine=byzantine)
        return trained[key]

    def row(agg: str, attack_set: str, attack: str, fraction: float, out: dict) -> dict:
        return {
            "aggregator": agg,
            "attack_set": attack_set,
            "attack": attack,
            "fraction": fraction,
            "loss_decrease": out["loss_decrease"],
            "stopped": out["stopped"],
        }

    for agg, options in aggregators(cfg).items():
        arm = aggregator_arm(cfg, options, warm_lr)
        clean = train(arm, None)
        dim = clean["dim"]
        rows.append(row(agg, "none", "none", 0.0, clean))
        for attack_set, attacks in sets.items():
            for name, attack, attack_scale in attacks:
                for f in (f for f in cfg["fractions"] if f > 0):
                    out = train(arm, byzantine_of(attack, attack_scale, f, seed))
                    rows.append(row(agg, attack_set, name, f, out))
        log.info("%s %s: clean loss decrease %.4f", cfg["strategy"], agg, clean["loss_decrease"])
    for r in rows:
        clean = next(c["loss_decrease"] for c in rows if c["aggregator"] == r["aggregator"] and c["attack"] == "none")
        r["relative"] = r["loss_decrease"] / clean if clean and math.isfinite(clean) else math.nan
        r["tolerated"] = bool(math.isfinite(r["relative"]) and r["relative"] >= cfg["tolerance"])
    return {
        "strategy": cfg["strategy"],
        "lr": lr,
        "warmup_lr": warm_lr,
        "rows": rows,
        "largest_tolerated": {
            attack_set: {agg: largest_tolerated(rows, agg, [a[0] for a in attacks]) for agg in aggregators(cfg)}
            for attack_set, attacks in sets.items()
        },
        "dim": dim,
        "scale": scale(cfg, cache, dim, steps=cfg["steps"]),
        "environment": environment(device),
    }


def static_run(cfg: dict, seed: int, cache: TokenCache, device: torch.device) -> dict:
    """The authors' E7 measurement re-implemented: no model, no training.

    Per step t of static.steps: a random unit "gradient" g and one direction v shared by all
    W = static.workers workers (the authors' seeds collapse to one direction per step), both
    D = static.dim unit vectors of holograd.directions.random_directions from seeds derived
    from (seed, t).  Every honest worker sends a_i = <g, v>; a fraction f of them (slots fixed
    by the seed) send the attack's value instead.  Per (attack, f, aggregator), mean over steps:

    - authors_metric = ||g_hat - g|| / ||g||, g_hat = (W/K') sum_{j kept} a_j v = W Agg(a) v
      (the authors' synthesis with scale W; all kept directions are v), computed in float64 as
      sqrt(c^2 <v, v> - 2 c <v, g> + <g, g>) / ||g|| with c = W Agg(a);
    - relative_error = |Agg(a_f) - Agg(a_0)| / |Agg(a_0)|, the aggregate's error against the
      honest aggregate (our verdict metric; tolerated when <= static.tolerance).

    The authors' metric compares a one-direction g_hat with a D-dimensional g: its honest
    value is sqrt(1 + W (W - 2) a^2) ~ 1 whatever the aggregator does, since a ~ 1/sqrt(D).
    """
    st = cfg["static"]
    dim, workers, steps = st["dim"], st["workers"], st["steps"]
    sets = attack_sets(cfg)
    aggs = {"mean": ("mean", 0.0), **{f"trimmed_{tau:g}": ("trimmed_mean", tau) for tau in cfg["taus"]}}
    cells = [
        (attack_set, name, attack, attack_scale, f)
        for attack_set, attacks in sets.items()
        for name, attack, attack_scale in attacks
        for f in cfg["fractions"]
    ]
    authors = {(c[0], c[1], c[4], a): 0.0 for c in cells for a in aggs}
    relative = dict.fromkeys(authors, 0.0)
    gradients = random_directions([derive_seed("e7.static.gradient", seed, t) for t in range(steps)], dim)
    directions = random_directions([derive_seed("e7.static.direction", seed, t) for t in range(steps)], dim)
    for t in range(steps):
        g, v = gradients[t].to(torch.float64), directions[t].to(torch.float64)
        gv, gg, vv = torch.dot(g, v).item(), torch.dot(g, g).item(), torch.dot(v, v).item()
        honest = torch.full((workers,), gv, dtype=torch.float64)
        reference = {a: aggregate(honest, method, tau).item() for a, (method, tau) in aggs.items()}
        for attack_set, name, attack, attack_scale, f in cells:
            scalars = byzantine_of(attack, attack_scale, f, seed).corrupt(honest, t)
            for a, (method, tau) in aggs.items():
                value = aggregate(scalars, method, tau).item()
                key = (attack_set, name, f, a)
                c = workers * value  # g_hat = c v: ||c v - g||^2 = c^2 <v, v> - 2 c <v, g> + <g, g>
                authors[key] += math.sqrt(max(c * c * vv - 2 * c * gv + gg, 0.0) / gg) / steps
                relative[key] += abs(value - reference[a]) / abs(reference[a]) / steps
    rows = [
        {
            "attack_set": attack_set,
            "attack": name,
            "fraction": f,
            "aggregator": a,
            "authors_metric": authors[(attack_set, name, f, a)],
            "relative_error": relative[(attack_set, name, f, a)],
            "tolerated": bool(relative[(attack_set, name, f, a)] <= st["tolerance"]),
        }
        for attack_set, name, _, _, f in cells
        for a in aggs
    ]
    log.info("static E7 (D = %d, W = %d, %d steps), seed %d: %d cells", dim, workers, steps, seed, len(rows))
    return {
        "strategy": "static",
        "rows": rows,
        "largest_tolerated": {
            attack_set: {a: largest_tolerated(rows, a, [x[0] for x in attacks]) for a in aggs}
            for attack_set, attacks in sets.items()
        },
        "dim": dim,
        "workers": workers,
        "steps": steps,
        "scale": {**scale(cfg, cache, dim, steps=steps), "model": "none (static)"},
        "environment": environment(device),
    }


def largest_tolerated(rows: list[dict], aggregator: str, attacks: list[str]) -> float:
    """The largest f such that the aggregator tolerates every attack in `attacks` at every
    fraction <= f (f = 0, the clean run, counts as tolerated unless a row there says not)."""
    if not attacks:
        raise ValueError("largest_tolerated needs at least one attack")
    fractions = sorted({r["fraction"] for r in rows if r["aggregator"] == aggregator})
    best = 0.0
    for f in fractions:
        at = [
            r
            for r in rows
            if r["aggregator"] == aggregator and r["fraction"] == f and (f == 0 or r["attack"] in attacks)
        ]
        if not all(r["tolerated"] for r in at):
            break
        best = float(f)
    return best
