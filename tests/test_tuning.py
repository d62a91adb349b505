"""Tests of the auto-tuner (``learnedidx.tuning``), ``RMI.auto`` and ``learnedidx tune``.

Every tuning run uses ``calibrate=False`` (the documented default coefficients) and
small key sets, so the suite needs no timing and stays fast; the calibration itself is
exercised once on tiny key sets with its cache in a temporary directory.
"""
from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pytest

from learnedidx import RMI, tune
from learnedidx import tuning
from learnedidx.rmi import LEAF_BYTES
from learnedidx.tuning import Candidate, CostModel, pareto_front

ROOTS = tuning.BASE_ROOTS          # every root family but the MLP (whose training takes seconds)
HAS_HYBRID = tuning._features_supported()[1]


def lognormal_keys(n: int, seed: int = 3, dtype=np.uint64) -> np.ndarray:
    x = np.random.default_rng(seed).lognormal(0.0, 2.0, n) * 1e6
    return np.sort(x.astype(dtype))


def clustered_keys(n: int, seed: int = 5) -> np.ndarray:
    """Dense clusters of very different sizes: a CDF no single root fits."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(-2 ** 40, 2 ** 40, 40)
    sizes = rng.pareto(1.2, 40) + 1
    counts = np.maximum(1, (sizes / sizes.sum() * n).astype(np.int64))
    parts = [c + rng.integers(0, int(k) * 50, int(k)) for c, k in zip(centres, counts)]
    return np.sort(np.concatenate(parts).astype(np.int64))


@pytest.fixture(scope="module")
def lognormal_result():
    keys = lognormal_keys(60_000)
    return keys, tune(keys, calibrate=False, roots=ROOTS)


def assert_pareto(front):
    for a in front:
        for b in front:
            assert not (b is not a and b.nbytes <= a.nbytes and b.est_ns <= a.est_ns), \
                f"{a.label()} ({a.nbytes}, {a.est_ns}) is dominated by {b.label()} ({b.nbytes}, {b.est_ns})"


def assert_exact(keys: np.ndarray, idx) -> None:
    rng = np.random.default_rng(11)
    present = keys[rng.integers(0, keys.size, 5_000)] if keys.size else keys[:0]
    if keys.dtype.kind == "f":
        absent = rng.uniform(float(keys[0]) - 1, float(keys[-1]) + 1, 5_000).astype(keys.dtype)
    else:
        info = np.iinfo(keys.dtype)
        lo, hi = (int(keys[0]), int(keys[-1])) if keys.size else (0, 10)
        absent = rng.integers(max(info.min, lo - 10), min(info.max, hi + 10), 5_000, endpoint=True).astype(keys.dtype)
    for q in (present, absent):
        for side in ("left", "right"):
            np.testing.assert_array_equal(idx.searchsorted(q, side=side), np.searchsorted(keys, q, side=side))
    for x in absent[:200].tolist():
        assert idx.searchsorted(x) == int(np.searchsorted(keys, keys.dtype.type(x)))


# ------------------------------------------------------------------ the front

def test_front_is_pareto_and_contains_best(lognormal_result):
    _, r = lognormal_result
    assert len(r.front) >= 3
    assert_pareto(r.front)
    assert [c.nbytes for c in r.front] == sorted(c.nbytes for c in r.front)
    assert r.best_candidate in r.front and r.best == r.best_candidate.config
    assert r.best_candidate.est_ns == min(c.est_ns for c in r.front)
    for c in r.front:                       # only trusted measurements
        assert c.refined and c.avg_log2_window >= 0 and c.max_window >= 1 and c.est_ns > 0


def test_pareto_front_function():
    cands = [Candidate({"i": i}, nb, 1.0, 1, ns, 1, True) for i, (nb, ns) in
             enumerate([(10, 9.0), (10, 8.0), (20, 8.0), (30, 5.0), (40, 6.0), (50, 1.0)])]
    assert [c.config["i"] for c in pareto_front(cands)] == [1, 3, 5]
    assert pareto_front([]) == []


@pytest.mark.parametrize("budget", [2_500, 20_000, 300_000])
def test_respects_max_bytes_and_best_is_exact(budget):
    keys = clustered_keys(40_000)
    r = tune(keys, max_bytes=budget, calibrate=False, roots=ROOTS)
    assert r.front and all(c.nbytes <= budget for c in r.front)
    assert_pareto(r.front)
    idx = RMI(keys, **r.best)
    idx._check()
    assert idx.nbytes <= budget
    assert idx.nbytes == r.best_candidate.nbytes or "max_error" in r.best
    assert_exact(keys, idx)


@pytest.mark.parametrize("root, params, stages", [("radix", {"bits": 14}, 2), ("linear", {}, 2), ("cubic", {}, 3)])
@pytest.mark.parametrize("budget", [3_000, 150_000, 571_449, math.inf])
def test_most_leaves_fill_the_budget(root, params, stages, budget):
    def table(leaves):
        return tuning._table_bytes(tuning._config(root, params, leaves, stages))

    n = 10_000_000
    L = tuning._most_leaves(root, params, stages, budget, n)
    if not math.isfinite(budget):
        assert L is None
        return
    if table(1) > budget:
        assert L is None
        return
    assert L >= 1 and table(L) <= budget                 # below the grid's least count too
    assert L == 1 << tuning.MAX_LEAF_BITS or table(L + 1) > budget
    assert tuning._most_leaves(root, params, stages, budget, 100) == min(100, L)
    assert tuning._most_leaves(root, params, stages, budget, 63) == min(63, L)    # fewer keys than the grid's least


@pytest.mark.parametrize("root, params, stages", [("linear", {}, 2), ("spline", {"knots": 32}, 2),
                                                  ("radix", {"bits": 8}, 2), ("loglinear", {}, 2),
                                                  ("cubic", {}, 3)])
def test_most_leaves_build_within_the_budget(root, params, stages):
    keys = lognormal_keys(30_000)
    budget = 20_000
    L = tuning._most_leaves(root, params, stages, budget, keys.size)
    idx = RMI(keys, **tuning._config(root, params, L, stages))
    assert idx.nbytes <= budget and idx.nbytes == tuning._table_bytes(tuning._config(root, params, L, stages))
    assert tuning._table_bytes(tuning._config(root, params, L + 1, stages)) > budget   # no room for one more


def test_budget_filling_leaf_counts_are_explored():
    keys = lognormal_keys(60_000)
    budget = 4 * (2 ** 12 + 1) + LEAF_BYTES * 1_500  # a 12-bit radix root and 1,500 leaves
    r = tune(keys, max_bytes=budget, calibrate=False, roots=[("radix", {"bits": 12}), ("linear", {})],
             stages=(2,), max_errors=())
    leaves = {c.config["leaves"] for c in r.candidates if c.config["root"] == "radix"}
    assert 1_500 in leaves                           # no power of two
    assert any(c.config["leaves"] == 1_500 and c.refined for c in r.candidates)
    assert all(c.nbytes <= budget for c in r.front)
    assert RMI(keys, **r.best).nbytes <= budget


def test_budget_below_every_configuration():
    with pytest.raises(ValueError, match="raise max_bytes"):
        tune(lognormal_keys(5_000), max_bytes=30, calibrate=False, roots=ROOTS)


@pytest.mark.parametrize("budget", [40, 100, 1_000])
def test_budget_below_the_leaf_grid(budget):
    # fewer bytes than 2**MIN_LEAF_BITS leaves: the most leaves that fit, not an error
    keys = lognormal_keys(20_000)
    r = tune(keys, max_bytes=budget, calibrate=False, roots=[("linear", {}), ("radix", {"bits": 8})])
    idx = RMI(keys, **r.best)
    assert idx.nbytes <= budget
    assert r.best["leaves"] < 1 << tuning.MIN_LEAF_BITS
    assert any(c.config["leaves"] == (budget - 16) // LEAF_BYTES for c in r.candidates)  # linear root: 16 bytes
    assert all(c.nbytes <= budget for c in r.front)
    assert np.array_equal(idx.searchsorted(keys[::7]), np.searchsorted(keys, keys[::7]))


@pytest.mark.parametrize("bad, exc, match", [
    ({"max_bytes": 0}, ValueError, "max_bytes must be a positive int"),
    ({"max_bytes": 1.5e6}, TypeError, "max_bytes must be a positive int"),
    ({"max_bytes": "1MB"}, TypeError, "max_bytes must be a positive int"),
    ({"max_bytes": True}, TypeError, "max_bytes must be a positive int"),
    ({"target": "fast"}, ValueError, "target must be one of latency, size"),
    ({"slack": -1}, ValueError, "slack"),
    ({"calibrate": "yes"}, TypeError, "calibrate must be True, False or a CostModel"),
    ({"roots": []}, ValueError, "roots is empty"),
    ({"stages": (4,)}, ValueError, "stages must list 2 and/or 3"),
    ({"stages": (3,), "max_bytes": 100}, ValueError, "raise max_bytes"),
])
def test_bad_arguments(bad, exc, match):
    with pytest.raises(exc, match=match):
        tune(np.arange(100), **{"calibrate": False, **bad})


def test_bad_keys_are_rejected_by_the_shared_validation():
    with pytest.raises(ValueError, match="sorted"):
        tune(np.array([3, 1, 2]), calibrate=False)


def test_deterministic():
    keys = clustered_keys(30_000, seed=9)
    a = tune(keys, max_bytes=50_000, calibrate=False, roots=ROOTS)
    b = tune(keys, max_bytes=50_000, calibrate=False, roots=ROOTS)
    assert a.best == b.best
    assert [(c.config, c.nbytes, c.avg_log2_window, c.max_window, c.est_ns) for c in a.front] == \
           [(c.config, c.nbytes, c.avg_log2_window, c.max_window, c.est_ns) for c in b.front]


def test_target_size_is_smaller_within_slack(lognormal_result):
    keys, fast = lognormal_result
    small = tune(keys, target="size", slack=0.2, calibrate=False, roots=ROOTS)
    assert small.best_candidate.nbytes <= fast.best_candidate.nbytes
    assert small.best_candidate.est_ns <= 1.2 * fast.best_candidate.est_ns + 1e-9


@pytest.mark.parametrize("dtype", [np.uint32, np.int64, np.float64])
def test_dtypes_and_duplicates(dtype):
    rng = np.random.default_rng(2)
    keys = np.sort(rng.integers(-1000 if dtype != np.uint32 else 0, 30_000, 20_000)).astype(dtype)  # duplicates
    r = tune(keys, max_bytes=16_384, calibrate=False, roots=ROOTS[:4])
    idx = RMI(keys, **r.best)
    idx._check()
    assert_exact(keys, idx)


@pytest.mark.parametrize("n", [0, 1, 2, 63, 64, 500])
def test_tiny_inputs(n):
    keys = np.arange(n, dtype=np.int64) * 7
    r = tune(keys, calibrate=False, roots=ROOTS[:4])
    assert r.front and r.best["leaves"] <= max(n, 1)
    assert_exact(keys, RMI(keys, **r.best))


# ------------------------------------------------------------- the estimates

def test_sample_estimates_match_full_builds():
    """Windows measured on a 2**13-key sample, scaled, agree with builds on all keys."""
    keys = lognormal_keys(200_000, seed=4)
    r = tune(keys, calibrate=False, roots=[("radix", {"bits": 12}), ("cubic", {})], stages=(2,),
             max_errors=(), sample=1 << 13, max_sample=1 << 16)
    checked = 0
    for c in r.front[-4:]:
        assert c.sample_keys < keys.size
        st = RMI(keys, **c.config).stats()
        assert st["model_bytes"] == c.nbytes
        assert abs(st["avg_log2_window"] - c.avg_log2_window) < 0.6, (c.label(), st["avg_log2_window"])
        checked += 1
    assert checked


@pytest.mark.skipif(not HAS_HYBRID, reason="this RMI has no hybrid leaves (max_error)")
def test_hybrid_candidates_are_estimated_and_build():
    keys = clustered_keys(80_000, seed=1)
    r = tune(keys, calibrate=False, roots=[("linear", {}), ("radix", {"bits": 8})], stages=(2,),
             max_errors=(16, 64))
    hybrids = [c for c in r.candidates if "max_error" in c.config and c.refined]
    assert hybrids and all(c.hybrid_leaves > 0 for c in hybrids)
    c = max(hybrids, key=lambda c: c.hybrid_leaves)
    idx = RMI(keys, **c.config)
    idx._check()
    st = idx.stats()
    assert st["hybrid_leaves"] == c.hybrid_leaves          # exact: this sample is all keys
    assert st["model_bytes"] == c.nbytes                   # leaves, hybrid rows, separators
    assert st["max_window"] <= c.config["max_error"]
    assert abs(st["avg_log2_window"] - c.avg_log2_window) < 0.25
    assert_exact(keys, idx)


def test_max_errors_need_hybrid_support(monkeypatch):
    monkeypatch.setattr(tuning, "_features_supported", lambda: (False, False))
    with pytest.raises(ValueError, match="max_errors=()"):
        tune(np.arange(1000), calibrate=False, max_errors=(64,))
    r = tune(np.arange(1000), calibrate=False)              # default: nothing hybrid, no MLP
    assert all("max_error" not in c.config and c.config["root"] != "mlp" for c in r.candidates)


# ------------------------------------------------------------- the cost model

def test_cost_model_is_monotone_in_window_and_bytes():
    m = CostModel(dict(tuning.DEFAULT_COEFFICIENTS))
    base = dict(key_bytes=80 << 20, model_bytes=1 << 20)
    assert m.estimate(window=8.0, **base) > m.estimate(window=4.0, **base)
    assert m.estimate(window=4.0, key_bytes=80 << 20, model_bytes=64 << 20) > m.estimate(window=4.0, **base)
    assert m.estimate(window=4.0, stages=3, **base) >= m.estimate(window=4.0, **base)


def test_cost_model_charges_the_key_array_for_bits_beyond_the_first_line():
    m = CostModel(dict(tuning.DEFAULT_COEFFICIENTS), cache_bytes=512 << 10, llc_bytes=32 << 20)
    small = dict(window=5.0, key_bytes=1 << 20, model_bytes=1 << 16)
    big = dict(small, key_bytes=1 << 30)
    # windows inside a line: the key array's size costs nothing more
    assert m.estimate(window_lines=0.0, **big) == m.estimate(window_lines=0.0, **small)
    assert m.estimate(window_lines=2.0, **big) > m.estimate(window_lines=1.0, **big) > m.estimate(window_lines=0.0,
                                                                                                      **big)
    assert m.estimate(**big) == m.estimate(window_lines=2.0, **big)      # default: window - 3 bits
    assert tuning.beyond_line(np.array([0.0, 7.0, 15.0]), 4) == 0.0      # 16 four-byte keys per line
    assert tuning.beyond_line(np.array([], dtype=float), 8) == 0.0


def test_nnls_keeps_coefficients_non_negative():
    rng = np.random.default_rng(0)
    x = np.column_stack([np.ones(40), rng.uniform(0, 10, 40), rng.uniform(0, 10, 40)])
    y = 5 + 3 * x[:, 1] - 0.5 * x[:, 2] + rng.normal(0, 0.1, 40)
    sol = tuning._nnls(x, y)
    assert np.all(sol >= 0) and sol[2] == 0 and abs(sol[1] - 3) < 0.3


def test_calibrate_fits_caches_and_reloads(tmp_path, monkeypatch):
    monkeypatch.setenv("LEARNEDIDX_CACHE", str(tmp_path))
    monkeypatch.setattr(tuning, "_PROCESS_CACHE", {})
    monkeypatch.setattr(tuning, "CALIBRATION_POINTS", (
        (10, "radix", {"bits": 8}, 4, 2), (10, "linear", {}, 64, 2), (10, "cubic", {}, 16, 3),
        (12, "radix", {"bits": 8}, 8, 2), (12, "linear", {}, 256, 2), (12, "spline", {"knots": 32}, 64, 2),
        (12, "loglinear", {}, 32, 2), (12, "radix", {"bits": 8}, 16, 2, {"leaf_model": "fences"}),
        (12, "radix", {"bits": 8}, 4, 2, {"max_error": 16})))
    model = tuning.calibrate(queries=2_000, repeats=2)
    assert model.source == "calibrated" and set(model.coef) == set(tuning.COEFFICIENT_NAMES)
    assert all(v >= 0 for v in model.coef.values()) and len(model.info["points"]) == 9
    hybrid = model.info["points"][-1]
    assert hybrid["max_error"] == 16 and hybrid["separator_log2"] > 0
    assert all(p["separator_log2"] == 0 for p in model.info["points"][:-1])
    assert [p["fences"] for p in model.info["points"]].count(True) == 1
    stored = json.loads((tmp_path / "cost_model.json").read_text())
    assert list(stored.values())[0]["coef"] == model.coef
    assert tuning.calibrate() is model                      # per process
    monkeypatch.setattr(tuning, "_PROCESS_CACHE", {})
    again = tuning.calibrate()                              # from the JSON file
    assert again.source == "cached" and again.coef == model.coef
    r = tune(np.arange(5000), calibrate=again, roots=ROOTS[:2])
    assert r.cost_model is again


# ------------------------------------------------------------------ RMI.auto

def test_rmi_auto_builds_the_chosen_configuration():
    keys = clustered_keys(30_000, seed=4)
    idx = RMI.auto(keys, max_bytes=10_000, calibrate=False, roots=ROOTS)
    assert idx.nbytes <= 10_000
    assert idx.root_name == idx.tuning.best["root"] and idx.n_leaves == idx.tuning.best["leaves"]
    idx._check()
    assert_exact(keys, idx)


@pytest.mark.slow
@pytest.mark.skipif(not tuning._features_supported()[0], reason="MLP model or torch not available")
def test_mlp_roots_are_explored():
    keys = lognormal_keys(40_000, seed=8)
    r = tune(keys, max_bytes=40_000, calibrate=False)
    mlps = [c for c in r.candidates if c.config["root"] == "mlp"]
    assert mlps and all(c.config["root_params"]["hidden"] in ([h[0]] for h in tuning.MLP_HIDDEN) for c in mlps)
    best_mlp = min(mlps, key=lambda c: c.est_ns)
    idx = RMI(keys, **best_mlp.config)
    assert abs(idx.stats()["avg_log2_window"] - best_mlp.avg_log2_window) < 0.25
    assert_exact(keys, idx)


# ---------------------------------------------------------------------- CLI

def test_cli_tune_prints_front_plots_and_saves(tmp_path, capsys, monkeypatch):
    from learnedidx import cli
    monkeypatch.setattr(tuning, "MLP_HIDDEN", ())           # no MLP training: seconds of torch
    out_json = tmp_path / "front.json"
    argv = ["tune", "lognormal", "--n", "20000", "--max-bytes", "8192", "--no-calibrate", "--quiet",
            "--json", str(out_json), "--check"]
    has_mpl = importlib.util.find_spec("matplotlib") is not None
    if has_mpl:
        argv += ["--plot", str(tmp_path / "plots")]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "| * |" in out and "est ns/lookup" in out and "chosen: RMI(keys, **" in out and "checked on all" in out
    data = json.loads(out_json.read_text())
    assert data["front"] and all(c["nbytes"] <= 8192 for c in data["front"])
    assert data["best"] in [c["config"] for c in data["front"]]
    if has_mpl:
        png = tmp_path / "plots" / "lognormal_tune.png"
        assert png.exists() and png.stat().st_size > 1000


@pytest.mark.parametrize("argv, match", [
    (["tune", "lognormal", "--max-bytes", "0"], "--max-bytes must be at least 1"),
    (["tune", "no_such_dataset"], "unknown dataset"),
    (["tune", "lognormal", "--n", "2000", "--max-bytes", "30", "--no-calibrate"], "raise max_bytes"),
])
def test_cli_tune_user_errors(argv, match, capsys):
    from learnedidx import cli
    assert cli.main(argv) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("learnedidx tune: error:") and match in err and err.count("\n") == 1


def test_root_units_grow_with_work():
    assert tuning.root_units("linear") <= tuning.root_units("cubic") <= tuning.root_units("loglinear")
    assert tuning.root_units("spline", {"knots": 256}) > tuning.root_units("spline", {"knots": 32})
    assert math.isclose(tuning.root_units("mlp", {"hidden": [32]}), (32 + 32) / 4)
