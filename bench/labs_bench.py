"""The time of each lab as a trainee meets it: start, grade, solve, grade, finish (targets:
a lab's start under 30 s once `make labs` has run; the five core labs done end to end in
under 5 minutes when run side by side).

Prints figures; asserts nothing. Each lab runs in a lab home of its own (its own slot),
as separate trainees would. Usage: .venv/bin/python bench/labs_bench.py [--parallel]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GLANCELAB = os.path.join(os.path.dirname(sys.executable), "glancelab")
LABS = ["2.1", "2.2", "2.3", "2.4", "2.5"]
PHASES = ["start", "grade", "solve", "grade", "finish"]


def run_lab(number: str, base: str) -> tuple[str, dict, bool]:
    env = {**os.environ, "GLANCELAB_LAB_HOME": os.path.join(base, number)}
    seconds, ok = {}, True
    for index, phase in enumerate(PHASES):
        started = time.monotonic()
        done = subprocess.run([GLANCELAB, "lab", phase, number], capture_output=True, text=True,
                              cwd=ROOT, env=env)
        seconds[f"{index + 1}.{phase}"] = round(time.monotonic() - started, 1)
        # the first grade is expected to fail (nothing done yet), the second to pass
        expected = 1 if index == 1 else 0
        ok = ok and done.returncode == expected
    return number, seconds, ok


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parallel", action="store_true", help="all labs at once")
    parser.add_argument("--labs", default=",".join(LABS), help="which labs (default: %(default)s)")
    args = parser.parse_args()
    labs = args.labs.split(",")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="labs-bench-") as base:
        if args.parallel:
            with concurrent.futures.ThreadPoolExecutor(len(labs)) as pool:
                results = list(pool.map(lambda n: run_lab(n, base), labs))
        else:
            results = [run_lab(number, base) for number in labs]
        for number in labs:  # free the slots the lab homes claimed
            from glancelab_toolkit.labs.trainee import release_slot
            release_slot(os.path.join(base, number))
    total = time.monotonic() - started
    print(json.dumps({
        "mode": "parallel" if args.parallel else "one after another",
        "labs": {n: {"seconds": s, "total": round(sum(s.values()), 1), "as_expected": ok}
                 for n, s, ok in results},
        "total_seconds": round(total, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
