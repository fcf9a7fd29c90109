"""The time of each lab, run end to end from fresh hosts (target: all five under 5 minutes).

Prints figures; asserts nothing. Usage: .venv/bin/python bench/labs_bench.py [--parallel]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GLANCELAB = os.path.join(os.path.dirname(sys.executable), "glancelab")
LABS = ["2.1", "2.2", "2.3", "2.4", "2.5"]


def run_lab(number: str) -> tuple[str, float, bool]:
    subprocess.run([GLANCELAB, "lab", "reset", number], capture_output=True, cwd=ROOT)
    started = time.monotonic()
    result = subprocess.run([GLANCELAB, "lab", "run", number], capture_output=True, text=True,
                            cwd=ROOT)
    elapsed = time.monotonic() - started
    subprocess.run([GLANCELAB, "lab", "reset", number], capture_output=True, cwd=ROOT)
    return number, elapsed, result.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parallel", action="store_true", help="all labs at once")
    args = parser.parse_args()
    started = time.monotonic()
    if args.parallel:
        with concurrent.futures.ThreadPoolExecutor(len(LABS)) as pool:
            results = list(pool.map(run_lab, LABS))
    else:
        results = [run_lab(number) for number in LABS]
    total = time.monotonic() - started
    print(json.dumps({
        "mode": "parallel" if args.parallel else "one after another",
        "labs": {n: {"seconds": round(s, 1), "passed": ok} for n, s, ok in results},
        "total_seconds": round(total, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
