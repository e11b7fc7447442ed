"""Benchmark of the basic agent: its kNN and k-means against scikit-learn, then the whole agent.

``python -m agents.bench_basic [--width 512] [--photo coffee] [--repeat 1] [--skip-oracles]``

First the kNN and k-means comparison of ``colorize.bench_neighbors`` (ratios ours / theirs in
the same run, scikit-learn needed), then the whole protocol on the same photo: k-means palette
on the left half, exact 3x3 kNN vote on the right half, with the time of each phase. The goal
of the project is under 10 s for a 512-px-wide photo on 2 CPU cores.
"""

import argparse
import time

from agents.basic import BasicAgent
from colorize.bench_neighbors import _photo
from colorize.bench_neighbors import main as bench_neighbors
from colorize.color import rgb_to_gray
from colorize.halves import split_halves
from colorize.metrics import psnr


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
    parser = argparse.ArgumentParser(prog="python -m agents.bench_basic",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--photo", default="coffee")
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--device", default="cpu", choices=("cpu", "gpu"))
    parser.add_argument("--skip-oracles", action="store_true",
                        help="only time the agent (no scikit-learn comparison)")
    args = parser.parse_args(argv)
    if not args.skip_oracles:
        bench_neighbors(["--photo", args.photo, "--width", str(args.width), "--repeat", str(args.repeat)])
    rgb = _photo(args.photo, args.width)
    best = None
    for _ in range(args.repeat):
        result = time_agent(rgb, args.device)
        if best is None or sum(result[:2]) < sum(best[:2]):
            best = result
    fit_s, colorize_s, right_psnr = best
    h, w = rgb.shape[:2]
    print(f"basic agent on {args.photo} {w}x{h} ({args.device}): fit {fit_s:.2f} s, colorize "
          f"{colorize_s:.2f} s, total {fit_s + colorize_s:.2f} s (goal < 10 s); right-half PSNR "
          f"{right_psnr:.2f} dB")


if __name__ == "__main__":
    main()
