"""E8, the systems check (no claim): the HoloGrad protocol run across real processes.

The measurement is holograd/distributed/ (torchrun workers exchanging only proofs and the
verifier's verdicts), run by paper_checks/systems_runner.py; this module draws its figure
and writes its section of the summary from the job's result, results/systems/<check>.json
(records per step, bytes per worker and step against all-reduce, verifier ledger, final
theta hash, restarts).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from paper_checks.experiment import SystemsCheck
from paper_checks.formatting import num, software_line
from paper_checks.plotting import finish

log = logging.getLogger("paper_checks")


def plot(data: dict, path: str | Path) -> None:
    """E8: training and held-out loss of the run across processes; bytes per worker and step
    against a full-gradient all-reduce (log scale); proofs kept and workers active per step."""
    run, comm = data["config"], data["communication"]
    steps = pd.DataFrame(data["records"])
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    sns.lineplot(steps, x="step", y="loss", ax=axes[0], label="training (coordinator)")
    held_out = steps.dropna(subset=["eval_loss"]) if "eval_loss" in steps else steps.iloc[0:0]
    if data.get("final_eval_loss") is not None:  # after the last step
        held_out = pd.concat([held_out, pd.DataFrame([{"step": run["steps"], "eval_loss": data["final_eval_loss"]}])])
    if len(held_out):
        sns.scatterplot(held_out, x="step", y="eval_loss", ax=axes[0], color="C1", label="held-out")
    axes[0].set(ylabel="loss", title="loss")
    bars = pd.DataFrame(
        [
            {"message": "proofs (index + scalar)", "bytes": comm["proof_bytes_per_worker_per_step"]},
            {"message": "verdict (verifier)", "bytes": comm["verdict_bytes_per_step"]},
            {"message": "all-reduce 4·D", "bytes": comm["allreduce_bytes_per_worker_per_step"]},
        ]
    )
    sns.barplot(bars, x="message", y="bytes", ax=axes[1], color="C0")
    axes[1].set(yscale="log", xlabel="", title=f"bytes per worker per step ({_thousands(comm['reduction'])}× fewer)")
    axes[1].tick_params(axis="x", labelsize=7)
    axes[2].step(steps["step"], steps["kept"], where="post", label="proofs kept")
    axes[2].step(steps["step"], steps["active_workers"], where="post", label="workers not slashed")
    ledger = data["verifier"]
    axes[2].set(
        xlabel="step",
        title=(
            f"verifier: {ledger['checked']} checked, {ledger['rejected']} rejected, "
            f"slashed {ledger['slashed'] or 'none'}"
        ),
    )
    axes[2].set_ylim(bottom=0)
    axes[2].legend(fontsize=7)
    byz = ", ".join(map(str, run["byzantine"]["ranks"])) or "none"
    finish(
        fig,
        f"E8 distributed protocol — {run['workers']} processes ({data['backend']}), {run['strategy']}, "
        f"{run['model']} D = {data['D']:,}, Byzantine ranks {byz}",
        path,
    )


def _thousands(x) -> str:
    return "—" if x is None else f"{x:,.0f}"


def describe(d: dict | None, figure: str | None, base: Path, note: str | None = None) -> list[str]:
    """E8, the distributed protocol: a systems check beside the claims (no verdict)."""
    lines = ["## E8 — Distributed protocol (systems check, no claim)", ""]
    if d is None:
        return lines + [note or "Not run: the configuration has no `distributed` section.", ""]
    run, comm, ver, records = d["config"], d["communication"], d["verifier"], d["records"]
    byz, pogp = run["byzantine"], run["pogp"]
    first_slash = next((r["step"] for r in records if r["active_workers"] < run["workers"]), None)
    slashed = (", ".join(map(str, ver["slashed"])) + f" (from step {first_slash})") if ver["slashed"] else "none"
    lines += [f"![E8 distributed protocol]({os.path.relpath(figure, base)})", ""] if figure else []
    lines += [
        "| workers | backend, device | strategy | model, D | steps | bytes per worker per step "
        "| full-gradient all-reduce | ratio | Byzantine ranks | verifier p, ε | checked / rejected "
        "| slashed | restarts | θ on every rank |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {run['workers']} | {d['backend']}, {d['device']} "
        f"| {run['strategy']} ({', '.join(f'{k} = {v}' for k, v in run['options'].items())}) "
        f"| {run['model']}, {d['D']:,} | {run['steps']} "
        f"| {comm['proof_bytes_per_worker_per_step']:.3g} (+ verdict {comm['verdict_bytes_per_step']:.3g}) "
        f"| {comm['allreduce_bytes_per_worker_per_step']:,} "
        f"| {num(comm['reduction'])}× | {', '.join(map(str, byz['ranks'])) or 'none'} ({byz['attack']}) "
        f"| {pogp['p']:g}, {pogp['eps']:g} "
        f"| {ver['checked']} / {ver['rejected']} | {slashed} | {d['restarts']} "
        f"| identical (SHA-256 {d['theta_sha256'][:12]}…) |",
        "",
    ]
    losses = [r["loss"] for r in records if r.get("loss") is not None]
    evals = [r["eval_loss"] for r in records if r.get("eval_loss") is not None]
    if losses:
        lines += [
            f"Training loss {losses[0]:.4g} → {losses[-1]:.4g}; "
            f"held-out loss {num(evals[0] if evals else None)} → {num(d.get('final_eval_loss'))} "
            f"over {run['steps']} steps, "
            f"{d['timing'].get('job_wall_seconds', d['timing']['wall_seconds_this_attempt']):.0f} s. "
            "Per step only (slot index, scalar) pairs and the verifier's verdict crossed between the processes "
            "(bytes counted from the tensors handed to torch.distributed); every rank regenerated the directions "
            "from the seeds and applied the same update, and the ranks' θ hashes agreed at the start, "
            "at every checkpoint and at the end.",
            "",
        ]
    if "environment" in d:  # recorded since the placement of ranks on GPUs was
        env = d["environment"]
        lines += [
            f"Placement: {d['placement']}. Device {env['device']}; directions by {env['generator']}; "
            f"{software_line(env)}.",
            "",
        ]
    return lines


CHECK = SystemsCheck(plot=plot, describe=describe)
