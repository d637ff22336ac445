# ruff: noqa: T201 - a benchmark: its report goes to stdout
"""Wall time of ``axion-stage3 [COMMAND] --help`` against a bare ``python -c pass`` (docs/performance.md).

    python benchmarks/cli_startup.py [--repeats 3]

Each command runs in a fresh interpreter; the best of ``--repeats`` runs is reported.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from axion_terratorch.cli import SUBCOMMANDS


def best_time(argv: list[str], repeats: int) -> float:
    """Best wall time in seconds of ``argv`` over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    """Print a Markdown table of the start-up times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    python = [sys.executable, "-c", "pass"]
    base = best_time(python, repeats)
    print(
        f"| command | seconds | above `python -c pass` |\n|---|---|---|\n| `python -c pass` | {base:.2f} | |"
    )
    for command in ["", *SUBCOMMANDS]:
        argv = [sys.executable, "-m", "axion_terratorch.cli", *([command] if command else []), "--help"]
        seconds = best_time(argv, repeats)
        print(
            f"| `axion-stage3 {command + ' ' if command else ''}--help` | {seconds:.2f} | {seconds - base:+.2f} |"
        )


if __name__ == "__main__":
    main()
