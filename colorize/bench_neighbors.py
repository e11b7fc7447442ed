"""Benchmark of colorize.knn and colorize.kmeans against scikit-learn, in one process.

``python -m colorize.bench_neighbors [--width 512] [--photo coffee|FILE] [--repeats 1]``

Case: the photo (a bundled one by its stem, or any image file) resized (bicubic) to
``--width`` columns, gray = 0.21 R + 0.72 G + 0.07 B as floats; 3x3 edge-padded patches of
each half (the left half trains, the right half queries), k = 6. k-means: the left half's RGB
pixels (uint8 -> float64), k = 5, n_init = 4, seed / random_state 0. Times are wall-clock
seconds (best of ``--repeats``), sklearn's kNN time is fit + kneighbors. Ratios are ours /
theirs measured in this run, so they stay meaningful on a busy machine.

The photo helpers here (:func:`photo_arg`, :func:`bench_width`, :func:`load_photo`) are shared
by the other benchmark commands.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image

from colorize.bundled import bundled_images_dir
from colorize.halves import MIN_HEIGHT, MIN_WIDTH, ProtocolError, check_protocol_size, resize_halves
from colorize.io import ImageError, read_rgb
from colorize.kmeans import inertia, kmeans
from colorize.knn import nearest
from nn.bench import blas_threads
from nn.cli import OneLineParser, UsageError, int_at_least, positive_int, run_command

NEIGHBORS = 6
COLORS = 5


def bundled_stems():
    """Stems of the bundled photos (``coffee`` for ``images/coffee.png``), sorted."""
    return sorted(p.stem for p in bundled_images_dir().glob("*.png"))


def photo_arg(text):
    """argparse type: a bundled photo's stem, or the path of an existing image file.

    A stem wins over a file of the same name in the current folder: ``--photo coffee`` means
    the bundled photo wherever the command runs.
    """
    if text in bundled_stems():
        return bundled_images_dir() / f"{text}.png"
    path = Path(text)
    if path.is_file():
        return path
    raise argparse.ArgumentTypeError(
        f"{text!r} is neither a bundled photo ({', '.join(bundled_stems()) or 'none found'}) "
        "nor an image file")


MAX_BENCH_WIDTH = 4096
"""The widest photo a benchmark resizes to: about 12 megapixels at 4:3. The exact neighbour
search grows with the square of the pixel count: about 20 s for a 1024-px photo on 2 cores, so
over an hour at 4096 px; a far wider photo would not even fit in memory."""


def bench_width(text):
    """argparse type: a photo width of at least the protocol's minimum (8 columns, so each
    half has 4 columns; with the height held at 8 or more, the left half has at least 32
    pixels, enough for k = 6 neighbours and 5 colours) and at most ``MAX_BENCH_WIDTH``."""
    value = int_at_least(text, MIN_WIDTH)
    if value > MAX_BENCH_WIDTH:
        raise argparse.ArgumentTypeError(f"expected a width of at most {MAX_BENCH_WIDTH} "
                                         f"pixels, got {value}")
    return value


MAX_BENCH_PIXELS = 4096 * 3072
"""The most pixels a benchmark resizes a photo to: ``MAX_BENCH_WIDTH`` at 4:3. A tall photo
would otherwise reach far more at a given width."""


def load_photo(path, width, resample=Image.Resampling.BICUBIC):
    """RGB uint8 of the image file ``path`` resized to ``width`` columns, aspect kept (but at
    least 8 rows, the protocol's minimum), each half on its own
    (:func:`colorize.halves.resize_halves`). Raises ImageError for a file that cannot be read,
    one smaller than the protocol's 8 x 8 pixels, or one whose resized copy would exceed
    ``MAX_BENCH_PIXELS``."""
    rgb = read_rgb(path)
    try:
        check_protocol_size(rgb.shape)
    except ProtocolError as exc:
        raise ImageError(f"{path}: {exc}") from None
    h, w = rgb.shape[:2]
    height = max(MIN_HEIGHT, round(h * width / w))
    if height * width > MAX_BENCH_PIXELS:
        raise ImageError(f"{path}: resized to {width} columns it would be {width} x {height} "
                         f"pixels, more than a benchmark takes ({MAX_BENCH_PIXELS:,}); give a "
                         "smaller --width")
    return resize_halves(rgb, (height, width), resample=resample)


def sklearn_estimators():
    """``(KMeans, NearestNeighbors)``; a UsageError saying how to install scikit-learn when it
    is missing (it is a test dependency, the oracle of these benchmarks)."""
    try:
        from sklearn.cluster import KMeans
        from sklearn.neighbors import NearestNeighbors
    except ImportError:
        raise UsageError("this benchmark compares with scikit-learn, which is not installed "
                         "(pip install scikit-learn; in a checkout, pip install -e '.[test]')"
                         ) from None
    return KMeans, NearestNeighbors


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


def compare(rgb, label, repeat):
    """Time our kNN and k-means against scikit-learn's on ``rgb`` and print the table.

    scikit-learn runs with as many threads (OpenMP and BLAS, through threadpoolctl, which it
    depends on) as NumPy's BLAS has here, so that the ratios compare like with like: its
    k-means would otherwise take every core whatever ``OPENBLAS_NUM_THREADS`` says.
    """
    KMeans, NearestNeighbors = sklearn_estimators()
    from threadpoolctl import threadpool_limits

    threads = blas_threads()
    with threadpool_limits(limits=threads):
        _compare(rgb, label, repeat, KMeans, NearestNeighbors, threads)


def _compare(rgb, label, repeat, KMeans, NearestNeighbors, threads):
    h, w = rgb.shape[:2]
    gray = rgb.astype(np.float64) @ np.array([0.21, 0.72, 0.07])
    train, query = _patches(gray[:, : w // 2]), _patches(gray[:, w // 2:])
    print(f"{label} at {w}x{h}, {threads} thread(s) for both: kNN k={NEIGHBORS} on "
          f"{train.shape[0]} training x {query.shape[0]} query 3x3 gray patches")

    ours_t, (idx, d2) = _best_time(lambda: nearest(train, query, NEIGHBORS), repeat)
    rows = [("knn ours (exact, index ties)", ours_t, "")]
    for algorithm in ("auto", "kd_tree", "brute"):
        def run(algorithm=algorithm):
            model = NearestNeighbors(n_neighbors=NEIGHBORS, algorithm=algorithm)
            return model.fit(train).kneighbors(query)

        t, (dist, _) = _best_time(run, repeat)
        same = np.allclose(np.sqrt(d2), dist, rtol=0, atol=1e-6)
        rows.append((f"knn sklearn {algorithm}", t,
                     f"ours/theirs {ours_t / t:5.2f}  same distances: {same}"))

    pixels = rgb[:, : w // 2].reshape(-1, 3)
    ours_t, (centers, labels) = _best_time(lambda: kmeans(pixels, COLORS, seed=0, n_init=4), repeat)
    ours_j = inertia(pixels, centers, labels)
    t, model = _best_time(
        lambda: KMeans(n_clusters=COLORS, n_init=4, random_state=0).fit(pixels.astype(np.float64)),
        repeat,
    )
    rows.append((f"kmeans ours k={COLORS} ({pixels.shape[0]} px)", ours_t, f"inertia {ours_j:.6g}"))
    rows.append((f"kmeans sklearn k={COLORS} n_init=4", t,
                 f"ours/theirs {ours_t / t:5.2f}  inertia ratio {_ratio(ours_j, model.inertia_)}"))
    print(f"{'case':40s} {'seconds':>8s}  notes")
    for name, seconds, note in rows:
        print(f"{name:40s} {seconds:8.3f}  {note}")


def _ratio(ours, theirs):
    """``ours / theirs`` to 5 decimals, or n/a when theirs is 0 (a photo of at most 5 colours:
    both inertias are then 0)."""
    return f"{ours / theirs:.5f}" if theirs else "n/a"


def add_photo_arguments(parser, default_width):
    """``--photo``, ``--width`` and ``--repeats``, as this benchmark and agents.bench_basic
    take them."""
    parser.add_argument("--photo", type=photo_arg, default="coffee", metavar="STEM|FILE",
                        help=f"a bundled photo ({', '.join(bundled_stems())}) or the path of "
                             "an image file (default: coffee)")
    parser.add_argument("--width", type=bench_width, default=default_width, metavar="PX",
                        help=f"width in pixels the photo is resized to, from {MIN_WIDTH} to "
                             f"{MAX_BENCH_WIDTH} (default: {default_width})")
    parser.add_argument("--repeats", type=positive_int, default=1, metavar="N",
                        help="runs of each case; the best time is shown (default: 1)")


def main(argv=None):
    parser = OneLineParser(prog="python -m colorize.bench_neighbors",
                           description=__doc__.splitlines()[0])
    add_photo_arguments(parser, default_width=512)

    def body():
        args = parser.parse_args(argv)
        compare(load_photo(args.photo, args.width), args.photo.stem, args.repeats)
        return 0

    return run_command(body, (ImageError,))


if __name__ == "__main__":
    sys.exit(main())
