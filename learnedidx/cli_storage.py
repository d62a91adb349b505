"""The ``build``, ``inspect`` and ``query`` subcommands of the ``learnedidx`` command.

``learnedidx build KEYS [--values FILE] -o OUT.lidx`` builds an RMI (or, with values,
a KeyValueIndex) from an SOSD or ``.npy`` key file (or a synthetic dataset name) and
saves it; ``learnedidx inspect OUT.lidx [--plot DIR]`` prints the header, the section
table, the model configuration and its error statistics; ``learnedidx query OUT.lidx
KEY... [--keys-file F]`` answers lookups from the memory-mapped file.  Like the rest
of the CLI, a user's mistake (including a damaged file) ends with one line on stderr
and exit status 2.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import time

import numpy as np

from .cli import UserError


def add_parsers(sub) -> None:
    """Register the three subcommands on an ``argparse`` subparsers object."""
    b = sub.add_parser("build", help="build an index (and values) from a key file and save it",
                       description="Build an RMI over the keys (a KeyValueIndex with --values) and save it "
                                   "in the learnedidx file format.")
    b.add_argument("keys", metavar="KEYS", help="SOSD file, .npy file, or a synthetic dataset name")
    b.add_argument("--values", metavar="FILE", help=".npy file of fixed-width values, one row per key")
    b.add_argument("-o", "--output", required=True, metavar="OUT.lidx", help="file to write (atomically)")
    b.add_argument("--dtype", choices=("uint32", "uint64"), help="key width of SOSD files without a suffix")
    b.add_argument("--n", type=int, help="number of keys of a synthetic dataset (default 1,000,000)")
    b.add_argument("--seed", type=int, default=42)
    b.add_argument("--sort", action="store_true", help="sort the keys (and values) first")
    b.add_argument("--duplicates", choices=("error", "keep"), default="error",
                   help="with --values: refuse equal keys (default) or keep them all")
    b.add_argument("--index", metavar="PARAM=VALUE[,...]", help="RMI parameters, e.g. root=cubic,leaves=65536")
    b.add_argument("--quiet", action="store_true", help="no progress display")

    i = sub.add_parser("inspect", help="describe a saved index: header, sections, model, errors")
    i.add_argument("path", metavar="FILE")
    i.add_argument("--plot", metavar="DIR", help="write the error histogram (PNG) here")
    i.add_argument("--no-verify", action="store_true", help="skip the checksums of the large sections")
    i.add_argument("--json", action="store_true", help="print everything as JSON")

    q = sub.add_parser("query", help="look keys up in a saved index")
    q.add_argument("path", metavar="FILE")
    q.add_argument("query_keys", metavar="KEY", nargs="*", help="keys to look up")
    q.add_argument("--keys-file", metavar="F", help=".npy file or text file (one key per line) of keys")
    q.add_argument("--no-mmap", action="store_true", help="read the file into memory instead of mapping it")


COMMANDS = {"build": lambda args: build(args), "inspect": lambda args: inspect(args),
            "query": lambda args: query(args)}


# ---------------------------------------------------------------------- build

class _Steps:
    """Progress of a few long steps on stderr: a rich bar on a terminal, else one line per step."""

    def __init__(self, total: int, quiet: bool):
        self.total, self.quiet, self.done, self.t0 = total, quiet, 0, time.perf_counter()
        self._bar = self._task = None
        if not quiet and sys.stderr.isatty():
            with contextlib.suppress(ImportError):
                from rich.console import Console
                from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
                self._bar = Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                                     console=Console(stderr=True), transient=True)
                self._bar.start()
                self._task = self._bar.add_task("", total=total)

    def step(self, what: str) -> None:
        self.done += 1
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.update(self._task, description=f"[{self.done}/{self.total}] {what}", completed=self.done - 1)
        else:
            print(f"[{self.done}/{self.total}] {what} (t={time.perf_counter() - self.t0:.1f}s)", file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _parse_params(text: str | None) -> dict | None:
    if not text:
        return None
    out = {}
    for part in text.split(","):
        key, sep, raw = part.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--index expects PARAM=VALUE[,...], got {part!r}")
        try:
            out[key.strip()] = json.loads(raw)
        except ValueError:
            out[key.strip()] = raw
    return out


def _load_keys(args):
    from learnedidx.bench import datasets
    if args.values and args.n is not None:
        raise UserError("--n samples the keys, which would separate them from --values; drop --n")
    try:
        keys, _ = datasets.load(args.keys, args.n, args.seed, args.dtype)
    except (ValueError, TypeError, ImportError, OSError) as exc:
        raise UserError(str(exc)) from None
    return keys


def build(args) -> int:
    """``learnedidx build``: keys (and values) in, one saved index out."""
    from learnedidx import RMI, KeyValueIndex, save
    if args.n is not None and args.n < 1:
        raise UserError(f"--n must be at least 1, got {args.n}")
    params = _parse_params(args.index)
    steps = _Steps(4, args.quiet)
    try:
        steps.step(f"reading keys from {args.keys}")
        keys = _load_keys(args)
        values = None
        if args.values:
            steps.step(f"reading values from {args.values}")
            try:
                values = np.load(args.values, mmap_mode="r", allow_pickle=False)
            except (ValueError, OSError) as exc:
                raise UserError(f"{args.values}: {exc}") from None
        else:
            steps.step("no values: the file will hold the index only")
        steps.step(f"building the index over {keys.size:,} {keys.dtype} keys")
        try:
            if values is not None:
                obj = KeyValueIndex.build(keys, values, sort=args.sort, duplicates=args.duplicates, index=params)
            else:
                if args.sort:
                    keys = np.sort(keys)
                obj = RMI(keys, **(params or {})) if params or not hasattr(RMI, "auto") else RMI.auto(keys)
        except (ValueError, TypeError) as exc:
            raise UserError(str(exc)) from None
        steps.step(f"writing {args.output}")
        try:
            save(obj, args.output)
        except OSError as exc:
            raise UserError(f"cannot write {args.output}: {exc}") from None
    finally:
        steps.close()
    size = os.path.getsize(args.output)
    print(f"wrote {args.output}: {type(obj).__name__} over {len(obj):,} keys, {size:,} bytes "
          f"({size / max(keys.nbytes, 1):.3f} x the raw key bytes)")
    return 0


# ---------------------------------------------------------------------- inspect

def _open(path: str, mmap: bool = True, verify: bool | None = None):
    from learnedidx import FormatError, load
    try:
        return load(path, mmap=mmap, verify=verify)
    except (FormatError, OSError) as exc:
        raise UserError(str(exc)) from None


def _rmi_of(obj):
    from learnedidx import RMI
    if isinstance(obj, RMI):
        return obj
    index = getattr(obj, "index", None)
    return index if isinstance(index, RMI) else None


def _key_errors(rmi, limit: int = 1_000_000) -> np.ndarray:
    """Signed errors ``true position - predicted position`` of up to ``limit`` evenly spaced keys."""
    keys = rmi.keys
    pick = np.unique(np.linspace(0, keys.size - 1, min(limit, keys.size)).astype(np.int64)) if keys.size else \
        np.zeros(0, dtype=np.int64)
    _, pos, _, _ = rmi.predict(keys[pick])
    return np.searchsorted(keys, keys[pick]) - pos


def _plot_errors(rmi, directory: str, name: str) -> str:
    from learnedidx.bench.plots import _pyplot, _save
    plt = _pyplot()
    err = _key_errors(rmi)
    mag = np.abs(err)
    bucket = np.zeros(mag.shape, dtype=np.int64)     # 0, 1, 2-3, 4-7, ...: floor(log2(|e|)) + 1
    nz = mag > 0
    bucket[nz] = np.floor(np.log2(mag[nz])).astype(np.int64) + 1
    counts = np.bincount(bucket, minlength=1)
    labels = ["0"] + [f"{1 << (b - 1)}" if b == 1 else f"{1 << (b - 1)}-{(1 << b) - 1}" for b in range(1, counts.size)]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * counts.size), 4.2))
    ax.bar(range(counts.size), counts / max(err.size, 1) * 100)
    ax.set_xticks(range(counts.size), labels, rotation=45, ha="right")
    ax.set_xlabel("|true position - predicted position| (keys; power-of-two buckets)")
    ax.set_ylabel("% of keys")
    ax.set_title(f"{name}: prediction errors of {err.size:,} keys (max {int(mag.max(initial=0)):,})")
    os.makedirs(directory, exist_ok=True)
    return _save(plt, fig, os.path.join(directory, f"{name}_errors.png"), dpi=110)


def inspect(args) -> int:
    """``learnedidx inspect``: header, sections, model configuration and error statistics."""
    from learnedidx import FormatError
    from learnedidx.storage import info
    verify = not args.no_verify
    obj = _open(args.path, verify=verify)     # verifies checksums and the verified sections' content
    try:
        desc = info(args.path, verify=False)  # the header again, without reading every section twice
    except (FormatError, OSError) as exc:
        raise UserError(str(exc)) from None
    desc["verified"] = verify or desc["verified"]
    stats = obj.stats() if hasattr(obj, "stats") else {}
    desc["stats"] = stats
    rmi = _rmi_of(obj)
    if args.plot:
        if rmi is None:
            raise UserError(f"a {desc['type']} has no model errors to plot")
        try:
            desc["plot"] = _plot_errors(rmi, args.plot, os.path.splitext(os.path.basename(args.path))[0])
        except ImportError as exc:
            raise UserError(str(exc)) from None
    if args.json:
        print(json.dumps(desc, indent=1, default=str))
        return 0
    key_bytes = next((s["nbytes"] for s in desc["sections"] if s["name"].split(".")[-1] == "keys"), 0)
    print(f"{desc['path']}: {desc['type']} (format version {desc['format_version']}, written by {desc['writer']})")
    print(f"  file {desc['file_bytes']:,} bytes = {desc['file_bytes'] / max(key_bytes, 1):.3f} x the key bytes; "
          f"header {desc['header_bytes']:,} bytes; checksums "
          f"{'all verified' if desc['verified'] else 'of the large sections not verified'}")
    print(f"  {'section':<22} {'dtype':<28} {'shape':<14} {'bytes':>14} {'offset':>14}  crc32")
    for s in desc["sections"]:
        print(f"  {s['name']:<22} {s['dtype'][:28]:<28} {str(tuple(s['shape'])):<14} {s['nbytes']:>14,} "
              f"{s['offset']:>14,}  {s['crc32']}")
    meta = {k: v for k, v in desc["meta"].items() if not isinstance(v, dict)}
    print("  configuration: " + json.dumps(meta))
    for k, v in desc["meta"].items():
        if isinstance(v, dict):
            print(f"  {k} configuration: " + json.dumps(v))
    flat = dict(stats)
    nested = flat.pop("index", None)
    if isinstance(nested, dict):
        flat.update({f"index.{k}": v for k, v in nested.items()})
    if flat:
        print("  statistics: " + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                                           for k, v in flat.items()))
    if "plot" in desc:
        print(f"  error histogram: {desc['plot']}")
    return 0


# ---------------------------------------------------------------------- query

def _parse_key(text: str):
    try:
        return int(text, 0)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise UserError(f"not a number: {text!r}") from None


def _read_keys_file(path: str):
    if path.endswith(".npy"):
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise UserError(f"{path}: {exc}") from None
        if arr.ndim != 1 or arr.dtype.kind not in "iuf":
            raise UserError(f"{path}: keys must be a 1-D numeric array, got {arr.ndim}-D {arr.dtype}")
        return arr
    try:
        with open(path) as f:
            return [_parse_key(line.strip()) for line in f if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: {exc}") from None


def _show(v) -> str:
    if isinstance(v, np.ndarray):
        return json.dumps(v.tolist(), default=repr)
    if isinstance(v, np.generic):
        v = v.item()
    return repr(v)


def query(args) -> int:
    """``learnedidx query``: one line per key, ``key<TAB>answer`` (a ``.npy`` batch is vectorised)."""
    keys = [_parse_key(k) for k in args.query_keys]
    batch = _read_keys_file(args.keys_file) if args.keys_file else []
    if isinstance(batch, list):
        keys, batch = keys + batch, None
    if not keys and (batch is None or batch.size == 0):
        raise UserError("give keys to look up (KEY... or --keys-file)")
    obj = _open(args.path, mmap=not args.no_mmap)
    if not hasattr(obj, "get_many") and not hasattr(obj, "lookup"):
        raise UserError(f"a {type(obj).__name__} does not answer key lookups")
    try:
        for k in keys:
            _answer(obj, k)
        if batch is not None:
            _answer(obj, batch)
    except ValueError as exc:                     # corrupt offsets in an unverified section
        raise UserError(f"{args.path}: {exc}") from None
    return 0


def _answer(obj, q) -> None:
    """Print the answers for one key (a scalar) or a 1-D array of keys."""
    scalar = not isinstance(q, np.ndarray)
    qs = np.array([q], dtype=object) if scalar else q
    if hasattr(obj, "get_many"):
        if scalar:
            v = obj.get(q, _ABSENT)
            answers = ["absent" if v is _ABSENT else _show(v)]
        else:
            values, found = obj.get_many(q, return_found=True)
            answers = [_show(v) if ok else "absent" for v, ok in zip(values, found.tolist())]
    else:
        pos = obj.searchsorted(q)
        found = obj.lookup(q) >= 0
        pos, found = ([pos], [found]) if scalar else (pos.tolist(), found.tolist())
        answers = [f"position {p}\t{'found' if f else 'absent'}" for p, f in zip(pos, found)]
    sys.stdout.write("".join(f"{k}\t{a}\n" for k, a in zip(qs.tolist(), answers)))


_ABSENT = object()
