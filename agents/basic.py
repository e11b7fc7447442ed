"""The basic agent: a k-means palette and a 3x3-patch nearest-neighbour vote.

``python -m agents.basic [IMAGE] [--colors K|auto] [--neighbors N] ...``

How it colours: this list is the project's reading of the coursework, pinned down.

1. k-means on the training pixels' RGB (seeded greedy k-means++, ``kmeans.RESTARTS`` = 4
   restarts, Lloyd until no label changes, the lowest inertia kept) finds ``colors``
   representative colours; every training pixel takes the label of its nearest one.
2. Gray is ``0.21 R + 0.72 G + 0.07 B`` (no rounding). Every pixel of the training image gets
   its 3x3 gray patch, and so does every pixel of the gray image to colour, each image patched
   on its own with edge-replicated borders (under the left/right protocol a test patch at the
   seam repeats the test half's first column; it takes no pixel of the training half).
3. For each pixel to colour, the ``neighbors`` training patches nearest in Euclidean distance
   on the 9 gray values are found exactly, ordered by (distance, training index).
4. Vote: the representative colour that occurs most often among the neighbours wins. When
   several colours share the top count, the tied colour held by the nearest neighbour wins
   (with 6 neighbours, a 2-2-2 or 3-3 tie always includes the first neighbour's colour, so
   this is "the nearest neighbour's colour"; in a 2-2-1-1 split it is the nearer of the two
   colours with two votes).

``--colors auto`` (the coursework's bonus question) chooses the number of colours with the
left half alone: the columns of the training half nearest the test half are held out as a
validation strip, the agent is trained on the rest for every k in ``AUTO_COLORS``, and the
strip's colour error (RGB RMSE) is measured. The neighbours do not depend on k, so they are
found once and only the palette and the vote are redone per k. The rule: the smallest k whose
validation error is within ``AUTO_TOLERANCE`` (5 %) of the best; more colours than that buy no
measurable accuracy. The whole curve is kept for the report.
"""

import sys

from agents.cli import auto_or, build_parser, main, show_progress
from colorize.color import check_0_255, rgb_to_gray
from colorize.kmeans import kmeans
from colorize.knn import nearest
from colorize.patches import extract_patches
from nn.backend import array_module_for, get_array_module, is_whole_number, to_numpy
from nn.cli import UsageError, positive_int
from nn.progress import progress_bar, with_progress

COLORS = 5
"""The coursework's number of representative colours (``--colors``' default)."""
NEIGHBORS = 6
"""The coursework's number of nearest patches that vote (``--neighbors``' default)."""
AUTO_COLORS = tuple(range(2, 17))
"""``--colors auto``: the numbers of colours tried."""
AUTO_TOLERANCE = 0.05
"""``--colors auto`` takes the smallest k whose validation error is within this share of the
lowest one."""
AUTO_STRIP_FRACTION = 0.25
"""``--colors auto``: the share of the training columns, nearest the test half, held out to
choose k (the improved agent has its own strip, ``agents.improved_data.VALIDATION_FRACTION``)."""
DEFAULT_MAX_SIDE = 512


def vote(neighbor_labels, n_colors):
    """The winning colour label per row of ``neighbor_labels`` (m, k), nearest first.

    Most votes wins; among colours tied on the top count, the one appearing first in the row
    (the nearest neighbour's) wins. Returns (m,) integer labels on the input's backend.
    """
    xp = get_array_module(neighbor_labels)
    counts = (neighbor_labels[:, :, None] == xp.arange(n_colors)[None, None, :]).sum(axis=1)
    top = counts.max(axis=1, keepdims=True)
    votes_per_neighbor = xp.take_along_axis(counts, neighbor_labels, axis=1)
    # argmax of a boolean row is its first True: the nearest neighbour holding a top colour
    first_tied = xp.argmax(votes_per_neighbor == top, axis=1)
    return xp.take_along_axis(neighbor_labels, first_tied[:, None], axis=1)[:, 0]


def gray_patches(gray):
    """(H, W) gray -> (H*W, 9) float32 rows of 3x3 edge-replicated patches."""
    patches = extract_patches(gray, 3)
    return patches.reshape(-1, patches.shape[-1]).astype("float32")


def palette_labels(pixels, centers):
    """Nearest representative colour for each RGB row of ``pixels`` (n, 3)."""
    xp = get_array_module(pixels)
    d = ((pixels[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
    return xp.argmin(d, axis=1)


class BasicAgent:
    """k-means palette + exact 3x3-patch kNN vote.

    Parameters
    ----------
    colors : int or "auto"
        Number of representative colours (default 5), or ``"auto"`` to choose it on a
        validation strip of the training image.
    neighbors : int
        Neighbours that vote (default 6).
    seed : int
        Seeds k-means++ (the only random step).
    device : "auto" | "cpu" | "gpu"
    progress : bool
        Show progress bars (on stderr, when it is a terminal: :mod:`nn.progress`): the
        ``auto`` sweep, and the patch matching of :meth:`colorize` (minutes on photos of
        several megapixels).
    """

    name = "basic"
    full_resolution = False
    uses_left_colours = False

    def __init__(self, colors=COLORS, neighbors=NEIGHBORS, seed=0, device="auto", progress=False):
        if colors != "auto" and not (is_whole_number(colors) and colors >= 1):
            raise ValueError(f"colors must be a whole number of at least 1 or 'auto', got {colors!r}")
        if not (is_whole_number(neighbors) and neighbors >= 1):
            raise ValueError(f"neighbors must be a whole number of at least 1, got {neighbors!r}")
        # plain Python numbers: a NumPy integer would not go into the JSON summary
        self.colors = colors if colors == "auto" else int(colors)
        self.neighbors = int(neighbors)
        if not (is_whole_number(seed) and seed >= 0):
            raise ValueError(f"seed must be a whole number of at least 0, got {seed!r}")
        self.seed = int(seed)
        self.xp = array_module_for(device)
        self.progress = progress
        self.auto_curve = None
        self.train_patches = None

    def check_training_shape(self, shape):
        """UsageError if ``colors`` or ``neighbors`` cannot work on a training image of
        (H, W, ...) ``shape``: more colours than pixels, or more neighbours than patches."""
        pixels = int(shape[0]) * int(shape[1])  # also the number of patches: one per pixel
        if self.colors != "auto" and int(self.colors) > pixels:
            raise UsageError(f"--colors {self.colors} is more than the {pixels} pixels "
                             f"of the training image; choose at most {pixels}")
        if self.neighbors > pixels:
            raise UsageError(f"--neighbors {self.neighbors} is more than the {pixels} patches "
                             f"of the training image; choose at most {pixels}")

    def fit(self, rgb):
        """Learn the palette and the training patches from a colour image (H, W, 3)."""
        xp = self.xp
        rgb = xp.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"fit needs an (H, W, 3) colour image, got shape {tuple(rgb.shape)}")
        if rgb.size == 0:
            raise ValueError(f"fit needs a non-empty training image, got shape {tuple(rgb.shape)}")
        check_0_255(rgb, "the training image")
        self.check_training_shape(rgb.shape)
        if self.colors == "auto":
            self.n_colors, self.auto_curve = self._choose_colors(rgb)
        else:
            self.n_colors = int(self.colors)
        pixels = rgb.reshape(-1, 3).astype("float32")
        self.centers, self.labels = kmeans(pixels, self.n_colors, seed=self.seed)
        self.train_patches = gray_patches(rgb_to_gray(rgb))
        return self

    def colorize(self, gray):
        """(H, W) gray on 0..255 -> (H, W, 3) float RGB in the representative colours."""
        if self.train_patches is None:
            raise RuntimeError("colorize called before fit")
        xp = self.xp
        gray = xp.asarray(gray, dtype="float32")
        if gray.ndim != 2 or gray.size == 0:
            raise ValueError(f"colorize needs a non-empty (H, W) gray image, got shape "
                             f"{tuple(gray.shape)}")
        check_0_255(gray, "the gray image to colour", dark_ok=True)
        query = gray_patches(gray)
        bar = progress_bar(self.progress, total=query.shape[0], desc="matching 3x3 patches",
                           unit="patch", unit_scale=True)
        try:
            idx, _ = nearest(self.train_patches, query, self.neighbors,
                             progress=bar.update if bar is not None else None)
        finally:
            if bar is not None:
                bar.close()
        winners = vote(self.labels[idx], self.centers.shape[0])
        return to_numpy(self.centers[winners].reshape(gray.shape + (3,)))

    def training_output(self, left_rgb):
        """``left_rgb`` (H, W, 3) in the representative colours, each pixel in its nearest one
        (float): for the training half, the labels k-means ended with."""
        if self.train_patches is None:
            raise RuntimeError("training_output called before fit")
        left = self.xp.asarray(left_rgb)
        labels = palette_labels(left.reshape(-1, 3).astype("float32"), self.centers)
        return to_numpy(self.centers[labels].reshape(left.shape[:2] + (3,)))

    def summary(self):
        """JSON-safe parameters and, for ``auto``, the validation curve over k."""
        if self.train_patches is None:
            raise RuntimeError("summary called before fit")
        info = {
            "colors": self.colors,
            "n_colors": self.n_colors,
            "neighbors": self.neighbors,
            "palette": to_numpy(self.centers).round(2).tolist(),
        }
        if self.auto_curve is not None:
            info["auto"] = self.auto_curve
        return info

    def _choose_colors(self, rgb):
        """Sweep k on a held-out strip of the training image; returns (k, curve dict)."""
        width = rgb.shape[1]
        strip = max(2, int(round(width * AUTO_STRIP_FRACTION)))
        if width - strip < 2:
            raise ValueError(f"the training image is {width} px wide, too narrow to hold out a "
                             "validation strip for --colors auto")
        errors = color_sweep(rgb[:, : width - strip], rgb[:, width - strip:], AUTO_COLORS,
                             neighbors=self.neighbors, seed=self.seed, progress=self.progress)
        best = min(errors)
        chosen = next(k for k, e in zip(AUTO_COLORS, errors) if e <= best * (1 + AUTO_TOLERANCE))
        curve = {
            "k": list(AUTO_COLORS),
            "validation_rmse": errors,
            "chosen": chosen,
            "rule": f"smallest k within {AUTO_TOLERANCE:.0%} of the lowest validation RMSE",
            "validation_columns": strip,
            # on a tiny photo the columns left of the strip can hold fewer patches than that
            "neighbors": min(self.neighbors, rgb.shape[0] * (width - strip)),
        }
        return chosen, curve


def color_sweep(train_rgb, test_rgb, ks, *, neighbors=NEIGHBORS, seed=0, progress=False):
    """RGB RMSE of the basic agent on ``test_rgb`` for each number of colours in ``ks``.

    Trained on ``train_rgb``; both (H, W, 3) on one backend. The neighbours depend only on the
    gray patches, so they are searched once and each k redoes just the palette and the vote.
    Used by ``--colors auto`` (validation strip) and by the report (hindsight on the right half).
    """
    xp = get_array_module(train_rgb)
    train_pixels = train_rgb.reshape(-1, 3).astype("float32")
    k_nn = min(neighbors, train_pixels.shape[0])
    idx, _ = nearest(gray_patches(rgb_to_gray(train_rgb)), gray_patches(rgb_to_gray(test_rgb)), k_nn)
    truth = test_rgb.reshape(-1, 3).astype("float32")
    ks = with_progress(ks, progress, desc="choosing the number of colours", unit="palette")
    errors = []
    for k in ks:
        centers, labels = kmeans(train_pixels, k, seed=seed)
        predicted = centers[vote(labels[idx], centers.shape[0])]
        errors.append(float(xp.sqrt(((predicted - truth) ** 2).mean())))
    return errors


colors_arg = auto_or(positive_int, "a whole number of at least 1")
"""argparse type for ``--colors``: a whole number >= 1 or ``auto`` (any case)."""


def make_agent(args, device):
    return BasicAgent(colors=args.colors, neighbors=args.neighbors, seed=args.seed,
                      device=device, progress=show_progress(args))


def build_basic_parser():
    parser = build_parser("basic", __doc__.split("\n\n")[0], DEFAULT_MAX_SIDE)
    parser.add_argument("--colors", type=colors_arg, default=COLORS, metavar="K|auto",
                        help=f"number of representative colours, or auto (default: {COLORS})")
    parser.add_argument("--neighbors", type=positive_int, default=NEIGHBORS, metavar="N",
                        help=f"neighbours that vote (default: {NEIGHBORS})")
    return parser


if __name__ == "__main__":
    sys.exit(main(build_basic_parser(), "basic", make_agent))
