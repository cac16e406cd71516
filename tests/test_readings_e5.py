"""E5 / C6 under its readings (as-stated: K = 16; k1: K = 1) and the seed-collapse control.

Planted data go through the real aggregation and the framework's judge_reading; the control's
mathematics is checked against the strategy option it imitates (HoloGradRandom(collapse_seeds=
True)) and against theory with tolerances derived from the distributions of its statistics."""

import json
import math

import pytest
import torch
from test_claim_rules import CODE, SECTIONS, write_runs

from holograd.derivatives import flat_grad
from holograd.directions import derive_seeds, random_directions
from holograd.estimators import estimate_gradient, expected_cosine
from holograd.experiments import unbiased_estimator as e5
from holograd.strategies import HoloGradRandom
from paper_checks import aggregation
from paper_checks.catalog import load_claims, load_experiments, readings_of
from paper_checks.evaluation import judge_reading
from paper_checks.experiment import load_analysis
from paper_checks.experiments import unbiased_estimator as analysis
from paper_checks.verdict import FAIL, INCONCLUSIVE, PASS

EXPERIMENTS = load_experiments()
C6 = next(c for c in load_claims(experiments=EXPERIMENTS) if c["id"] == "C6")
READINGS = {r["id"]: r for r in readings_of(C6)}
ANALYSIS = load_analysis(EXPERIMENTS["e5_unbiased_estimator"]["analysis"])
SWEPT = {**SECTIONS["e5_unbiased_estimator"], "sweep": {"k": [1, 16]}}
U32 = 2.0**-24  # float32 unit roundoff


# --- planted data ----------------------------------------------------------------------------


def metrics(
    r: float, control_r: float = 0.25, authors_bias: float = 3.1, alignment: float = 0.0063, bias: float = 0.0
) -> dict:
    """One seed's run metrics: r of the estimator, the controls', and the authors'-setting
    control; the bias along g near `bias`."""

    def arm(x):
        return {"r": x, "relative_error": x**0.5, "bias_along_g": bias + 0.01 * (x - 1)}  # varies with the seed

    points = [
        {
            "draws": n,
            "directions": 16 * n,
            "theory_relative_error": 1.0,
            "theory_relative_error_collapsed": 4.0,
            "estimator": arm(r),
            # the control varies with the seed as the estimator does (identical values would
            # have a zero-width interval, which decides nothing)
            "control": arm(control_r + 0.01 * (r - 1)),
            "collapsed": arm(16.0),
        }
        for n in (1, 4)
    ]
    theory = {
        "relative_bias": 3.16,
        "relative_bias_uncollapsed": 0.395,
        "cosine": 0.30,
        "cosine_uncollapsed": 0.93,
        "alignment": 0.00617,
        "alignment_uncollapsed": 0.0618,
    }
    collapse = {
        "relative_bias": {
            "dim": 1000,
            "k": 64,
            "draws": 100,
            "relative_bias": authors_bias,
            "relative_bias_uncollapsed": 0.39,
            "cosine": 0.3,
            "cosine_uncollapsed": 0.93,
        },
        "alignment": {"dim": 16704, "k": 64, "estimates": 1000, "alignment": alignment, "alignment_uncollapsed": 0.06},
        "theory": theory,
    }
    return {"grad_norm": 1.0, "points": points, "seed_collapse": collapse}


def planted(tmp_path, per_setting: dict[str, list[dict]], section: dict) -> dict:
    """Planted run files aggregated by the real stage; the data file's contents."""
    runs = write_runs(tmp_path, "e5_unbiased_estimator", per_setting, section)
    out = tmp_path / "e5_unbiased_estimator.json"
    aggregation.aggregate_experiment(
        "e5_unbiased_estimator", EXPERIMENTS["e5_unbiased_estimator"]["analysis"], section, "cpu", CODE, runs, str(out)
    )
    return json.loads(out.read_text())


def judged(data: dict, reading: str) -> dict:
    claim = {k: v for k, v in READINGS[reading]["claim"].items() if k != "region"}
    return judge_reading(claim, data, ANALYSIS)


GOOD, BIASED, WIDE = (1.0, 0.98, 1.03), (2.0, 2.1, 1.9), (1.3, 1.1, 1.5)


@pytest.mark.parametrize(
    "reading, selected, expected, words",
    [
        ("as-stated", GOOD, PASS, "lies inside"),
        ("as-stated", BIASED, FAIL, "above"),
        ("as-stated", WIDE, INCONCLUSIVE, "reaches across"),
        ("k1", GOOD, PASS, "lies inside"),
        ("k1", BIASED, FAIL, "above"),
        ("k1", WIDE, INCONCLUSIVE, "reaches across"),
    ],
)
def test_each_reading_judges_its_own_setting(tmp_path, reading, selected, expected, words):
    # The other setting carries values of a different verdict (GOOD <-> BIASED): catches a
    # reading whose select is ignored (the first or a pooled setting read instead).
    k = {"as-stated": 16, "k1": 1}[reading]
    other = BIASED if selected == GOOD else GOOD
    values = {f"k-{k}": selected, f"k-{17 - k}": other}
    data = planted(tmp_path, {s: [metrics(r) for r in rs] for s, rs in values.items()}, SWEPT)
    v = judged(data, reading)
    assert v["verdict"] == expected and words in v["reason"], v["reason"]
    assert v["measured"]["per_seed"] == list(selected) and v["details"]["k"] == k
    # the control's keys the published-numbers table reads (means of the planted per-seed values)
    authors = v["details"]["seed_collapse"]["authors_setting"]
    assert authors["relative_bias"]["point"] == pytest.approx(3.1) and authors["relative_bias"]["n"] == 3
    assert authors["alignment_k64"]["point"] == pytest.approx(0.0063)
    assert authors["relative_bias_uncollapsed"]["point"] == pytest.approx(0.39)
    assert authors["alignment_k64_uncollapsed"]["point"] == pytest.approx(0.06)
    assert v["details"]["relative_bias"]["point"] == pytest.approx(sum(r**0.5 for r in selected) / 3)
    assert v["details"]["seed_collapse"]["ours"]["r"]["point"] == pytest.approx(16.0)


@pytest.mark.parametrize("reading, missing", [("as-stated", 16), ("k1", 1)])
def test_a_reading_whose_setting_was_not_run_is_inconclusive(tmp_path, reading, missing):
    # Only the other K was run: catches a reading that falls back on whatever setting exists.
    present = 17 - missing
    section = {**SECTIONS["e5_unbiased_estimator"], "k": present}
    data = planted(tmp_path, [metrics(r) for r in GOOD], section)
    v = judged(data, reading)
    assert v["verdict"] == INCONCLUSIVE and f"no setting with k = {missing}" in v["reason"], v["reason"]


@pytest.mark.parametrize("reading", ["as-stated", "k1"])
def test_a_reading_whose_control_is_not_rejected_is_inconclusive(tmp_path, reading):
    # A wrong-scale control inside the acceptance region: the run cannot tell bias from none.
    data = planted(tmp_path, {s: [metrics(r, control_r=1.0) for r in GOOD] for s in ("k-1", "k-16")}, SWEPT)
    v = judged(data, reading)
    assert v["verdict"] == INCONCLUSIVE and "negative control" in v["reason"], v["reason"]


def test_runs_without_the_authors_setting_leave_it_out(tmp_path):
    # Runs of a section without seed_collapse: the verdict stands, the key is absent (the
    # published table then reads "not measured"), nothing is invented.
    bare = [{k: v for k, v in metrics(r).items() if k != "seed_collapse"} for r in GOOD]
    v = judged(planted(tmp_path, bare, SECTIONS["e5_unbiased_estimator"]), "as-stated")
    assert v["verdict"] == PASS and "authors_setting" not in v["details"]["seed_collapse"]


@pytest.mark.parametrize(
    "bias, dim, words",
    [
        (3.1, 1000, "The collapse reproduces the published relative bias 2.98"),
        (0.4, 1000, "The collapse does not reproduce the published relative bias 2.98"),
        (3.1, 200, "Not the authors' setting"),
    ],
)
def test_summary_says_whether_the_collapse_reproduces_the_published_bias(tmp_path, bias, dim, words):
    # The sentence is computed from the numbers (published 2.98, tolerance 15 %) and made only
    # at the authors' setting: catches a fixed claim of reproduction, or one at a toy size.
    per_seed = [metrics(r, authors_bias=bias) for r in GOOD]
    for m in per_seed:
        m["seed_collapse"]["relative_bias"]["dim"] = dim
    data = planted(tmp_path, per_seed, SECTIONS["e5_unbiased_estimator"])
    lines = analysis.describe_c6(judged(data, "as-stated")["details"])
    line = next(line for line in lines if "N = 100" in line)
    assert words in line, line


# --- the control's mathematics ---------------------------------------------------------------


def test_collapsed_estimate_is_d_a_v_of_the_first_direction():
    # (D/K) sum_k <g, v> v over K copies of v is D <g, v> v in exact arithmetic.  In float32 the
    # only differences are rounding: the dot product <g, v> (error <= gamma_D sum |g_i v_i| <=
    # D u ||g||, Higham's bound), the scaling and the sum of K equal terms (a few u each), so
    # ||difference|| <= (D + K + 8) u D ||g||.  Catches a collapse onto another seed, a scale
    # D/K instead of D, or directions not collapsed at all (differences of order D |a|).
    dim, k = 3000, 16
    g = torch.randn(dim, generator=torch.Generator().manual_seed(3))
    seeds = derive_seeds("test/e5-collapse", 0, 3 * k)
    v = random_directions(seeds[:1], dim)[0].to(torch.float64)
    exact = dim * (g.to(torch.float64) @ v) * v
    bound = (dim + k + 8) * U32 * dim * float(g.norm())
    one = e5.collapsed_sum(g, seeds[:k], k, 1 << 16)
    copies = estimate_gradient(g, e5.collapsed_seeds(seeds[:k], k), chunk_elements=1 << 16)[1]
    assert e5.collapsed_seeds(seeds[:k], k) == [seeds[0]] * k
    for got in (one, copies):
        assert float((got.to(torch.float64) - exact).norm()) <= bound
    assert float((exact - dim * g.to(torch.float64)).norm()) > 100 * bound  # far from anything else
    # three estimates: the sum of their D <g, v_n> v_n, v_n from seeds 0, k, 2k
    vs = random_directions([seeds[0], seeds[k], seeds[2 * k]], dim).to(torch.float64)
    exact3 = dim * ((vs @ g.to(torch.float64)).unsqueeze(1) * vs).sum(0)
    assert float((e5.collapsed_sum(g, seeds, k, 1 << 16).to(torch.float64) - exact3).norm()) <= 3 * bound


def test_collapse_is_what_the_strategy_option_does(make_model, make_batch):
    # HoloGradRandom(collapse_seeds=True) plans K copies of the step's first seed and steps
    # along D <g, v> v: our helper on the uncollapsed plan's seeds gives the same seeds and the
    # same update up to float32 rounding (bound as above).  Catches a control that collapses
    # differently from the strategy (e.g. onto the last seed).
    k, batch = 8, make_batch()
    plain = HoloGradRandom(make_model(), lr=0.1, k=k, seed=6).plan([batch], 12)
    strategy = HoloGradRandom(make_model(), lr=0.1, k=k, seed=6, collapse_seeds=True)
    assert strategy.plan([batch], 12).seeds == e5.collapsed_seeds(list(plain.seeds), k)
    _, g = flat_grad(strategy.model, batch)
    strategy.step([batch], 12)
    ours = e5.collapsed_sum(g, list(plain.seeds), k, 1 << 16)
    dim = g.numel()
    assert float((strategy.last_update - ours).norm()) <= 2 * (dim + k + 8) * U32 * dim * float(g.norm())


def test_relative_bias_of_collapsed_and_uncollapsed_means_matches_theory():
    # mean_N - g = (1/M) sum_j (D a_j v_j - g) over M independent unit directions (M = N
    # collapsed, N K not), so X = ||mean - g||^2 / ((D - 1)/M) has mean 1 and, from the
    # chi-square-like diagonal (Var ||D a v - g||^2 ~ 2 D^2) and the cross terms (variance
    # tr(Sigma^2) ~ D each), standard deviation sqrt(2/M + 2/D).  Tolerance: 4.5 sd on X.
    # Catches directions that do not collapse (X off by K), a wrong scale, or seeds shared
    # between estimates (the mean stops shrinking).
    dim, k, n = 1000, 64, 400
    out = e5.authors_bias(seed=0, dim=dim, k=k, draws=n, chunk_elements=1 << 18)
    for m, value in ((n, out["relative_bias"]), (n * k, out["relative_bias_uncollapsed"])):
        x = value**2 / ((dim - 1) / m)
        assert abs(x - 1) <= 4.5 * math.sqrt(2 / m + 2 / dim), (m, value)
    # the collapse is sqrt(K) = 8 times worse: far outside both tolerances
    assert out["relative_bias"] / out["relative_bias_uncollapsed"] == pytest.approx(math.sqrt(k), rel=0.3)


def test_mean_abs_cosine_of_collapsed_estimates_matches_theory():
    # Collapsed: |cos(D a v, g)| = |<u, v>| for u = g/||g||, whose mean is Gamma(D/2) /
    # (sqrt(pi) Gamma((D+1)/2)) ~ sqrt(2/(pi D)) and whose variance is 1/D - mean^2 ~ (1 - 2/pi)/D:
    # the mean of M has relative sd sqrt((pi/2 - 1)/M) = 0.024 at M = 1000; tolerance 4.5 sd.
    # Uncollapsed: cos ~ sqrt(K/(K + D - 1)) with a Jensen bias below 1/(4K) = 0.4 % and a
    # relative sd of the mean about 1/sqrt(2 K M) = 0.3 %: tolerance 3 %.  Catches a collapsed
    # estimate that keeps K directions (sqrt(K) = 8 times larger) or an uncollapsed one that does not.
    dim, k, m = 1000, 64, 1000
    out = e5.authors_alignment(seed=1, dim=dim, k=k, estimates=m, chunk_elements=1 << 18)
    theory = e5.mean_abs_normal_projection(dim)
    assert theory == pytest.approx(math.sqrt(2 / (math.pi * dim)), rel=1e-3)
    assert out["alignment"] == pytest.approx(theory, rel=4.5 * math.sqrt((math.pi / 2 - 1) / m))
    assert out["alignment_uncollapsed"] == pytest.approx(expected_cosine(k, dim), rel=0.03)


def test_authors_setting_theory_at_the_published_sizes():
    # The theory the summary quotes: sqrt((D-1)/N) = 3.16 at D = 1000, N = 100 (published 2.98)
    # and sqrt(2/(pi D)) = 0.00617 at D = 16,704 (published 0.0063); without the collapse
    # 0.395 and 0.0618.  Catches K and N swapped in the formulas.
    th = e5.authors_theory({"dim": 1000, "k": 64, "draws": 100}, {"dim": 16704, "k": 64})
    assert th["relative_bias"] == pytest.approx(3.1607, rel=1e-4)
    assert th["relative_bias_uncollapsed"] == pytest.approx(0.39509, rel=1e-4)
    assert th["alignment"] == pytest.approx(0.0061736, rel=1e-3)
    assert th["alignment_uncollapsed"] == pytest.approx(math.sqrt(64 / 16767), rel=1e-6)


def test_figure_draws_every_control_from_planted_data(tmp_path):
    # The figure reads the collapse control and the authors'-setting block from the data file
    # (and published.yaml); catches a plot that breaks on the new keys or on a K = 1 setting.
    data = planted(tmp_path, {s: [metrics(r) for r in GOOD] for s in ("k-1", "k-16")}, SWEPT)
    path = tmp_path / "unbiased_estimator.png"
    analysis.plot({**data, "scale": {"model": "micro", "D": 1000}}, {"C6": C6}, path)
    assert path.stat().st_size > 0


@pytest.mark.parametrize(
    "bias, expected, words",
    [
        (0.0, PASS, "lies inside the acceptance region [-0.1, 0.1]"),  # no bias: equivalent to 0 within 0.1
        (0.1, INCONCLUSIVE, "reaches across"),  # a bias at the margin is not passed
        (0.3, FAIL, "wholly above"),
        (-0.08, INCONCLUSIVE, "the control biased by exactly 0.1 g came out PASS"),  # control at 0.02: passes
    ],
)
def test_c6_b_judges_the_bias_along_g_with_a_control_at_the_margin(tmp_path, bias, expected, words):
    """C6 (b): the bias along g by equivalence within +-0.1, and its control, the same
    estimates plus 0.1 g.  A bias at the margin is INCONCLUSIVE (never PASS); a control that
    passes (here because the planted bias is -0.08, so the control sits at 0.02) means the
    test cannot see a bias at the margin, and (b) is INCONCLUSIVE.  Catches a part b that
    accepts on the point, or a control that is not shifted by the margin."""
    data = planted(tmp_path, [metrics(r, bias=bias) for r in GOOD], SECTIONS["e5_unbiased_estimator"])
    v = judged(data, "as-stated")
    b = v["parts"][1]
    assert b["verdict"] == expected and words in b["reason"], b["reason"]
    control = b["details"]["bias_control"]
    assert control["per_seed"] == pytest.approx([x + 0.1 for x in b["measured"]["per_seed"]])


def test_the_bias_margin_is_claims_yamls():
    # the analysis's margin and control shift are the region claims.yaml pre-registers for (b)
    (part_b,) = C6["also_requires"]
    assert part_b["acceptance"] == f"[-{analysis.BIAS_MARGIN:g}, {analysis.BIAS_MARGIN:g}]"
