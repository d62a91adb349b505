"""The ``learnedidx`` command.

``learnedidx bench`` runs the lookup benchmark (RMI against numpy.searchsorted,
argsort + searchsorted, and the installed peers) on a built-in synthetic dataset and
prints a table; every answer of every timed run is checked.
"""
from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="learnedidx", description="Learned index structures: tools.")
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench", help="benchmark the RMI against numpy and peers on a built-in dataset",
                       add_help=False)
    b.add_argument("-h", "--help", action="store_true")
    args, rest = ap.parse_known_args(argv)
    if args.command == "bench":
        from learnedidx.bench import runner
        if args.help:
            return runner.main(["--help"])
        try:
            return runner.main(rest)
        except (runner.MismatchError, runner.SpecError) as exc:
            print(f"learnedidx bench: error: {exc}", file=sys.stderr)
            return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
