"""Benchmark of colorize.knn and colorize.kmeans against scikit-learn, in one process.

``python -m colorize.bench_neighbors [--width 512] [--photo coffee] [--repeat 1]``

Case: the bundled photo resized (bicubic) to ``--width`` columns, gray = 0.21 R + 0.72 G +
0.07 B as floats; 3x3 edge-padded patches of each half (the left half trains, the right half
queries), k = 6. k-means: the left half's RGB pixels (uint8 -> float64), k = 5, n_init = 4,
seed / random_state 0. Times are wall-clock seconds (best of ``--repeat``), sklearn's kNN
time is fit + kneighbors. Ratios are ours / theirs measured in this run, so they stay
meaningful on a busy machine.
"""

import argparse
import time
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image

from colorize.kmeans import inertia, kmeans
from colorize.knn import nearest

IMAGES = Path(__file__).resolve().parents[1] / "images"


def _photo(name, width):
    img = Image.open(IMAGES / f"{name}.png").convert("RGB")
    img = img.resize((width, round(img.height * width / img.width)), Image.BICUBIC)
    return np.asarray(img)


def _patches(gray):
    padded = np.pad(gray, 1, mode="edge")
    return sliding_window_view(padded, (3, 3)).reshape(-1, 9)


def _best_time(fn, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m colorize.bench_neighbors",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--photo", default="coffee")
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    from sklearn.cluster import KMeans
    from sklearn.neighbors import NearestNeighbors

    rgb = _photo(args.photo, args.width)
    h, w = rgb.shape[:2]
    gray = rgb.astype(np.float64) @ np.array([0.21, 0.72, 0.07])
    train, query = _patches(gray[:, : w // 2]), _patches(gray[:, w // 2:])
    print(f"{args.photo} resized to {w}x{h}: kNN k=6 on {train.shape[0]} training x "
          f"{query.shape[0]} query 3x3 gray patches")

    ours_t, (idx, d2) = _best_time(lambda: nearest(train, query, 6), args.repeat)
    rows = [("knn ours (exact, index ties)", ours_t, "")]
    for algorithm in ("auto", "kd_tree", "brute"):
        def run(algorithm=algorithm):
            return NearestNeighbors(n_neighbors=6, algorithm=algorithm).fit(train).kneighbors(query)

        t, (dist, _) = _best_time(run, args.repeat)
        same = np.allclose(np.sqrt(d2), dist, rtol=0, atol=1e-6)
        rows.append((f"knn sklearn {algorithm}", t, f"ours/theirs {ours_t / t:5.2f}  same distances: {same}"))

    pixels = rgb[:, : w // 2].reshape(-1, 3)
    ours_t, (centers, labels) = _best_time(lambda: kmeans(pixels, 5, seed=0, n_init=4), args.repeat)
    ours_j = inertia(pixels, centers, labels)
    t, model = _best_time(
        lambda: KMeans(n_clusters=5, n_init=4, random_state=0).fit(pixels.astype(np.float64)),
        args.repeat,
    )
    rows.append((f"kmeans ours k=5 ({pixels.shape[0]} px)", ours_t, f"inertia {ours_j:.6g}"))
    rows.append(("kmeans sklearn k=5 n_init=4", t,
                 f"ours/theirs {ours_t / t:5.2f}  inertia ratio {ours_j / model.inertia_:.5f}"))
    print(f"{'case':40s} {'seconds':>8s}  notes")
    for name, seconds, note in rows:
        print(f"{name:40s} {seconds:8.2f}  {note}")


if __name__ == "__main__":
    main()
