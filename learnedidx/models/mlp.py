"""Small neural network (multi-layer perceptron) model: 0, 1 or 2 ReLU hidden layers.

A network of one input (the normalised key ``t``) and one output (the position), with up
to two hidden layers of width at most :data:`MAX_WIDTH`.  It is *trained* with torch (CPU,
seeded, one thread, deterministic), then its weights are exported to float64 numpy arrays
and torch is never needed again: inference is a few dozen multiply-adds and ReLUs, in
numpy for the reference path and in C inside the compiled lookup kernels.

Why the accumulation order is spelled out: routing must agree bit for bit between the
numpy reference, the pure-Python scalar path and the C kernels, and a BLAS matmul sums
in an order of its own.  So every unit computes ``acc = b[j]``, then
``acc = acc + W[j, k] * h[k]`` for ``k = 0, 1, ...`` in order, with no fused multiply-add
(the kernels compile with ``-ffp-contract=off``); the numpy path does the same products
and sums column by column over a whole chunk of inputs at once (a matmul written out in
a fixed order), and ReLU is ``z if z > 0 else 0`` everywhere.

Training: the first layer's ReLU breakpoints are initialised at quantiles of the data
(so no unit starts dead outside ``[0, 1]``), Adam minimises the mean squared error on a
sample scaled to ``[0, 1]``, with a learning-rate decay, early stopping on a plateau and
a wall-clock budget; the output layer is finally re-fitted by float64 least squares on
the trained features (the exact optimum for them, which also removes float32 training
noise).  A network need not be monotone: the RMI's verified search keeps answers exact.
"""
from __future__ import annotations

import time
from typing import ClassVar

import numpy as np

from .base import KIND_MLP, as_float64

#: Widest hidden layer the compiled kernels evaluate (their scratch is on the stack).
MAX_WIDTH = 32
#: Rows per numpy chunk in :meth:`MLP.predict` (bounds the temporaries to a few MB).
_CHUNK = 1 << 15


def _check_hidden(hidden) -> tuple[int, ...]:
    if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
        hidden = (hidden,)
    try:
        widths = tuple(hidden)
    except TypeError:
        raise TypeError(f"hidden must be a list of layer widths such as [16], got {hidden!r}") from None
    if not all(isinstance(h, (int, np.integer)) and not isinstance(h, bool) for h in widths):
        raise TypeError(f"hidden must be a list of int layer widths such as [16], got {hidden!r}")
    widths = tuple(int(h) for h in widths)
    if len(widths) > 2 or any(not 1 <= h <= MAX_WIDTH for h in widths):
        raise ValueError(f"hidden must list 0, 1 or 2 layer widths in [1, {MAX_WIDTH}], got {list(hidden)!r}")
    return widths


class MLP:
    """ReLU network ``1 -> hidden... -> 1`` with float64 weights ``[(W, b), ...]``.

    ``W`` of layer ``l`` has shape ``(out, in)``; hidden layers apply ReLU, the output
    layer does not.  ``8 * (number of weights and biases)`` bytes.

    >>> m = MLP([(np.array([[1.0], [-1.0]]), np.array([0.0, 0.5])),
    ...          (np.array([[2.0, 4.0]]), np.array([1.0]))])
    >>> m.predict_scalar(0.25), m.predict(np.array([0.25, 1.0])).tolist(), m.nbytes
    (2.5, [2.5, 3.0], 56)
    """

    name: ClassVar[str] = "mlp"
    kind: ClassVar[int] = KIND_MLP

    def __init__(self, layers):
        self.layers = []
        prev = 1
        for W, b in layers:
            W = np.ascontiguousarray(as_float64(W)).copy()
            b = np.ascontiguousarray(as_float64(b)).copy()
            if W.ndim != 2 or W.shape[1] != prev or b.shape != (W.shape[0],) or not 1 <= W.shape[0] <= MAX_WIDTH:
                raise ValueError(f"MLP layer shapes do not chain: W {W.shape}, b {b.shape} after width {prev}")
            self.layers.append((W, b))
            prev = W.shape[0]
        if not 1 <= len(self.layers) <= 3 or prev != 1:
            raise ValueError("an MLP needs 0, 1 or 2 hidden layers and one output")
        self.hidden = tuple(W.shape[0] for W, _ in self.layers[:-1])
        self._lists = [(W.tolist(), b.tolist()) for W, b in self.layers]
        self.train_info: dict = {}

    # ------------------------------------------------------------------- training

    @classmethod
    def fit(cls, x, y, hidden=(16,), seed: int = 0, epochs: int = 500, time_budget: float | None = None,
            lr: float = 1e-4, patience: int = 100, sample: int = 10_000) -> "MLP":
        """Train on ``(x, y)`` pairs (``x`` in ``[0, 1]``) with torch; returns numpy weights.

        ``hidden``: widths of 0-2 hidden layers (each <= 32); ``epochs``: full-batch
        Adam steps at most, stopping early after ``patience`` steps without a 0.1%
        improvement (``epochs=0``: the closed-form start alone, see :func:`_init_hidden`,
        which needs no torch); ``sample``: at most this many evenly spaced pairs are used.  For a
        fixed ``seed`` the weights are identical run to run.  ``time_budget`` (seconds)
        also stops training when it runs out; as that depends on the machine's speed, a
        budget that fires makes the result machine-dependent (``train_info["stopped"]``
        says why training stopped).  Needs torch (the ``nn`` extra); nothing else in
        learnedidx does.

        Runtime complexity: ``O(epochs * sample * width^2)``.
        """
        widths = _check_hidden(hidden)
        for name, v in (("epochs", epochs), ("patience", patience), ("sample", sample), ("seed", seed)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < (0 if name in ("seed", "epochs") else 1):
                raise ValueError(f"{name} must be a non-negative int, got {v!r}")
        if not (lr > 0 and (time_budget is None or time_budget > 0)):
            raise ValueError("time_budget (seconds, or None) and lr must be positive")
        x, y = as_float64(x).ravel(), as_float64(y).ravel()
        if x.size != y.size:
            raise ValueError("x and y must have the same length")
        if x.size > sample:
            pick = np.unique(np.linspace(0, x.size - 1, sample).astype(np.int64))
            x, y = x[pick], y[pick]
        start = time.perf_counter()
        if x.size == 0:                     # nothing to fit: the zero network of that shape
            dims = [1, *widths, 1]
            zero = cls([(np.zeros((o, i)), np.zeros(o)) for i, o in zip(dims[:-1], dims[1:])])
            return cls._with_info(zero, start, 0, 0.0, "exact")
        if not widths:
            # no hidden layer: the network is linear; least squares is its exact optimum
            return cls._with_info(cls._output_fit(np.zeros((x.size, 0)), x, y, widths), start, 0, 0.0, "exact")
        y_lo = float(y.min())
        y_scale = float(y.max() - y_lo) or 1.0
        hidden_layers = _init_hidden(x, widths, seed)
        steps, stopped = 0, "epochs"
        if epochs:
            out = cls._output_fit(cls(hidden_layers + [_dummy_output(widths)])._features(x), x, y, widths,
                                  hidden_layers).layers[-1]
            layers, steps, stopped = _train_torch(x, (y - y_lo) / y_scale, hidden_layers + [out], y_lo, y_scale,
                                                  epochs, time_budget, lr, patience)
            hidden_layers = layers[:-1]
        # features of the last hidden layer in float64 (the inference arithmetic), then the
        # output layer (re-)fitted on them in the position's own units
        feats = cls(hidden_layers + [_dummy_output(widths)])._features(x)
        fitted = cls._output_fit(feats, x, y, widths, hidden_layers)
        loss = float(np.mean(((fitted.predict(x) - y) / y_scale) ** 2))
        return cls._with_info(fitted, start, steps, loss, stopped)

    @classmethod
    def _output_fit(cls, feats, x, y, widths, hidden_layers=()):
        """The model whose output layer is the least-squares fit of ``y`` on ``feats``."""
        if not widths:
            A = np.column_stack([x, np.ones_like(x)])
        else:
            A = np.column_stack([feats, np.ones(x.size)])
        if x.size:
            coef = np.linalg.lstsq(A, y, rcond=None)[0]
        else:
            coef = np.zeros(A.shape[1])
        coef = np.where(np.isfinite(coef), coef, 0.0)
        return cls(list(hidden_layers) + [(coef[None, :-1], coef[-1:])])

    @classmethod
    def _with_info(cls, model, start, steps, loss, stopped):
        model.train_info = {"seconds": time.perf_counter() - start, "epochs": int(steps), "loss": float(loss),
                            "stopped": stopped}
        return model

    # ------------------------------------------------------------------ inference

    def _features(self, x: np.ndarray) -> np.ndarray:
        """Activations of the last hidden layer (``x`` itself without hidden layers)."""
        out = []
        for i in range(0, x.size, _CHUNK):
            h = x[i:i + _CHUNK, None]
            for W, b in self.layers[:-1]:
                h = _relu(_dense(h, W, b))
            out.append(h)
        return np.concatenate(out) if out else np.zeros((0, self.layers[-1][0].shape[1]))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Network output for every element of ``x``, in the documented operation order."""
        x = as_float64(x)
        flat = x.reshape(-1)
        out = np.empty(flat.size)
        W_out, b_out = self.layers[-1]
        for i in range(0, flat.size, _CHUNK):
            h = flat[i:i + _CHUNK, None]
            for W, b in self.layers[:-1]:
                h = _relu(_dense(h, W, b))
            out[i:i + _CHUNK] = _dense(h, W_out, b_out)[:, 0]
        return out.reshape(x.shape)

    def predict_scalar(self, x: float) -> float:
        """:meth:`predict` for one Python float (same operations, same order)."""
        h = [x]
        last = len(self._lists) - 1
        for li, (W, b) in enumerate(self._lists):
            nxt = []
            for j, row in enumerate(W):
                acc = b[j]
                for k, w in enumerate(row):
                    acc = acc + w * h[k]
                nxt.append(acc if li == last or acc > 0.0 else 0.0)
            h = nxt
        return h[0]

    # ----------------------------------------------------------------- parameters

    @classmethod
    def from_params(cls, params) -> "MLP":
        n = len(params) // 2
        if len(params) != 2 * n or set(params) != {f"{p}{i}" for i in range(n) for p in ("w", "b")}:
            raise ValueError(f"MLP parameters must be w0, b0, w1, b1, ...; got {sorted(params)}")
        return cls([(params[f"w{i}"], params[f"b{i}"]) for i in range(n)])

    @classmethod
    def from_kernel_params(cls, vec, size: int) -> "MLP":
        """Inverse of :meth:`kernel_params` (validated: a wrong length raises ValueError)."""
        vec = as_float64(vec)
        h1, h2 = int(size) & 255, (int(size) >> 8) & 255
        if int(size) >> 16 or int(size) < 0 or h1 > MAX_WIDTH or h2 > MAX_WIDTH or (h1 == 0 and h2):
            raise ValueError(f"invalid MLP width code {size}")
        dims = [1] + [h for h in (h1, h2) if h] + [1]
        need = sum(o * i + o for i, o in zip(dims[:-1], dims[1:]))
        if vec.shape != (need,):
            raise ValueError(f"MLP parameter vector of {vec.size} values, expected {need}")
        layers, at = [], 0
        for i, o in zip(dims[:-1], dims[1:]):
            layers.append((vec[at:at + o * i].reshape(o, i), vec[at + o * i:at + o * i + o]))
            at += o * i + o
        return cls(layers)

    def params(self) -> dict[str, np.ndarray]:
        out = {}
        for i, (W, b) in enumerate(self.layers):
            out[f"w{i}"], out[f"b{i}"] = W.copy(), b.copy()
        return out

    def kernel_params(self) -> tuple[np.ndarray, int]:
        """Each layer's ``W`` (row-major) then ``b``; size encodes the widths ``h1 | h2 << 8``."""
        vec = np.concatenate([np.concatenate([W.ravel(), b]) for W, b in self.layers])
        h = self.hidden + (0, 0)
        return vec, h[0] | (h[1] << 8)

    @property
    def nbytes(self) -> int:
        return int(sum(W.nbytes + b.nbytes for W, b in self.layers))

    @classmethod
    def param_bytes(cls, hidden=(16,), seed: int = 0, epochs: int = 500, time_budget: float | None = None,
                    lr: float = 1e-4, patience: int = 100, sample: int = 10_000) -> int:
        """Float64 weights and biases of ``1 -> hidden... -> 1``; takes :meth:`fit`'s
        parameters (the training ones do not change the size).

        >>> MLP.param_bytes(hidden=[16]), MLP.param_bytes(hidden=[8, 4], seed=3)
        (392, 456)
        """
        sizes = [1, *_check_hidden(hidden), 1]
        return 8 * sum(a * b + b for a, b in zip(sizes, sizes[1:]))

    def __repr__(self) -> str:
        return f"MLP(hidden={list(self.hidden)})"


def _dense(h: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``b + W h`` for a chunk of rows, summed over inputs in order (see the module doc)."""
    acc = np.broadcast_to(b, (h.shape[0], b.size)).copy()
    for k in range(W.shape[1]):
        acc = acc + h[:, k:k + 1] * W[:, k]
    return acc


def _relu(z: np.ndarray) -> np.ndarray:
    return np.where(z > 0.0, z, 0.0)


def _dummy_output(widths):
    return np.zeros((1, widths[-1])), np.zeros(1)


def _init_hidden(x: np.ndarray, widths, seed: int) -> list:
    """Hidden layers before training (numpy, seeded): hinges then random layers.

    The first layer's units are ``relu((t - q_j) / s_j)`` with knots ``q_j`` at quantiles
    of ``x`` and ``s_j`` their local spacing: a well-scaled linear-spline basis even for
    very skewed keys, so no unit starts dead outside the data and the least-squares
    output layer alone already gives a spline fit.  A second layer starts random.
    """
    rng = np.random.default_rng(seed)
    h = widths[0]
    q = np.quantile(x, np.arange(h) / h)
    nxt = np.append(q[1:], x.max())
    span = float(x.max() - x.min())
    s = np.maximum(nxt - q, max(span / (64.0 * h), 1e-9))     # floor: no overflow on a point mass
    w = 1.0 / s
    layers = [(w[:, None], -q * w)]
    if len(widths) == 2:
        # identity on the first units (ReLU of non-negative inputs passes them through), so
        # the deeper net starts as the same spline and training can only refine it; the
        # other weights start small and random
        h2 = widths[1]
        W2 = rng.uniform(-0.01, 0.01, (h2, h))
        k = min(h, h2)
        W2[np.arange(k), np.arange(k)] += 1.0
        layers.append((W2, np.zeros(h2)))
    return layers


def _train_torch(x, y, layers, y_lo, y_scale, epochs, time_budget, lr, patience):
    """Full-batch Adam from ``layers`` on a float32 torch copy, against ``y`` scaled to
    ``[0, 1]``; returns ``([(W, b), ...], steps, stopped)``.  Needs torch."""
    try:
        import torch
    except ImportError:
        raise ImportError("training an MLP model needs torch: pip install 'learnedidx[nn]' "
                          "(or epochs=0 for the closed-form fit)") from None
    threads = torch.get_num_threads()
    torch.set_num_threads(1)               # one thread: reductions in a fixed order
    try:
        mods = []
        for i, (W, b) in enumerate(layers):
            lin = torch.nn.Linear(W.shape[1], W.shape[0])
            with torch.no_grad():
                scale = 1.0 / y_scale if i == len(layers) - 1 else 1.0
                lin.weight.copy_(torch.tensor(W * scale, dtype=torch.float32))
                lin.bias.copy_(torch.tensor((b - y_lo) * scale if i == len(layers) - 1 else b,
                                            dtype=torch.float32))
            mods += [lin, torch.nn.ReLU()]
        net = torch.nn.Sequential(*mods[:-1])
        xt = torch.tensor(x, dtype=torch.float32)[:, None]
        yt = torch.tensor(y, dtype=torch.float32)[:, None]
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=max(1, patience // 4))
        deadline = None if time_budget is None else time.perf_counter() + time_budget
        best, best_state, since, step, stopped = float("inf"), None, 0, 0, "epochs"
        for step in range(1, epochs + 1):
            opt.zero_grad()
            loss = torch.mean((net(xt) - yt) ** 2)
            loss.backward()
            value = float(loss.detach())
            if value < best * 0.999:
                best, since = value, 0
                best_state = [p.detach().clone() for p in net.parameters()]
            else:
                since += 1
            if since >= patience:
                stopped = "plateau"
                break
            if deadline is not None and time.perf_counter() > deadline:
                stopped = "time_budget"
                break
            opt.step()
            sched.step(value)
        if best_state is not None:
            with torch.no_grad():
                for p, v in zip(net.parameters(), best_state):
                    p.copy_(v)
        linears = [m for m in net if isinstance(m, torch.nn.Linear)]
        out = [(m.weight.detach().double().numpy().copy(), m.bias.detach().double().numpy().copy())
               for m in linears]
        return out, step, stopped
    finally:
        torch.set_num_threads(threads)
