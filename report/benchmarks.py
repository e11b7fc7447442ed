"""The engine's checks and speed tables, as the report shows them.

- :func:`gradient_checks` runs the cases of ``python -m nn.gradcheck`` in this process (the
  same inputs, seeded the same way) and returns one row per layer, container and loss.
- :func:`run_benchmark` runs a benchmark module (``python -m colorize.bench_neighbors``,
  ``python -m nn.bench``) in a subprocess with the given arguments and returns its printed
  table verbatim, with the exact command, so a reader can rerun it. A subprocess keeps the
  benchmarks' thread settings (PyTorch's, scikit-learn's) out of the report's own process.
"""

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


from nn import gradcheck

ROOT = Path(__file__).resolve().parent.parent
@dataclass
class BenchmarkRun:
    command: str
    output: str
    seconds: float
    ok: bool


def gradient_checks():
    """``[(label, worst parameter or input, max relative error)]`` for every case."""
    return gradcheck.table_rows()


def run_benchmark(module, args, timeout=600):
    """Run ``python -m module *args`` from the repository root; its output and wall time."""
    argv = [sys.executable, "-m", module, *args]
    command = " ".join(["python", "-m", module, *args])
    start = time.perf_counter()
    try:
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return BenchmarkRun(command, f"(stopped after {timeout} s)", time.perf_counter() - start, False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return BenchmarkRun(command, f"(failed with exit status {done.returncode}: {tail[0]})",
                            seconds, False)
    return BenchmarkRun(command, done.stdout.rstrip(), seconds, True)
