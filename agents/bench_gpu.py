"""GPU against CPU on three workloads, in one run, as a Markdown table.

``python -m agents.bench_gpu [--epochs 5] [--out FILE.json]``

1. ``Conv2D`` forward + backward (float32, N=16, C 32 -> 32, 64x64, k=3, padding 1);
2. the basic agent (k-means palette + exact 3x3 kNN vote) on a 1024-px-wide photo (the bundled
   coffee photo upscaled, bicubic);
3. the improved agent's training on a 512-px-wide photo, for a fixed number of epochs and no
   early stopping, so both devices do the same work.

Each workload runs on the CPU (NumPy) and, when CuPy and a device answer, on the GPU; the
speed-up is CPU seconds / GPU seconds of this run. Without a GPU only the CPU column is filled.
"""

import argparse
import json
import time

from agents.bench_basic import time_agent
from agents.improved import ImprovedAgent
from colorize.bench_neighbors import _photo
from colorize.halves import split_halves
from nn.backend import describe_device, gpu_available
from nn.bench import time_engine


def conv_seconds(device):
    seconds, _ = time_engine((16, 32, 64, 64), 32, 3, 1, 1, repeats=5, device=device)
    return seconds


def basic_seconds(device):
    fit_s, colorize_s, _ = time_agent(_photo("coffee", 1024), device)
    return fit_s + colorize_s


def improved_seconds(device, epochs):
    left, _ = split_halves(_photo("coffee", 512))
    agent = ImprovedAgent(seed=0, device=device, epochs=epochs, patience=epochs + 1)
    start = time.perf_counter()
    agent.fit(left)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m agents.bench_gpu",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="improved-agent epochs (default 5)")
    parser.add_argument("--out", help="also write the table as JSON to this file")
    args = parser.parse_args(argv)
    devices = ["cpu"] + (["gpu"] if gpu_available() else [])
    workloads = [
        ("Conv2D fwd+bwd, N=16, 32->32, 64x64, k3", conv_seconds),
        ("basic agent, 1024-px photo", basic_seconds),
        (f"improved agent training, 512-px photo, {args.epochs} epochs",
         lambda d: improved_seconds(d, args.epochs)),
    ]
    rows = []
    for name, run in workloads:
        seconds = {d: run(d) for d in devices}
        rows.append({"workload": name, **{f"{d}_s": s for d, s in seconds.items()}})
    print(f"devices: {', '.join(describe_device(d) for d in devices)}")
    print("| workload | CPU s | GPU s | speed-up |\n|---|---:|---:|---:|")
    for row in rows:
        gpu = row.get("gpu_s")
        gpu_text = "no GPU" if gpu is None else f"{gpu:.3f}"
        speedup = "" if gpu is None else f"{row['cpu_s'] / gpu:.1f}x"
        print(f"| {row['workload']} | {row['cpu_s']:.3f} | {gpu_text} | {speedup} |")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump({"devices": [describe_device(d) for d in devices], "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
