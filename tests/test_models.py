"""Model families: fitting, bit-identical batch/scalar prediction, parameter round trips."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from learnedidx import models
from learnedidx.models import MLP, MODELS, Model, get_model

NAMES = ("linear", "spline", "cubic", "radix", "loglinear")

#: Fit-parameter variants per family (the defaults plus the extremes).
PARAM_VARIANTS = {
    "linear": [{}],
    "cubic": [{}],
    "loglinear": [{}],
    "radix": [{}, {"bits": 0}, {"bits": 1}, {"bits": 5}, {"bits": 16}],
    "spline": [{}, {"knots": 2}, {"knots": 3}, {"knots": 100}],
}
CASES = [(name, p) for name in NAMES for p in PARAM_VARIANTS[name]]
CASE_IDS = [f"{n}-{'-'.join(f'{k}{v}' for k, v in p.items()) or 'default'}" for n, p in CASES]


def bits(a) -> np.ndarray:
    """The bit patterns of float64 values (so -0.0 != 0.0 and NaN == NaN)."""
    return np.asarray(a, dtype=np.float64).view(np.uint64)


def training_sets():
    """(name, x, y) training sets: CDFs of several shapes, a line, tiny and degenerate sets."""
    rng = np.random.default_rng(5)
    out = []
    x = np.linspace(0.0, 1.0, 1000)
    out.append(("line", x, 3.0 + 250.0 * x))
    u = np.sort(rng.random(5000))
    out.append(("uniform_cdf", u, np.arange(u.size, dtype=np.float64)))
    ln = np.sort(rng.lognormal(0, 2, 5000))
    ln = (ln - ln[0]) / (ln[-1] - ln[0])
    out.append(("lognormal_cdf", ln, np.arange(ln.size, dtype=np.float64) / 7.0))
    steps = np.sort(rng.choice([0.0, 0.1, 0.1, 0.5, 1.0], 300))
    out.append(("steps", steps, np.arange(steps.size, dtype=np.float64)))
    out.append(("two_points", np.array([0.0, 1.0]), np.array([0.0, 9.0])))
    out.append(("one_point", np.array([0.5]), np.array([3.0])))
    out.append(("constant_x", np.full(50, 0.25), np.arange(50, dtype=np.float64)))
    out.append(("empty", np.zeros(0), np.zeros(0)))
    return out


TRAINING = training_sets()
TRAIN_IDS = [t[0] for t in TRAINING]


def fit(name, params, x, y):
    model = get_model(name).fit(x, y, **params)
    assert model.name == name
    return model


def probe_points(rng) -> np.ndarray:
    """Inputs in [0, 1], slightly outside, boundaries and bucket edges."""
    edges = np.arange(0, 65) / 64.0
    return np.concatenate([rng.random(500), rng.uniform(-0.1, 1.1, 200), edges,
                           np.nextafter(edges, 2.0), np.nextafter(edges, -1.0),
                           [0.0, -0.0, 1.0, -1e-300, 1 + 1e-15, 5e-324, -5e-324, 0.5]])


# --------------------------------------------------------------------- per family

@pytest.mark.parametrize("train", TRAINING, ids=TRAIN_IDS)
@pytest.mark.parametrize("name,params", CASES, ids=CASE_IDS)
def test_predict_and_predict_scalar_agree_bitwise(name, params, train):
    _, x, y = train
    model = fit(name, params, x, y)
    xs = probe_points(np.random.default_rng(11))
    batch = model.predict(xs)
    assert batch.shape == xs.shape and batch.dtype == np.float64
    scalar = np.array([model.predict_scalar(float(v)) for v in xs])
    mism = np.flatnonzero(bits(batch) != bits(scalar))
    assert mism.size == 0, (f"{name}: predict({xs[mism[0]]!r}) = {batch[mism[0]]!r} but "
                            f"predict_scalar = {scalar[mism[0]]!r} ({mism.size} mismatches)")
    assert np.all(np.isfinite(batch)), "finite inputs must give finite predictions"
    for v in xs[:50]:
        assert type(model.predict_scalar(float(v))) is float


@pytest.mark.parametrize("name,params", CASES, ids=CASE_IDS)
@given(xs=st.lists(st.floats(-0.25, 1.25, allow_nan=False), min_size=1, max_size=50),
       which=st.sampled_from(TRAINING[:5]))
def test_predict_scalar_agree_hypothesis(name, params, xs, which):
    _, x, y = which
    model = fit(name, params, x, y)
    arr = np.array(xs, dtype=np.float64)
    batch = model.predict(arr)
    scalar = np.array([model.predict_scalar(v) for v in xs])
    np.testing.assert_array_equal(bits(batch), bits(scalar))


@pytest.mark.parametrize("train", TRAINING, ids=TRAIN_IDS)
@pytest.mark.parametrize("name,params", CASES, ids=CASE_IDS)
def test_from_params_round_trip(name, params, train):
    _, x, y = train
    model = fit(name, params, x, y)
    p = model.params()
    assert isinstance(p, dict) and p
    want = np.float32 if name == "radix" else np.float64      # a radix table is float32
    for v in p.values():
        assert isinstance(v, np.ndarray) and v.dtype == want
    clone = type(model).from_params(p)
    xs = probe_points(np.random.default_rng(2))
    np.testing.assert_array_equal(bits(clone.predict(xs)), bits(model.predict(xs)))
    for v in xs[:100].tolist():
        assert bits(clone.predict_scalar(v)) == bits(model.predict_scalar(v))
    assert clone.nbytes == model.nbytes
    # params() hands out copies: mutating them must not change the model
    before = model.predict(xs)
    for v in p.values():
        v[...] = 12345.0
    np.testing.assert_array_equal(bits(model.predict(xs)), bits(before))
    # the compiled kernels' layout: a flat vector and a size, identical for the clone
    vec, size = model.kernel_params()
    cvec, csize = clone.kernel_params()
    assert isinstance(vec, np.ndarray) and vec.dtype == want and vec.ndim == 1
    assert isinstance(size, (int, np.integer)) and size == csize
    np.testing.assert_array_equal(bits(vec), bits(cvec))


@pytest.mark.parametrize("name,params", CASES, ids=CASE_IDS)
def test_nbytes_name_kind_protocol(name, params):
    _, x, y = TRAINING[1]
    model = fit(name, params, x, y)
    assert isinstance(model.nbytes, int) and model.nbytes > 0
    assert isinstance(model, Model)
    assert type(model).name == name
    assert isinstance(type(model).kind, int)
    assert repr(model)


def test_kinds_are_distinct():
    kinds = [cls.kind for cls in MODELS.values()]
    assert len(set(kinds)) == len(kinds)


@pytest.mark.parametrize("train", TRAINING, ids=TRAIN_IDS)
@pytest.mark.parametrize("name,params", CASES, ids=CASE_IDS)
def test_param_bytes_is_the_fitted_size(name, params, train):
    """The size the tuner plans with before fitting is the fitted model's (a spline on
    fewer distinct keys than knots keeps fewer)."""
    _, x, y = train
    model = fit(name, params, x, y)
    planned = type(model).param_bytes(**params)
    assert model.nbytes == planned or (name == "spline" and model.nbytes < planned)


def test_nbytes_values():
    _, x, y = TRAINING[1]
    assert fit("linear", {}, x, y).nbytes == 16
    assert fit("cubic", {}, x, y).nbytes == 32
    assert fit("loglinear", {}, x, y).nbytes == 24
    assert fit("radix", {"bits": 4}, x, y).nbytes == 4 * (2 ** 4 + 1)      # float32 entries
    assert fit("spline", {"knots": 5}, x, y).nbytes == 24 * 5


# ----------------------------------------------------------------- fit quality

@pytest.mark.parametrize("name,params", CASES, ids=CASE_IDS)
def test_fits_a_line(name, params):
    """Every family represents a straight line almost exactly (loglinear with S=1 too)."""
    _, x, y = TRAINING[0]
    model = fit(name, params, x, y)
    pred = model.predict(x)
    assert np.max(np.abs(pred - y)) <= 1e-9 * 250, (name, np.max(np.abs(pred - y)))


def test_linear_exact():
    m = models.Linear.fit(np.array([0.0, 0.5, 1.0]), np.array([1.0, 2.0, 3.0]))
    assert (m.a, m.b) == (1.0, 2.0)
    assert m.predict_scalar(0.25) == 1.5
    m = models.Linear.fit(np.full(4, 0.3), np.arange(4.0))
    assert m.b == 0.0 and m.a == 1.5
    m = models.Linear.fit(np.zeros(0), np.zeros(0))
    assert (m.a, m.b) == (0.0, 0.0)


def test_cubic_fits_cubic():
    x = np.linspace(0, 1, 200)
    y = 1 + 2 * x - 3 * x ** 2 + 4 * x ** 3
    m = models.Cubic.fit(x, y)
    np.testing.assert_allclose(m.coef, [1, 2, -3, 4], atol=1e-8)
    # fewer than four distinct points: a line
    m = models.Cubic.fit(np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 2.0]))
    assert m.c2 == 0.0 and m.c3 == 0.0


def test_radix_and_spline_interpolate_training_knots():
    _, x, y = TRAINING[1]
    r = models.Radix.fit(x, y, bits=8)
    assert r.table.size == 2 ** 8 + 1 and r.bits == 8
    np.testing.assert_allclose(r.predict(np.arange(257) / 256.0), r.table, rtol=0, atol=1e-9)
    s = models.Spline.fit(x, y, knots=16)
    np.testing.assert_array_equal(s.predict(s.xs), s.ys)
    assert np.all(np.diff(s.xs) > 0)


@pytest.mark.parametrize("name", ["radix", "spline", "linear", "loglinear"])
@pytest.mark.parametrize("train", TRAINING[:4], ids=TRAIN_IDS[:4])
def test_monotone_families_are_monotone(name, train):
    """Radix and spline are monotone by construction (linear and loglinear trivially).

    Probed on ``[0, 1.1]``: the normalised input of a stage is never negative, and
    loglinear's ``log2`` approximation is only defined for ``1 + S x >= 1``.
    """
    _, x, y = train
    model = fit(name, {}, x, y)
    xs = np.sort(probe_points(np.random.default_rng(4)))
    xs = xs[xs >= 0.0]
    p = model.predict(xs)
    d = np.diff(p)
    scale = max(1.0, float(np.max(np.abs(p))))
    assert np.all(d >= -1e-12 * scale), (name, d.min())


def test_radix_and_spline_fit_unsorted_input():
    rng = np.random.default_rng(9)
    x = rng.random(300)
    y = x * 100
    order = np.argsort(x)
    for cls, kw in ((models.Radix, {"bits": 6}), (models.Spline, {"knots": 10})):
        a = cls.fit(x, y, **kw)
        b = cls.fit(x[order], y[order], **kw)
        xs = np.linspace(-0.1, 1.1, 100)
        np.testing.assert_array_equal(a.predict(xs), b.predict(xs))


def test_loglinear_helpers():
    from learnedidx.models.loglinear import log2_approx, log2_approx_scalar
    w = np.concatenate([np.array([1.0, 1.5, 2.0, 3.0, 1024.0, 2.0 ** 64, 1e300]),
                        1.0 + np.random.default_rng(0).random(200) * 1e6])
    arr = log2_approx(w)
    np.testing.assert_array_equal(bits(arr), bits([log2_approx_scalar(float(v)) for v in w]))
    # exact at powers of two, monotone everywhere
    np.testing.assert_array_equal(log2_approx(2.0 ** np.arange(0, 60)), np.arange(0, 60, dtype=np.float64))
    s = np.sort(w)
    assert np.all(np.diff(log2_approx(s)) >= 0)


# ---------------------------------------------------------------------- errors

def test_bad_model_parameters():
    x, y = np.linspace(0, 1, 10), np.arange(10.0)
    with pytest.raises(ValueError):
        models.Radix.fit(x, y, bits=27)
    with pytest.raises(ValueError):
        models.Radix.fit(x, y, bits=-1)
    with pytest.raises(ValueError):
        models.Radix(np.zeros(4))                       # not 2**bits + 1 entries
    with pytest.raises(ValueError):
        models.Radix(np.zeros(1))
    with pytest.raises(ValueError):
        models.Spline.fit(x, y, knots=1)
    with pytest.raises(ValueError):
        models.Spline([0.0, 0.0], [1.0, 2.0])            # not strictly increasing
    with pytest.raises(ValueError):
        models.Spline([0.0], [1.0])
    with pytest.raises(ValueError):
        models.Spline([0.0, 1.0], [1.0])


@pytest.mark.parametrize("bad", ["quadratic", "", "Linear", "MLP", None, 3, ("linear",)])
def test_get_model_unknown_name(bad):
    with pytest.raises(ValueError) as info:
        get_model(bad)
    msg = str(info.value)
    for name in NAMES:
        assert name in msg, msg


def test_get_model_unhashable_name():
    with pytest.raises(ValueError, match="linear"):
        get_model(["linear"])


def test_registry():
    assert set(MODELS) == set(NAMES) | {"mlp"}      # the MLP has its own tests (test_mlp.py)
    for name in NAMES:
        cls = get_model(name)
        assert cls is MODELS[name] and cls.name == name


@pytest.mark.parametrize("hidden", [(), (8,), (4, 8), [32]])
def test_mlp_param_bytes_is_the_fitted_size(hidden):
    x = np.linspace(0, 1, 200)
    model = MLP.fit(x, x ** 2 * 200, hidden=hidden, epochs=0)      # closed form: no torch
    assert model.nbytes == MLP.param_bytes(hidden=hidden, epochs=0)
    with pytest.raises(TypeError):
        MLP.param_bytes(hiden=(32,))                                # a typo is not ignored
