"""Plots of benchmark results (matplotlib, imported only when a plot is made).

1. :func:`pareto_plot`: ns per lookup against index bytes (log x), one point per
   configuration, one panel per mode: SOSD's size/speed Pareto plots.
2. :func:`cdf_fit_plot`: the dataset's CDF with the RMI's piecewise fit and its
   error band, plus a zoom on the leaf with the widest window.
3. :func:`tune_plot`: the auto-tuner's candidates and Pareto front, estimated ns per
   lookup against model bytes, the chosen configuration marked.
"""
from __future__ import annotations

import os

import numpy as np


def _pyplot():
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError("plots need matplotlib: pip install learnedidx[bench]") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def pareto_plot(rows: list[dict], path: str) -> str:
    """ns/lookup vs index bytes for every row of one dataset; returns the PNG path."""
    plt = _pyplot()
    modes = [m for m in ("batch", "scalar") if any(r["mode"] == m for r in rows)]
    fig, axes = plt.subplots(1, len(modes), figsize=(6.5 * len(modes), 4.8), squeeze=False)
    families = sorted({r["index"].split("(")[0] for r in rows})
    markers = dict(zip(families, "os^Dv<>phX*"))
    for ax, mode in zip(axes[0], modes):
        for fam in families:
            pts = [r for r in rows if r["mode"] == mode and r["index"].split("(")[0] == fam]
            if not pts:
                continue
            x = [max(r["bytes"], 1) for r in pts]
            y = [r["ns"]["median"] for r in pts]
            ax.scatter(x, y, marker=markers[fam], s=50, label=fam)
            for r, xi, yi in zip(pts, x, y):
                if "(" in r["index"]:
                    ax.annotate(r["index"][len(fam):].strip("()"), (xi, yi), fontsize=6,
                                xytext=(3, 3), textcoords="offset points")
        _log_x_axes(ax, "index bytes (log; 1 = no structure)", "ns per lookup (median)",
                    f"{rows[0]['dataset']}, n={rows[0]['n']:,}: {mode}", legend_size=8)
    return _save(plt, fig, path)


def _log_x_axes(ax, xlabel: str, ylabel: str, title: str, legend_size: float) -> None:
    """Bytes on a log x axis, labels, grid and legend: the look every plot here shares."""
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=legend_size)


def _save(plt, fig, path: str, dpi: int = 120) -> str:
    """Lay out, write and close ``fig``; returns ``path``."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def cdf_fit_plot(keys: np.ndarray, rmi, path: str, sample: int = 20_000) -> str:
    """The CDF, the RMI's predicted positions and error band, and a zoom on the worst leaf."""
    plt = _pyplot()
    n = keys.size
    pick = np.unique(np.linspace(0, n - 1, min(n, sample)).astype(np.int64))
    leaf, pos, lo, hi = rmi.predict(keys[pick])
    if getattr(rmi, "leaf_model", "linear") == "fences":   # no per-leaf bound: the widest sampled window's leaf
        worst = int(leaf[np.argmax(hi - lo)])
        width = {worst: int((hi - lo).max())}
    else:
        rec = rmi._leaves
        width = rec["ehi"].astype(np.int64) - rec["elo"]
        worst = int(np.argmax(width))
    all_leaf, _, _, _ = rmi.predict(keys)
    members = np.flatnonzero(all_leaf == worst)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 4.8))
    x = keys[pick].astype(np.float64)
    a1.fill_between(x, lo, hi, color="tab:orange", alpha=0.3, step="mid", label="search window")
    a1.plot(x, pick, color="black", lw=1, label="CDF (true position)")
    a1.plot(x, pos, color="tab:blue", lw=0.8, label="RMI prediction")
    a1.set_xlabel("key")
    a1.set_ylabel("position")
    a1.set_title(f"{rmi.root_name} root, {rmi.n_leaves:,} leaves, avg log2 window "
                 f"{rmi.stats()['avg_log2_window']:.2f}")
    a1.legend(fontsize=8)
    if members.size:
        sel = members[np.unique(np.linspace(0, members.size - 1, min(members.size, sample)).astype(np.int64))]
        _, p2, lo2, hi2 = rmi.predict(keys[sel])
        x2 = keys[sel].astype(np.float64)
        a2.fill_between(x2, lo2, hi2, color="tab:orange", alpha=0.3, step="mid", label="search window")
        a2.plot(x2, sel, color="black", lw=1, label="CDF")
        a2.plot(x2, p2, color="tab:blue", lw=0.8, label="leaf model")
        a2.set_title(f"worst leaf {worst}: {members.size:,} keys, window {int(width[worst]):,}")
        a2.set_xlabel("key")
        a2.legend(fontsize=8)
    return _save(plt, fig, path)


def tune_plot(result, path: str, title: str = "") -> str:
    """Estimated ns/lookup vs model bytes of a :func:`learnedidx.tune` result; returns the PNG path."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5.2))
    others = [c for c in result.candidates if c.refined and c not in result.front]
    ax.scatter([c.nbytes for c in others], [c.est_ns for c in others], s=12, color="0.75", label="measured")
    front = sorted(result.front, key=lambda c: c.nbytes)
    ax.plot([c.nbytes for c in front], [c.est_ns for c in front], "o-", color="tab:blue", ms=5, label="Pareto front")
    for c in front:
        ax.annotate(c.label(), (c.nbytes, c.est_ns), fontsize=5.5, xytext=(3, 3), textcoords="offset points")
    b = result.best_candidate
    ax.scatter([b.nbytes], [b.est_ns], marker="*", s=260, color="tab:red", zorder=5,
               label=f"chosen ({result.target}): {b.label()}")
    if result.max_bytes is not None:
        ax.axvline(result.max_bytes, color="tab:red", ls="--", lw=0.8, label=f"max_bytes {result.max_bytes:,}")
    _log_x_axes(ax, "model bytes (log)", "estimated ns per lookup (batch)",
                f"{title + ': ' if title else ''}n={result.n:,}, cost model {result.cost_model.source}", legend_size=7)
    return _save(plt, fig, path)


def plot_all(rows: list[dict], keys_by_dataset: dict, out_dir: str) -> list[str]:
    """Both plots for every dataset in ``rows``; returns the PNG paths."""
    from learnedidx import RMI
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for ds in dict.fromkeys(r["dataset"] for r in rows):
        safe = os.path.basename(str(ds)).replace(".", "_")
        paths.append(pareto_plot([r for r in rows if r["dataset"] == ds], os.path.join(out_dir, f"{safe}_pareto.png")))
        keys = keys_by_dataset[ds]
        paths.append(cdf_fit_plot(keys, RMI(keys), os.path.join(out_dir, f"{safe}_cdf_fit.png")))
    return paths
