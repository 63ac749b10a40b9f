"""Run the benchmarks: every ``tests/bench/bench_*.py`` module's ``main(argv)`` in turn.

``python -m tests.bench`` runs them all; ``python -m tests.bench asgi_servers`` runs only
``bench_asgi_servers.py``. Arguments from the first one that starts with ``-`` on are handed
to each selected module's ``main``, e.g. ``python -m tests.bench asgi_servers -- --rounds 2``.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback
from pathlib import Path

PREFIX = "bench_"


def discover() -> list[str]:
    """Names of the benchmark modules, without the ``bench_`` prefix, in a stable order."""
    here = Path(__file__).resolve().parent
    return sorted(m.name.removeprefix(PREFIX) for m in pkgutil.iter_modules([str(here)]) if m.name.startswith(PREFIX))


def split_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    """Leading words pick benchmarks; everything from the first option on is theirs (``--`` is dropped)."""
    for index, word in enumerate(argv):
        if word.startswith("-"):
            rest = argv[index + 1 :] if word == "--" else argv[index:]
            return argv[:index], rest
    return argv, []


def main(argv: list[str]) -> int:
    available = discover()
    wanted, passed_on = split_argv(argv)
    names = [name.removeprefix(PREFIX).removesuffix(".py") for name in wanted] or available
    unknown = [name for name in names if name not in available]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)}", file=sys.stderr)
        return 2

    failed: list[str] = []
    for name in names:
        module = importlib.import_module(f"tests.bench.{PREFIX}{name}")
        print(f"== {name} ==", flush=True)
        started = time.monotonic()
        try:
            module.main(list(passed_on))
        except Exception:
            # One broken benchmark should not hide the figures of the others.
            traceback.print_exc()
            failed.append(name)
        print(
            f"== {name}: {'FAILED' if name in failed else 'done'} in {time.monotonic() - started:.1f}s ==", flush=True
        )
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
