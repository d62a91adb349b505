"""Neural-network stages: the MLP model, MLP roots and middle stages, exactness, determinism.

The three inference paths (numpy reference, pure-Python scalar, C kernel) must agree bit
for bit; the RMI built on an MLP (often non-monotone) must still answer exactly; training
is deterministic for a seed; and nothing but training imports torch.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import KEY_DTYPES, dtype_id, key_queries, sorted_keys
from hypothesis import given, settings
from hypothesis import strategies as st

from index_impls import assert_matches_numpy
from learnedidx import RMI
from learnedidx.models import MLP, get_model
from learnedidx.models.mlp import MAX_WIDTH

rmi_kernel = pytest.importorskip("learnedidx._kernels.rmi_kernel")

#: Small, fast training settings for the property tests.
FAST = {"epochs": 3, "sample": 300}
SHAPES = [(), (1,), (5,), (MAX_WIDTH,), (3, 7), (MAX_WIDTH, MAX_WIDTH)]


def random_mlp(hidden, seed) -> MLP:
    rng = np.random.default_rng(seed)
    dims = [1, *hidden, 1]
    return MLP([(rng.normal(0, 3, (o, i)), rng.normal(0, 1, o)) for i, o in zip(dims[:-1], dims[1:])])


@pytest.mark.parametrize("hidden", SHAPES, ids=str)
def test_three_inference_paths_agree_bit_for_bit(hidden):
    m = random_mlp(hidden, seed=len(hidden) * 31 + sum(hidden))
    t = np.concatenate([np.linspace(0, 1, 2001), np.random.default_rng(1).random(2000), [0.0, 1.0, 1e-300]])
    ref = m.predict(t)
    vec, size = m.kernel_params()
    out = np.empty(t.size)
    rmi_kernel.predict_many(m.kind, vec, size, t, out)
    np.testing.assert_array_equal(out, ref)
    assert [m.predict_scalar(v) for v in t[:300].tolist()] == ref[:300].tolist()
    again = MLP.from_params(m.params())
    np.testing.assert_array_equal(again.predict(t), ref)
    np.testing.assert_array_equal(MLP.from_kernel_params(vec, size).predict(t), ref)
    assert m.nbytes == vec.nbytes


def test_training_is_deterministic_for_a_seed():
    pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = np.sort(rng.random(3000))
    y = np.cumsum(rng.lognormal(0, 1, 3000))
    for hidden in ([8], [4, 4]):
        a = MLP.fit(x, y, hidden=hidden, epochs=40, seed=3)
        b = MLP.fit(x, y, hidden=hidden, epochs=40, seed=3)
        for (wa, ba), (wb, bb) in zip(a.layers, b.layers):
            np.testing.assert_array_equal(wa, wb)
            np.testing.assert_array_equal(ba, bb)
        assert a.train_info["epochs"] >= 1 and a.train_info["stopped"] in ("epochs", "plateau")


def test_closed_form_fit_beats_a_line_and_needs_no_torch():
    x = np.sort(np.random.default_rng(2).random(5000))
    y = np.sqrt(x) * 1000
    lin = MLP.fit(x, y, hidden=[])
    net = MLP.fit(x, y, hidden=[16], epochs=0)
    err = lambda m: float(np.abs(m.predict(x) - y).mean())      # noqa: E731
    assert err(net) < err(lin) / 10
    assert net.train_info["epochs"] == 0


@pytest.mark.parametrize("bad, exc", [([33], ValueError), ([1, 2, 3], ValueError), (["a"], TypeError),
                                      ([0], ValueError), (object(), TypeError), ([True], TypeError)])
def test_bad_hidden_sizes_are_rejected(bad, exc):
    with pytest.raises(exc, match="hidden"):
        MLP.fit(np.linspace(0, 1, 10), np.arange(10.0), hidden=bad)


def test_bad_training_settings_and_parameters_are_rejected():
    x = np.linspace(0, 1, 10)
    with pytest.raises(ValueError, match="epochs"):
        MLP.fit(x, x, epochs=-1)
    with pytest.raises(ValueError, match="time_budget"):
        MLP.fit(x, x, time_budget=0)
    with pytest.raises(ValueError, match="w0, b0"):
        MLP.from_params({"w0": np.ones((1, 1))})
    with pytest.raises(ValueError, match="chain"):
        MLP.from_params({"w0": np.ones((4, 1)), "b0": np.ones(4), "w1": np.ones((1, 3)), "b1": np.ones(1)})
    with pytest.raises(ValueError, match="expected"):
        MLP.from_kernel_params(np.ones(5), 2)
    with pytest.raises(ValueError, match="expected"):
        rmi_kernel.predict_many(MLP.kind, np.ones(5), 2, np.zeros(1), np.zeros(1))
    with pytest.raises(ValueError, match="width code"):
        MLP.from_kernel_params(np.ones(5), 40)


def test_registry_knows_mlp():
    assert get_model("mlp") is MLP


# ---------------------------------------------------------------- RMI with MLP stages

CONFIGS = [
    {"root": "mlp", "root_params": {"hidden": [8], **FAST}},
    {"root": "mlp", "root_params": {"hidden": [4, 4], **FAST}},
    {"root": "mlp", "root_params": {"hidden": [], "epochs": 0}},
    {"root": "mlp", "root_params": {"hidden": [16], "epochs": 0}, "max_error": 4},
    {"root": "mlp", "root_params": {"hidden": [8], "epochs": 0}, "stages": 3},
    {"root": "radix", "stages": 3, "middle_model": "mlp"},
    {"root": "linear", "stages": 3, "middle_model": "mlp", "middle_params": {"hidden": [3, 2]}, "middle": 5},
    {"root": "cubic", "stages": 3, "middle_model": "mlp", "max_error": 2},
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
@pytest.mark.parametrize("dtype", KEY_DTYPES, ids=dtype_id)
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_mlp_rmi_is_exact(backend, dtype, cfg, data):
    if cfg.get("root_params", {}).get("epochs", 0):
        pytest.importorskip("torch")
    keys = data.draw(sorted_keys(dtype, max_size=1500), label="keys")
    leaves = data.draw(st.sampled_from([1, 7, 64]), label="leaves")
    idx = RMI(keys, leaves=leaves, backend=backend, **cfg)
    idx._check()
    assert_matches_numpy(idx, keys, data.draw(key_queries(keys), label="queries"), n_scalar=10)
    loaded = RMI._from_state(*idx._state(), backend=backend)
    loaded._check()
    q = np.ascontiguousarray(keys[::3])
    np.testing.assert_array_equal(loaded.searchsorted(q), np.searchsorted(keys, q))


@pytest.mark.parametrize("cfg", CONFIGS[2:], ids=str)
def test_kernel_routes_like_the_reference(cfg):
    """Same leaf and window from the numpy reference, the scalar path and the kernels."""
    rng = np.random.default_rng(8)
    keys = np.sort(rng.lognormal(0, 2, 30_000) * 1e6).astype(np.uint64)
    ref, comp = RMI(keys, leaves=300, backend="numpy", **cfg), RMI(keys, leaves=300, backend="compiled", **cfg)
    q = np.concatenate([keys[::5], rng.integers(0, int(keys[-1]) + 10, 3000, dtype=np.uint64)])
    leaf_r, lo_r, hi_r = ref._windows(q)
    got = [np.empty(q.size, np.int64) for _ in range(3)]
    comp._kernel.windows_batch(q, *got)
    for a, b in zip(got, (leaf_r, lo_r, hi_r)):
        np.testing.assert_array_equal(a, b)
    for i, v in enumerate(q[:200].tolist()):
        assert ref._window_scalar(v) == comp._kernel.window(v) == (int(leaf_r[i]), int(lo_r[i]), int(hi_r[i]))


def test_non_monotone_network_stays_exact_and_reports_fallbacks():
    """A deliberately non-monotone root: every answer exact, the repairs counted."""
    keys = np.arange(20_000, dtype=np.int64) ** 2          # curved: leaf models do not extrapolate
    idx = RMI(keys, root="mlp", root_params={"hidden": [4], "epochs": 0}, leaves=64)
    # replace the root by a zig-zag network and rebuild from the state (no refit)
    meta, arrays = idx._state()
    # a tent: leaves 0..63 over the first half of the keys, then back down to 0
    zig = MLP([(np.array([[1.0], [1.0]]), np.array([0.0, -0.5])), (np.array([[126.0, -252.0]]), np.zeros(1))])
    arrays = {k: v for k, v in arrays.items() if not k.startswith("root.")}
    arrays.update({"root." + k: v for k, v in zig.params().items()})
    meta["monotone"] = False
    bad = RMI._from_state(meta, arrays)
    q = np.concatenate([keys, keys + 1, [-5, 2 ** 40]])
    np.testing.assert_array_equal(bad.searchsorted(q), np.searchsorted(keys, q))
    assert bad.stats()["fallbacks"] > 0
    fresh = RMI(keys, root="mlp", root_params={"hidden": [8], "epochs": 0}, leaves=64)
    fresh._check()
    assert fresh.stats()["root_training"]["epochs"] == 0


def test_middle_model_arguments_are_checked():
    keys = np.arange(100, dtype=np.int64)
    with pytest.raises(ValueError, match="stages=3"):
        RMI(keys, middle_model="mlp")
    with pytest.raises(ValueError, match="middle_model"):
        RMI(keys, stages=3, middle_model="cubic")
    with pytest.raises(ValueError, match="max_error"):
        RMI(keys, max_error=0)


def test_import_query_and_state_never_import_torch():
    code = textwrap.dedent("""
        import sys, numpy as np, learnedidx
        from learnedidx import RMI
        keys = np.sort(np.random.default_rng(0).integers(0, 10**9, 50_000))
        idx = RMI(keys, stages=3, middle_model="mlp", max_error=16)
        net = RMI(keys, root="mlp", root_params={"hidden": [8], "epochs": 0})
        for i in (idx, net):
            again = RMI._from_state(*i._state())
            assert again.searchsorted(int(keys[7])) == 7
            i.stats()
        assert "torch" not in sys.modules, "torch was imported"
    """)
    subprocess.run([sys.executable, "-c", code], check=True)
