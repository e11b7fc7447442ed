"""GPU against CPU on three workloads, in one run, as a Markdown table.

``python -m agents.bench_gpu [--epochs 5] [--out FILE.json]``

1. ``Conv2D`` forward + backward (float32, N=16, C 32 -> 32, 64x64, k=3, padding 1);
2. the basic agent (k-means palette + exact 3x3 kNN vote) on a 1024-px-wide photo (the bundled
   coffee photo upscaled, bicubic);
3. the improved agent's fit on a 512-px-wide photo: training for a fixed number of epochs
   with no early stopping, so both devices do the same work, then choosing the propagation
   strength on the validation strip.

Each workload runs on the CPU (NumPy) and, when CuPy and a device answer, on the GPU; the
speed-up is CPU seconds / GPU seconds of this run. On the GPU an untimed first run comes before
the timed one (it compiles CuPy's kernels, which a fresh machine does once per kernel), and a
timed run ends when the device has finished its work. Without a GPU only the CPU column is filled,
and a line above the table says why (CuPy missing, no device answering). Each timing is also
printed to stderr as soon as it is taken, as progress.
"""

import sys
import time
from pathlib import Path

from agents.bench_basic import time_agent
from agents.improved import ImprovedAgent
from colorize.bench_neighbors import load_photo
from colorize.bundled import bundled_image
from colorize.halves import split_halves
from colorize.io import (ImageError, OutputError, ensure_output_file, folders_removed_on_failure,
                         write_json)
from nn.backend import describe_device, gpu_unavailable_reason
from nn.bench import time_engine
from nn.cli import OneLineParser, positive_int, run_command


def conv_seconds(device):
    seconds, _ = time_engine((16, 32, 64, 64), 32, 3, 1, 1, repeats=5, device=device)
    return seconds


def basic_seconds(rgb, device):
    fit_s, colorize_s, _ = time_agent(rgb, device)
    return fit_s + colorize_s


def improved_seconds(rgb, device, epochs):
    left, _ = split_halves(rgb)
    agent = ImprovedAgent(seed=0, device=device, epochs=epochs, patience=epochs + 1)
    start = time.perf_counter()
    agent.fit(left)
    # the propagation strength is chosen when first read (a reference run never needs it):
    # reading it here makes the choice part of the timed fit
    agent.propagate_strength
    finish(device)
    return time.perf_counter() - start


def finish(device):
    """Wait until the device has done its queued work (a no-op on the CPU)."""
    if device == "gpu":
        import cupy

        cupy.cuda.Device().synchronize()


def timed_seconds(run, device):
    """The seconds that ``run(device)`` measures; on the GPU after an untimed warm-up run."""
    if device == "gpu":
        run(device)
    return run(device)


def main(argv=None):
    parser = OneLineParser(prog="python -m agents.bench_gpu", description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=positive_int, default=5, metavar="N",
                        help="improved-agent epochs (default 5)")
    parser.add_argument("--out", metavar="FILE.json", help="also write the table as JSON to this file")
    coffee = bundled_image("coffee.png")

    def body():
        args = parser.parse_args(argv)
        if args.out is None:
            return measure(args)
        with folders_removed_on_failure(Path(args.out).parent):
            ensure_output_file(args.out, [(coffee, "photo (the bundled coffee.png)")])
            return measure(args)

    def measure(args):
        photo_1024, photo_512 = load_photo(coffee, 1024), load_photo(coffee, 512)
        # Not resolve_device's DeviceError: it is worded for a --device option this command
        # does not have.
        no_gpu_reason = gpu_unavailable_reason()
        devices = ["cpu"] + (["gpu"] if no_gpu_reason is None else [])
        if no_gpu_reason:
            print(f"no GPU column: {no_gpu_reason}", flush=True)
        workloads = [
            ("Conv2D fwd+bwd, N=16, 32->32, 64x64, k3", conv_seconds),
            ("basic agent, 1024-px photo", lambda d: basic_seconds(photo_1024, d)),
            (f"improved agent fit (training + propagation choice), 512-px photo, {args.epochs} epochs",
             lambda d: improved_seconds(photo_512, d, args.epochs)),
        ]
        rows = []
        for name, run in workloads:
            seconds = {}
            for d in devices:
                seconds[d] = timed_seconds(run, d)
                print(f"{name}: {d} {seconds[d]:.3f} s", file=sys.stderr, flush=True)
            rows.append({"workload": name, **{f"{d}_s": s for d, s in seconds.items()}})
        print(f"devices: {', '.join(describe_device(d) for d in devices)}")
        print("| workload | CPU s | GPU s | speed-up |\n|---|---:|---:|---:|")
        for row in rows:
            gpu = row.get("gpu_s")
            gpu_text = "no GPU" if gpu is None else f"{gpu:.3f}"
            speedup = "" if gpu is None else f"{row['cpu_s'] / gpu:.1f}x"
            print(f"| {row['workload']} | {row['cpu_s']:.3f} | {gpu_text} | {speedup} |")
        if args.out is not None:
            write_json(args.out, {"devices": [describe_device(d) for d in devices], "rows": rows})
        return 0

    return run_command(body, (ImageError, OutputError))


if __name__ == "__main__":
    sys.exit(main())
