"""results/RESULTS_SUMMARY.md: one table of every claim, then one section per experiment.

Every number in it is read from a verdict or data file written by the pipeline.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from paper_checks.files import read_json, write_text
from paper_checks.verdict import NOT_RUN

log = logging.getLogger("paper_checks")


def _num(x) -> str:
    return "—" if x is None else f"{x:.4g}"


def _measured(m: dict) -> str:
    ci = f" [{_num(m['low'])}, {_num(m['high'])}]" if m.get("low") is not None else " (no CI)"
    return f"{_num(m['point'])}{ci}, n = {m['n']}"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (a bare | would end the cell)."""
    return str(text).replace("|", "\\|")


def _part(part: dict) -> str:
    return f"{part['part']}: " if part.get("part") else ""


def _link(path: str | Path, base: Path, text: str) -> str:
    return f"[{text}]({os.path.relpath(path, base)})"


def claims_table(claims: list[dict], verdicts: dict[str, dict], base: Path, not_run: dict[str, str] | None = None) -> list[str]:
    """One row per claim; a claim without a verdict is NOT RUN, with `not_run`'s reason or,
    by default, because its experiment is not in the configuration."""
    lines = [
        "| claim | statement | expected (acceptance) | measured [95% CI], seeds | verdict | reason | figure |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in claims:
        parts = [c, *c.get("also_requires", [])]
        expected = "; ".join(f"{_part(p)}{p['expected']:g} ({p['acceptance']})" for p in parts)
        v = verdicts.get(c["id"])
        if v is None:
            reason = (not_run or {}).get(c["id"], f"experiment `{c['experiment']}` is not in the configuration")
            lines.append(f"| {c['id']} | {_cell(c['statement'])} | {expected} | — | **{NOT_RUN}** | {_cell(reason)} | — |")
            continue
        measured = "; ".join(f"{_part(p)}{_measured(p['measured'])}" for p in v["parts"])
        lines.append(
            f"| {c['id']} | {_cell(c['statement'])} | {expected} | {measured} "
            f"| **{v['verdict']}** | {_cell(v['reason'])} | {_link(v['figure'], base, c['id'])} |"
        )
    return lines


def _each(value, spec: str = "") -> str:
    """A scale value, or the values a sweep gives it joined by " / "."""
    return " / ".join(format(v, spec) for v in value) if isinstance(value, list) else format(value, spec)


def scale_table(data: dict, paper: dict) -> list[str]:
    s = data["scale"]
    matches = s["model"] == paper["model"] and s["corpus"] == paper["corpus"]
    return [
        "| model | D | dataset | tokenizer | batch × context | steps | seeds | settings | device | paper's setting | matches |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {_each(s['model'])} | {_each(s['D'], ',')} | {s['corpus']} | {s['tokenizer']} | {_each(s['batch_size'])} × {_each(s['block_size'])} | {_each(s['steps'])} "
        f"| {len(s['seeds'])} ({', '.join(map(str, s['seeds']))}) | {', '.join(s['settings'])} | {', '.join(data['environment']['devices'])} "
        f"| {paper['model']} on {paper['corpus']} | {'yes' if matches else 'no'} |",
    ]


def _warm(d: dict, arm: str) -> str:
    """", warm-up lr x" for an ADC arm whose warm-up had a rate of its own."""
    warm = d.get("warm_lr", {}).get(arm)
    return f", warm-up lr {warm:.3g}" if warm is not None else ""


def _details(v: dict) -> list[str]:
    d = v["details"]
    cid = v["claim"]
    if cid == "C2":
        return [
            f"- Mean pairwise cosine by checkpoint (step: value): {', '.join(f'{k}: {x:.4f}' for k, x in d['all_checkpoints'].items())}.",
            f"- Variance ratio ||E g_B − g_B||²/||g_B||² (plan: ≈ 0.93): {_measured(d['variance_ratio'])}.",
            f"- Leave-one-out reconstruction cosine (projection on the span of the other gradients): {_measured(d['loo_reconstruction_cosine'])}.",
        ]
    if cid == "C1":
        training = d["training_by_kd"]
        return [
            "- Alignment by K/D (K; mean cos; √(K/D); √(K/(K+D−1))): "
            + "; ".join(f"{float(kd):.3g}: K = {c['k']}, {_num(c['cos']['point'])}, {c['sqrt_kd']:.4g}, {c['theory']:.4g}" for kd, c in d["cos_by_kd"].items())
            + ".",
            "- Training by K/D (held-out loss decrease of HoloGrad-Random [95% CI]; of SGD; fraction of SGD's; tuned lr): "
            + "; ".join(f"{float(kd):.3g}: {_measured(t['loss_decrease'])}; {_num(t['sgd']['point'])}; {_num(t['fraction_of_sgd']['point'])}; lr {t['lr']['random']:.3g}" for kd, t in training.items())
            + ".",
        ]
    if cid == "C5":
        lines = [
            f"- Rank by rank ({d['warm_start']} warm start; γ trend, loss decrease ADC-on − ADC-off): "
            + "; ".join(f"{arm.removeprefix('adc_r')}: {_measured(v['energy_trend'])}, {_measured(v['advantage_over_off'])}" for arm, v in d["by_rank"].items())
            + "."
        ]
        lines.append("- Held-out loss decrease per arm: " + "; ".join(f"{arm} {_measured(v)} (lr {d['lr'][arm]:.3g}{_warm(d, arm)})" for arm, v in d["loss_decrease"].items()) + ".")
        return lines
    if cid == "C7":
        table = {}
        for r in d["table"]:
            table.setdefault(r["aggregator"], []).append(f"{r['attack']} f={r['fraction']:g}: {_num(r['relative'])}")
        return [
            f"- Clean run's held-out loss decrease ({d['aggregator']}): {_measured(d['clean_loss_decrease'])}.",
            "- Largest tolerated fraction per aggregator: " + "; ".join(f"{agg} {_measured(v)}" for agg, v in d["largest_tolerated"].items()) + ".",
            *[f"- {agg}, loss decrease relative to the clean run: " + "; ".join(rows) + "." for agg, rows in table.items()],
            *[
                f"- Setting {name} ({o['strategy']}, not read by the verdict): clean loss decrease "
                + "; ".join(f"{agg} {_measured(v)}" for agg, v in o["clean_loss_decrease"].items())
                + "; largest tolerated fraction "
                + "; ".join(f"{agg} {_measured(v)}" for agg, v in o["largest_tolerated"].items())
                + "."
                for name, o in d.get("other_settings", {}).items()
            ],
        ]
    if cid == "C3":
        lines = [
            f"- Alignment |cos(direction, g)|: {d['variant']} {_measured(d['alignment_momentum'])}; random K = 1 {_measured(d['alignment_random_k1'])} "
            f"(theory for a uniform direction √(2/(πD)) = {d['random_alignment_theory']:.3g}, D = {d['D']:,})."
        ]
        if "predicted_for_paper" in d:
            pp = d["predicted_for_paper"]
            lines.append(f"- With this momentum alignment, the paper's `{pp['model']}` model (D = {pp['D']:,}) would give a ratio of {pp['ratio']:.3g}: the ratio measures D as much as momentum.")
        return lines
    if cid == "C4":
        ld, comm = d["loss_decrease"], d["communication"]
        return [
            "- Held-out loss decrease per arm (tuned learning rate): " + "; ".join(f"{arm} {_measured(ld[arm])} (lr {d['lr'][arm]:g})" for arm in ld) + ".",
            "- Communication per step (scalars; bytes; loss decrease per scalar): " + "; ".join(
                f"{arm} {c['scalars_per_step']:,}; {c['bytes_per_step']:,} B; {_num(c['loss_decrease_per_scalar'])}" for arm, c in comm.items()
            ) + ".",
            "- Other reconstruction: " + "; ".join(f"{k}: {_measured(v)}" for k, v in d["decrease_ratio_other_variant"].items()) + ".",
        ]
    if cid == "C6":
        nc = d["negative_control"]
        return [
            f"- Relative error ||mean(ĝ) − g||/||g|| at N = {d['draws']}, K = {d['k']}: {_measured(d['relative_error'])}; theory √((D−1)/(NK)) = {d['theory_relative_error']:.4g}. "
            f"The plan's literal criterion (< 0.01) {'holds' if d['plan_metric_below_0.01'] else 'does not hold'}: for an unbiased estimator it needs N K ≥ 10⁴ (D − 1) directions.",
            f"- Bias along g, ⟨mean(ĝ) − g, g⟩/||g||²: {_measured(d['bias_along_g'])}.",
            f"- Negative control (scale {nc['scale']} D): r = {_measured(nc['r'])} → **{nc['verdict']}** ({nc['reason']}).",
        ]
    if cid == "C8":
        mx = d["max_abs_diff"]
        lines = [
            f"- Largest |a − a*| over all proofs: verifier (same device) {mx['verifier']:.3g}; verifier with another thread count {mx['verifier_threads']:.3g}; "
            f"backprop dot product {mx['backprop']:.3g}; float64 model {mx['float64']:.3g}.",
            f"- Median |a| = {d['median_abs_a']:.3g}, so ε = {d['eps']:g} is {d['eps'] / d['median_abs_a']:.3g}× a typical proof. Recommended ε (10× the largest honest cross-path difference, rounded up to a power of ten): {d['recommended_eps']:.0e}.",
            "- Cheater catch rate vs 1 − (1 − p)^{n_bad}, n_bad = round(q m) invalid proofs of m per step: "
            + "; ".join(
                f"p = {c['p']:g}, q = {c['q']:g} (n_bad = {c['invalid_per_step']} of {c['m']}): {c['rate']:.3f} vs {c['theory']:.3f} "
                f"({'within' if c['theory_in_ci'] else 'outside'} the 95% CI)"
                for c in d["cheaters"]
            )
            + f". Honest proofs rejected: {sum(c['false_rejections'] for c in d['cheaters'])}.",
        ]
        return lines
    return []


def systems_section(d: dict | None, figure: str | None, base: Path, note: str | None = None) -> list[str]:
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
        "| workers | backend, device | strategy | model, D | steps | bytes per worker per step | full-gradient all-reduce | ratio | Byzantine ranks | verifier p, ε | checked / rejected | slashed | restarts | θ on every rank |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {run['workers']} | {d['backend']}, {d['device']} | {run['strategy']} ({', '.join(f'{k} = {v}' for k, v in run['options'].items())}) | {run['model']}, {d['D']:,} | {run['steps']} "
        f"| {comm['proof_bytes_per_worker_per_step']:.3g} (+ verdict {comm['verdict_bytes_per_step']:.3g}) | {comm['allreduce_bytes_per_worker_per_step']:,} "
        f"| {_num(comm['reduction'])}× | {', '.join(map(str, byz['ranks'])) or 'none'} ({byz['attack']}) | {pogp['p']:g}, {pogp['eps']:g} "
        f"| {ver['checked']} / {ver['rejected']} | {slashed} | {d['restarts']} | identical (SHA-256 {d['theta_sha256'][:12]}…) |",
        "",
    ]
    losses = [r["loss"] for r in records if r.get("loss") is not None]
    evals = [r["eval_loss"] for r in records if r.get("eval_loss") is not None]
    if losses:
        lines += [
            f"Training loss {losses[0]:.4g} → {losses[-1]:.4g}; held-out loss {_num(evals[0] if evals else None)} → {_num(d.get('final_eval_loss'))} "
            f"over {run['steps']} steps, {d['timing'].get('job_wall_seconds', d['timing']['wall_seconds_this_attempt']):.0f} s. Per step only (slot index, scalar) pairs and the verifier's verdict "
            "crossed between the processes (bytes counted from the tensors handed to torch.distributed); every rank regenerated the directions from "
            "the seeds and applied the same update, and the ranks' θ hashes agreed at the start, at every checkpoint and at the end.",
            "",
        ]
    return lines


def render(
    claims: list[dict],
    experiments: dict,
    verdicts: dict[str, dict],
    data: dict[str, dict],
    figures: dict[str, str],
    base: Path,
    config_file: str | None = None,
    not_run: dict[str, str] | None = None,
    failed: int = 0,
    systems: dict | None = None,
    systems_figure: str | None = None,
    systems_note: str | None = None,
) -> str:
    """The summary's Markdown.  verdicts: claim id -> verdict record; data: experiment -> data file;
    config_file: the configuration the run used (results/config.yaml), linked if given;
    not_run: claim id -> why it has no verdict; failed: jobs that failed in the run
    (paper_checks.failures), said at the top; systems: E8's result and figure (or
    systems_note, why it has none), after the experiments."""
    measured_at = sorted({c for v in verdicts.values() for c in v["environment"]["git_commits"]})
    judged_at = sorted({v["environment"]["verdict_git_commit"] for v in verdicts.values()})
    lines = [
        "# HoloGrad claim checks — results",
        "",
        "Written by `snakemake results/RESULTS_SUMMARY.md`; every number below is read from the verdict files in "
        "`results/claims/` and the data files in `results/data/`. Verdict rule (paper_checks/verdict.py): **PASS** if the "
        "mean over seeds (the worst case, for a claim about every value) lies in the acceptance region, **FAIL** if its whole 95% CI "
        "lies outside, **INCONCLUSIVE** otherwise or with fewer than two seeds.",
        f"Measured at git commit {', '.join(measured_at) or 'unknown'}; verdicts at {', '.join(judged_at) or 'unknown'}."
        + (f" Configuration: [{os.path.relpath(config_file, base)}]({os.path.relpath(config_file, base)})." if config_file else ""),
        "",
        *(
            ["", f"**This run did not finish: {failed} job(s) failed.** The claims they stopped are NOT RUN below, each with its failure; the others were judged in this run."]
            if failed
            else []
        ),
        "",
        "## Verdicts",
        "",
        *claims_table(claims, verdicts, base, not_run),
    ]
    for key, meta in experiments.items():
        if key not in data:
            continue
        ids = [c["id"] for c in claims if c["experiment"] == key]
        d = data[key]
        lines += ([] if lines[-1] == "" else [""]) + [f"## {meta['id']} — {meta['title']} ({', '.join(ids)})", "", f"![{meta['title']}]({os.path.relpath(figures[key], base)})", ""]
        lines += scale_table(d, meta["paper"])
        lines += ["", f"Jobs: {len(d['runs'])}, {d['timing']['runs_wall_seconds']:.0f} s of job time in all.", ""]
        for cid in ids:
            if cid in verdicts:
                v = verdicts[cid]
                parts = [f"{_part(p)}{p['measured']['label']}: {_measured(p['measured'])}" + (f" → {p['verdict']}" if len(v["parts"]) > 1 else "") for p in v["parts"]]
                lines += [f"**{cid} — {v['verdict']}.** {'; '.join(parts)}.", ""]
                details = _details(verdicts[cid])
                lines += details + [""] if details else []
    if systems is not None or systems_note is not None:
        lines += ([] if lines[-1] == "" else [""]) + systems_section(systems, systems_figure, base, systems_note)
    return "\n".join(lines).rstrip("\n") + "\n"


def write_summary(
    claims: list[dict],
    experiments: dict,
    verdicts: dict[str, str],
    data_files: dict[str, str],
    figures: dict[str, str],
    output: str,
    systems_file: str | None = None,
    **options,
) -> None:
    """Stage 5 of the pipeline: write results/RESULTS_SUMMARY.md from the verdict and data
    files (after a failed run: from those of the claims judged in it) and E8's result.
    `options` are render's: config_file, not_run, failed, systems_figure, systems_note."""
    if systems_file is not None:
        options["systems"] = read_json(systems_file)
    text = render(
        claims,
        experiments,
        {cid: read_json(p) for cid, p in verdicts.items()},
        {key: read_json(p) for key, p in data_files.items()},
        figures,
        Path(output).parent,
        **options,
    )
    write_text(text, output)
    log.info("wrote %s", output)

