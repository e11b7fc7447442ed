"""Benchmark of the basic agent: its kNN and k-means against scikit-learn, then the whole agent.

``python -m agents.bench_basic [--width 512] [--photo coffee|FILE] [--repeats 1]
[--device cpu|gpu] [--skip-oracles]``

First the kNN and k-means comparison of ``colorize.bench_neighbors`` (ratios ours / theirs in
the same run, scikit-learn needed), then the whole protocol on the same photo: k-means palette
on the left half, exact 3x3 kNN vote on the right half, with the time of each phase. The goal
of the project is under 10 s for a 512-px-wide photo on 2 CPU cores. With ``--device gpu`` an
untimed run comes first (it compiles CuPy's kernels).
"""

import sys
import time

from agents.basic import BasicAgent
from colorize.bench_neighbors import add_photo_arguments, compare, load_photo
from colorize.color import rgb_to_gray
from colorize.halves import split_halves
from colorize.io import ImageError
from colorize.metrics import psnr
from nn.backend import DeviceError, resolve_device
from nn.cli import OneLineParser, run_command

GOAL_WIDTH = 512
GOAL_SECONDS = 10


def time_agent(rgb, device="cpu", colors=5):
    """Seconds for fit and colorize of the protocol, and the right half's PSNR."""
    left, right = split_halves(rgb)
    start = time.perf_counter()
    agent = BasicAgent(colors=colors, seed=0, device=device).fit(left)
    fitted = time.perf_counter()
    out = agent.colorize(rgb_to_gray(right))
    done = time.perf_counter()
    return fitted - start, done - fitted, psnr(right, out)


def main(argv=None):
    parser = OneLineParser(prog="python -m agents.bench_basic",
                           description=__doc__.splitlines()[0])
    add_photo_arguments(parser, default_width=GOAL_WIDTH)
    parser.add_argument("--device", default="cpu", choices=("cpu", "gpu"),
                        help="where the agent runs (default: cpu); the comparison runs on the CPU")
    parser.add_argument("--skip-oracles", action="store_true",
                        help="only time the agent (no scikit-learn comparison)")

    def body():
        args = parser.parse_args(argv)
        device = resolve_device(args.device)
        rgb = load_photo(args.photo, args.width)
        if not args.skip_oracles:
            compare(rgb, args.photo.stem, args.repeats)
        if device == "gpu":
            # untimed: the first run compiles CuPy's kernels and grows its memory pool, which
            # the CPU run never pays
            time_agent(rgb, device)
        best = None
        for _ in range(args.repeats):
            result = time_agent(rgb, device)
            if best is None or sum(result[:2]) < sum(best[:2]):
                best = result
        fit_s, colorize_s, right_psnr = best
        h, w = rgb.shape[:2]
        # The goal is stated for one width on 2 CPU cores; elsewhere it would mislead.
        goal = f" (goal < {GOAL_SECONDS} s)" if w == GOAL_WIDTH and device == "cpu" else ""
        print(f"basic agent on {args.photo.stem} {w}x{h} ({device}): fit {fit_s:.2f} s, colorize "
              f"{colorize_s:.2f} s, total {fit_s + colorize_s:.2f} s{goal}; right-half PSNR "
              f"{right_psnr:.2f} dB")
        return 0

    return run_command(body, (ImageError, DeviceError))


if __name__ == "__main__":
    sys.exit(main())
