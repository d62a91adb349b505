"""Saved-index benchmark: open time, resident memory, lookups from a mapped file, file size.

For each key count (default 10M and 100M uint64 keys):

1. Keys are generated into a temporary ``.npy`` in chunks with a seeded generator
   (sorted, distinct: a cumulative sum of random gaps, so 100M keys never need a sort
   or a second copy in memory), then a KeyValueIndex (values ``uint32(key)``, an RMI
   inside) is built and saved, and the bare RMI is saved too.
2. Every open runs in a fresh Python process (``learnedidx`` already imported), so its
   time and its resident-set growth (``/proc/self/statm``) are honest: mmap with the
   default verify (header and small sections), mmap with ``verify=True`` (every
   checksum, so every page is read), and ``mmap=False`` (read into memory).
3. In the same processes, ``get_many`` runs over a fixed batch of present keys drawn
   from a seed; every answer is checked (``value == uint32(key)``), first run
   (cold mapping: pages fault in) and the median of the repeats reported.
4. File size against the raw key bytes.

Run: ``python -m learnedidx.bench.storage_bench --n 10000000 --n 100000000``.
The page cache is warm (the file was just written); ``--drop-note`` only reminds that
a cold-disk open is not measured here.  Figures are printed as Markdown (``--json``
for a file).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

CHUNK = 1 << 23


def generate_keys(path: str, n: int, seed: int) -> None:
    """``n`` sorted, distinct uint64 keys written to ``path`` (.npy) chunk by chunk."""
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint64, shape=(n,))
    mean_gap = max(2, (2 ** 63) // max(n, 1))
    carry = np.uint64(rng.integers(0, mean_gap))
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        gaps = rng.integers(1, 2 * mean_gap, m, dtype=np.uint64)
        part = np.cumsum(gaps, dtype=np.uint64) + carry
        out[start:start + m] = part
        carry = part[-1]
    out.flush()
    del out


def rss_bytes() -> int:
    """Resident set size of this process now (Linux ``/proc/self/statm``; else the peak)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(path: str, mode: str, queries: str | None, repeats: int) -> dict:
    """One measured open (and optional ``get_many`` runs) in this fresh process."""
    import learnedidx
    mmap, verify = {"mmap": (True, None), "mmap+verify": (True, True), "memory": (False, None)}[mode]
    q = np.load(queries) if queries else None            # loaded before the baseline
    base = rss_bytes()
    t0 = time.perf_counter()
    obj = learnedidx.load(path, mmap=mmap, verify=verify)
    open_s = time.perf_counter() - t0
    out = {"mode": mode, "open_ms": open_s * 1e3, "rss_growth_mb": (rss_bytes() - base) / 2 ** 20}
    if q is not None:
        want = q.astype(np.uint32)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            got = obj.get_many(q)
            times.append(time.perf_counter() - t0)
            if not np.array_equal(got, want):
                raise AssertionError(f"get_many gave a wrong answer after {mode} open")
        out["get_many_first_ns"] = times[0] / q.size * 1e9
        out["get_many_median_ns"] = statistics.median(times[1:] or times) / q.size * 1e9
        out["rss_after_queries_mb"] = (rss_bytes() - base) / 2 ** 20
    return out


def run_child(path, mode, queries, repeats) -> dict:
    cmd = [sys.executable, "-m", "learnedidx.bench.storage_bench", "--child", path, "--mode", mode,
           "--repeats", str(repeats)] + (["--queries-file", queries] if queries else [])
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode:
        raise RuntimeError(f"child failed: {res.stderr.strip()[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def bench_n(n: int, workdir: str, seed: int, opens: int, queries: int, repeats: int, log) -> list[dict]:
    import learnedidx
    keys_path = os.path.join(workdir, f"keys_{n}.npy")
    log(f"n={n:,}: generating keys")
    generate_keys(keys_path, n, seed)
    keys = np.load(keys_path, mmap_mode="r")
    log(f"n={n:,}: building and saving the RMI and the KeyValueIndex")
    t0 = time.perf_counter()
    kv = learnedidx.KeyValueIndex.build(keys, keys.astype(np.uint32))
    build_s = time.perf_counter() - t0
    kv_path, rmi_path = os.path.join(workdir, f"kv_{n}.lidx"), os.path.join(workdir, f"rmi_{n}.lidx")
    t0 = time.perf_counter()
    kv.save(kv_path)
    save_s = time.perf_counter() - t0
    learnedidx.save(kv.index, rmi_path)
    q_path = os.path.join(workdir, f"queries_{n}.npy")
    rng = np.random.default_rng(seed + 1)
    np.save(q_path, np.asarray(keys[np.sort(rng.integers(0, n, queries))])[rng.permutation(queries)])
    del kv, keys
    rows = []
    for label, path, q in (("RMI", rmi_path, None), ("KeyValueIndex", kv_path, q_path)):
        for mode in ("mmap", "mmap+verify", "memory"):
            log(f"n={n:,}: {label} open, {mode} x{opens}")
            runs = [run_child(path, mode, q, repeats) for _ in range(opens)]
            row = {"n": n, "file": label, "mode": mode, "file_bytes": os.path.getsize(path),
                   "key_bytes": 8 * n, "build_s": build_s, "save_s": save_s, "opens": opens}
            for field in runs[0]:
                if field != "mode":
                    vals = [r[field] for r in runs]
                    row[field] = {"min": min(vals), "median": statistics.median(vals), "max": max(vals)}
            rows.append(row)
    for p in (keys_path, kv_path, rmi_path, q_path):
        os.unlink(p)
    return rows


def markdown(rows: list[dict]) -> str:
    head = ("| n | file | open | open ms (min / median / max) | RSS growth MB | get_many ns/key first / median "
            "| file / key bytes |\n|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        o, m = r["open_ms"], r["rss_growth_mb"]
        g = (f"{r['get_many_first_ns']['median']:.0f} / {r['get_many_median_ns']['median']:.0f}"
             if "get_many_first_ns" in r else "")
        lines.append(f"| {r['n']:,} | {r['file']} | {r['mode']} | {o['min']:.1f} / {o['median']:.1f} / "
                     f"{o['max']:.1f} | {m['median']:.1f} | {g} | {r['file_bytes'] / r['key_bytes']:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, action="append", help="key counts (default 10M and 100M)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--opens", type=int, default=5, help="fresh-process opens per mode (default 5)")
    ap.add_argument("--queries", type=int, default=1_000_000, help="get_many batch size (default 1M)")
    ap.add_argument("--repeats", type=int, default=5, help="get_many runs per open (default 5)")
    ap.add_argument("--dir", help="work directory for the temporary files (default: a new temp dir)")
    ap.add_argument("--json", metavar="FILE", help="write the rows as JSON")
    ap.add_argument("--child", metavar="PATH", help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    ap.add_argument("--queries-file", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.mode, args.queries_file, args.repeats)))
        return 0
    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    rows = []
    with tempfile.TemporaryDirectory(dir=args.dir) as work:
        for n in args.n or [10_000_000, 100_000_000]:
            rows += bench_n(n, work, args.seed, args.opens, args.queries, args.repeats, log)
    print(markdown(rows))
    print("\nTargets: a 100M-key index opened with mmap in < 50 ms and < 50 MB of RSS growth.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
