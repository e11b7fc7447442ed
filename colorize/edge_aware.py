"""Gray-guided edge-aware smoothing of chroma (Levin, Lischinski and Weiss 2004).

"Colorization using optimization" rests on one premise: neighbouring pixels with similar
gray values should have similar colours. For pixel ``r`` and its 8 neighbours ``s``:

    w_rs ∝ exp(-(Y_r - Y_s)^2 / (2 sigma_r^2)),   sum_s w_rs = 1,

where ``2 sigma_r^2 = 0.6 var_r`` and ``var_r`` is the variance of the gray values in the 3x3
window around ``r`` (with a floor, so flat regions still smooth). The factor 0.6 is the one
the authors' published implementation uses; it makes the weights fall faster across an edge:
beside an ideal step edge a pixel gives 0.03 % of its weight to the far side, against 0.7 %
with ``2 sigma^2 = var``. With ``W``
the matrix of these weights, ``(I - W) u`` is how far each pixel's chroma is from the
gray-guided average of its neighbours.

Here the premise refines a prediction ``u0`` instead of propagating scribbles: minimise

    E(u) = sum_r c_r (u_r - u0_r)^2 + lam * |(I - W) u|^2

(``c`` a per-pixel confidence, 1 by default). Its minimiser solves the symmetric positive
definite system ``(C + lam (I - W)^T (I - W)) u = C u0``: the normal equations of the
paper's least-squares problem, which the published code solves with the scribbles as hard
constraints of ``(I - W) u = 0`` instead; being normal equations, their condition number is
about the square of that system's, which is why float32 conjugate gradients need many steps
at a large ``lam``. It is solved matrix-free by conjugate
gradients: ``W`` is applied as 8 shifted, weighted copies of the image, ``W^T`` as the same
copies shifted back, so nothing larger than a few images is held. On CuPy each piece of a
step is one CUDA kernel (:mod:`colorize.edge_aware_gpu`): the images are small, and a GPU
spent its time launching the NumPy-style step's many small operations, not computing.
Colour edges snap to gray edges and isolated chroma noise is averaged away, while the data
term keeps the prediction's colours.

:func:`propagate_from_left` is the paper's own use, scribbles: when the colours of the image
just left of the gray one are known (the training half of the coursework protocol), the
energy is minimised over both side by side, with the known chroma as a heavy data term and
the prediction as a light one. With a large ``lam`` the known colours flow across the seam
and along every region of similar gray, while the prediction still decides the colour of
regions the known half never reaches. Only the known columns near the seam take part
(:func:`known_columns`: 45 at ``lam = 1e6``): the heavy data term holds the others to their
colours, so they cannot pass anything on.
"""

import math

import numpy as np

from nn.backend import as_real_number, get_array_module, is_whole_number

from .color import rgb_to_chroma, rgb_to_gray

OFFSETS = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0))
MAX_STRENGTH = 1e9
"""The largest smoothing strength ``lam``. The conjugate-gradient products grow like
``lam^2`` in float32: near 1e11 they overflow, the step size becomes 0 and the input comes
back unchanged without a word (and NaN far above), so strengths past this margin are refused."""
MAX_GRAY = 1e15
"""The largest gray magnitude :func:`affinity_weights` takes (gray is on 0..255): the window
variance sums squares in float32, which overflow for values near 1e19 and would silently give
"no neighbour" weights."""
VARIANCE_FLOOR = 4.0
"""Floor on the window variance of gray (0..255 units), this project's own rule: without a
floor a flat window's weights are 0 / 0. The authors' published code floors sigma
differently (relative to the window's smallest gray difference, and at 2e-6)."""


def shift(a, dy, dx):
    """``b[y, x] = a[y + dy, x + dx]`` for (H, W, ...) ``a``, zero where that falls outside."""
    xp = get_array_module(a)
    h, w = a.shape[:2]
    b = xp.zeros_like(a)
    ys, yd = (slice(dy, h), slice(0, h - dy)) if dy >= 0 else (slice(0, h + dy), slice(-dy, h))
    xs, xd = (slice(dx, w), slice(0, w - dx)) if dx >= 0 else (slice(0, w + dx), slice(-dx, w))
    b[yd, xd] = a[ys, xs]
    return b


def affinity_weights(gray):
    """(H, W) gray on 0..255 -> (8, H, W) float32 weights ``w_rs``, one plane per offset.

    Neighbours outside the image get weight 0; each pixel's weights sum to 1 (a 1 x 1
    image, whose pixel has no neighbour, gets all zeros). ValueError for another shape or for a
    NaN, infinite or huge gray level (beyond ``MAX_GRAY``: its weights would silently become
    "no neighbour").
    """
    xp = get_array_module(gray)
    if gray.ndim != 2:
        raise ValueError(f"gray must be an (H, W) image, got shape {tuple(gray.shape)}")
    g = gray.astype(np.float32)
    # NaN fails the comparison too
    if not bool((xp.abs(g) <= np.float32(MAX_GRAY)).all()):
        raise ValueError(f"gray holds NaN, infinite or huge values (beyond {MAX_GRAY:g}; gray "
                         "is on 0..255)")
    ones = xp.ones_like(g)
    count = ones + sum(shift(ones, dy, dx) for dy, dx in OFFSETS)
    mean = (g + sum(shift(g, dy, dx) for dy, dx in OFFSETS)) / count
    mean_sq = (g * g + sum(shift(g * g, dy, dx) for dy, dx in OFFSETS)) / count
    var = xp.maximum(mean_sq - mean * mean, np.float32(VARIANCE_FLOOR))
    two_sigma_sq = np.float32(0.6) * var
    w = xp.stack([
        shift(ones, dy, dx) * xp.exp(-((g - shift(g, dy, dx)) ** 2) / two_sigma_sq)
        for dy, dx in OFFSETS
    ])
    total = w.sum(axis=0, keepdims=True)
    return xp.where(total > 0, w / xp.maximum(total, np.float32(1e-30)), np.float32(0)).astype(np.float32)


class NeighbourGraph:
    """``W`` and ``W^T`` of :func:`affinity_weights` applied to (C, H, W) planes.

    ``(W u)_r = sum_k w_k[r] u[r + d_k]`` over the 8 offsets ``d_k``; since ``r + d_k = s``
    means ``r = s - d_k``, ``(W^T v)_s = sum_r w_rs v_r = sum_k w_k[s - d_k] v[s - d_k]``: the
    same form with the weight planes shifted back along their offsets (computed once).

    Channels come first and every neighbour is a view into one zero-bordered copy of the
    input, so each term is one multiply-add over whole contiguous rows of a plane. (With the
    channels last, NumPy would broadcast the weights over an axis of length 2 and spend its
    time on loop overhead: this layout makes the conjugate-gradient step about 4x faster.)
    On CuPy the same sums are one kernel (:func:`colorize.edge_aware_gpu.neighbour_sum`),
    which adds the 8 terms in the same order (a fused multiply-add may round the last bit
    differently).
    """

    def __init__(self, weights):
        xp = get_array_module(weights)
        self.weights = weights
        self.weights_t = xp.stack([shift(weights[k], -dy, -dx) for k, (dy, dx) in enumerate(OFFSETS)])
        self._padded = None

    def _neighbour_sum(self, weights, u, sign):
        xp = get_array_module(u)
        if xp is not np:
            from .edge_aware_gpu import neighbour_sum

            return neighbour_sum(weights, u, sign)
        c, h, w = u.shape
        if (self._padded is None or self._padded.shape != (c, h + 2, w + 2)
                or self._padded.dtype != u.dtype):
            self._padded = xp.zeros((c, h + 2, w + 2), dtype=u.dtype)
        self._padded[:, 1:-1, 1:-1] = u
        total = xp.empty_like(u)
        term = xp.empty_like(u)
        for k, (dy, dx) in enumerate(OFFSETS):
            dy, dx = sign * dy, sign * dx
            neighbour = self._padded[:, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
            # the first term is written, not added to zeros: one pass less, the same sum
            xp.multiply(weights[k], neighbour, out=total if k == 0 else term)
            if k:
                total += term
        return total

    def apply(self, u):
        """``W u`` for (C, H, W) ``u``."""
        return self._neighbour_sum(self.weights, u, 1)

    def apply_t(self, v):
        """``W^T v`` for (C, H, W) ``v``."""
        return self._neighbour_sum(self.weights_t, v, -1)


_GPU_CHECK_EVERY = 8


def _safe_ratio(num, den):
    """``num / den`` as float32, and 0 where ``den`` is not positive (NumPy scalars).

    A system solved exactly between two convergence tests then stays where it is instead of
    turning into NaN.
    """
    safe = den > 0
    return np.where(safe, num / np.where(safe, den, 1.0), 0.0).astype(np.float32)


class CGSteps:
    """The pieces of a conjugate-gradient step on the system ``A u = b`` of
    :func:`smooth_chroma`, ``A = C + lam (I - W)^T (I - W)``, on (C, H, W) NumPy planes.

    ``colorize.edge_aware_gpu.KernelSteps`` does the same on CuPy planes, a kernel each.
    """

    def __init__(self, graph, confidence, lam):
        self.graph, self.confidence, self.lam = graph, confidence, lam

    def operator(self, u):
        """``A u``."""
        r = u - self.graph.apply(u)
        return self.confidence * u + self.lam * (r - self.graph.apply_t(r))

    @staticmethod
    def dot(a, b):
        """``<a, b>``: a float32 sum, then float64 for the scalar algebra."""
        return (a * b).sum().astype(np.float64)

    @staticmethod
    def advance(u, residual, direction, ad, rr, dad):
        """The step along ``direction``, in place: ``alpha = rr / dad`` (0 unless
        ``dad > 0``), ``u += alpha d``, ``residual -= alpha A d``."""
        alpha = _safe_ratio(rr, dad)
        u += alpha * direction
        residual -= alpha * ad

    @staticmethod
    def new_direction(residual, direction, rr_new, rr):
        """The next search direction, ``residual + (rr_new / rr) direction`` (the ratio 0
        unless ``rr > 0``), as a new array."""
        return residual + _safe_ratio(rr_new, rr) * direction


def _check_strength(strength):
    """``strength`` as a Python float; ValueError unless it is a number in ``[0, MAX_STRENGTH]``
    (NaN would pass ``<= 0`` tests and turn the whole solve into NaN). A number is what
    :func:`nn.backend.as_real_number` reads as one (NumPy scalars and 0-d arrays included);
    text, booleans and longer arrays are not."""
    value = as_real_number(strength)
    if value is None or not 0 <= value <= MAX_STRENGTH:
        raise ValueError(f"the smoothing strength must be a number from 0 to {MAX_STRENGTH:g}, "
                         f"got {strength!r}")
    return value


def smooth_chroma(gray, chroma, strength=1.0, confidence=None, iterations=100, tol=1e-4,
                  check_every=None):
    """Refine (H, W, C) ``chroma`` guided by (H, W) ``gray``; returns (H, W, C) float32.

    Minimises ``sum_r c_r |u_r - chroma_r|^2 + strength * |(I - W) u|^2`` by conjugate
    gradients started from ``chroma``, for at most ``iterations`` steps or until the residual
    norm falls below ``tol`` times the right-hand side's (the residual as CG updates it step
    by step, which in float32 drifts from the true ``b - A u``: see ``PROPAGATE_ITERATIONS``).
    ``confidence`` (H, W) is ``c`` (default 1 everywhere; must be positive). ``strength = 0``
    returns (finite) ``chroma`` unchanged. ``check_every``: steps between convergence tests
    (default 1 on NumPy, 8 on CuPy, where each test is a device-to-host read). A 1 x 1 image has
    no neighbour to be smooth with, so it is returned unchanged too. The arrays may mix host
    and device: they all go where any of them is. Raises ValueError for a strength outside
    ``[0, MAX_STRENGTH]``, for chroma and gray that do not share H and W or hold NaN or
    infinite values, for a confidence that is not positive and finite everywhere in float32,
    and for ``check_every`` below 1.
    """
    xp = get_array_module(chroma, gray, confidence)
    value = _check_strength(strength)
    if check_every is not None and not (is_whole_number(check_every) and check_every >= 1):
        raise ValueError(f"check_every must be a whole number of at least 1, got {check_every!r}")
    if not (is_whole_number(iterations) and iterations >= 0):
        raise ValueError(f"iterations must be a whole number of at least 0, got {iterations!r}")
    check_every = None if check_every is None else int(check_every)
    iterations = int(iterations)
    chroma, gray = xp.asarray(chroma), xp.asarray(gray)
    if chroma.ndim != 3 or gray.shape != chroma.shape[:2]:
        raise ValueError(f"chroma (H, W, C) and gray (H, W) must share H and W, got chroma "
                         f"{tuple(chroma.shape)} and gray {tuple(gray.shape)}")
    chroma = chroma.astype(np.float32)
    if not bool(xp.isfinite(chroma).all()):
        raise ValueError("chroma holds NaN or infinite values (in float32)")
    if confidence is None:
        c = xp.ones(gray.shape, dtype=np.float32)
    else:
        if confidence.shape != gray.shape:
            raise ValueError(f"confidence must have the gray's shape {tuple(gray.shape)}, got "
                             f"{tuple(confidence.shape)}")
        # checked as the solve will use it: 1e39 is finite, but infinite in float32
        with np.errstate(over="ignore"):  # an overflow shows as inf just below
            c = xp.asarray(confidence).astype(np.float32)
        # one reduction, so one device-to-host read on CuPy
        if not bool((xp.isfinite(c) & (c > 0)).all()):
            raise ValueError("confidence must be positive and finite everywhere in float32 (a "
                             "zero or negative data weight makes the system singular or "
                             "indefinite)")
    if strength == 0 or gray.size == 1:
        return chroma
    # the solve runs on (C, H, W) planes (see NeighbourGraph); the result goes back to (H, W, C)
    u0 = xp.ascontiguousarray(chroma.transpose(2, 0, 1))
    c = c[None]
    graph = NeighbourGraph(affinity_weights(gray))
    lam = np.float32(value)  # not np.float32(strength), which refuses a CuPy 0-d array
    if xp is np:
        steps = CGSteps(graph, c, lam)
    else:
        from .edge_aware_gpu import KernelSteps

        steps = KernelSteps(graph, c, lam)
    b = c * u0
    u = u0.copy()
    residual = b - steps.operator(u)
    direction = residual.copy()
    rr = steps.dot(residual, residual)
    stop = (tol**2) * steps.dot(b, b)
    # Testing convergence reads a scalar back to the host; on the GPU that stalls the queue,
    # so it is tested every few steps there (the extra steps only refine the solution).
    if check_every is None:
        check_every = 1 if xp is np else _GPU_CHECK_EVERY
    for step in range(iterations):
        if step % check_every == 0 and bool(rr <= stop):
            break
        ad = steps.operator(direction)
        steps.advance(u, residual, direction, ad, rr, steps.dot(direction, ad))
        rr_new = steps.dot(residual, residual)
        direction = steps.new_direction(residual, direction, rr_new, rr)
        rr = rr_new
    return xp.ascontiguousarray(u.transpose(1, 2, 0))


KNOWN_WEIGHT = 1e3
"""Data-term weight of a known pixel in :func:`propagate_from_left`, against 1 for a predicted
one: the known colours act as scribbles that the solution all but reproduces."""
MIN_KNOWN_COLUMNS = 16
"""The fewest known columns :func:`known_columns` keeps (weak strengths)."""


def known_columns(strength):
    """How many known columns next to the seam :func:`propagate_from_left` keeps at ``strength``:
    ``max(MIN_KNOWN_COLUMNS, ceil(8 (strength / KNOWN_WEIGHT)^(1/4)))`` (16 up to about 1.6e4,
    26 at 1e5, 45 at 1e6).

    The heavy data term holds every known pixel to its colour against all but the smoothest
    deviations: one that varies over ``L`` pixels costs ``KNOWN_WEIGHT`` per pixel in the data
    term and about ``strength / L^4`` in the smoothness term (a squared second difference), so
    a known column's influence on the others fades within a few multiples of
    ``(strength / KNOWN_WEIGHT)^(1/4)`` pixels (5.6 at 1e6), and columns farther from the seam
    cannot reach the gray part. Measured with exact sparse solves of the right halves of the
    benchmark photos at 256 px (the seed-0 network's guess; chroma units of 0..255 colours):
    on astronaut, keeping 16 / 32 / 48 of the 128 known columns moves the chroma by at most
    0.3 / 1e-2 / 7e-5 at 1e6, and 16 columns by 1.4e-3 at 1e4; on chelsea, rocket and
    grace_hopper the 16 / 26 / 45 columns this rule keeps at 1e4 / 1e5 / 1e6 move it by at most
    6e-4."""
    value = _check_strength(strength)
    return max(MIN_KNOWN_COLUMNS, math.ceil(8 * (value / KNOWN_WEIGHT) ** 0.25))


PROPAGATE_ITERATIONS = 1000
"""The cap on the conjugate-gradient steps of :func:`propagate_from_left` up to ``lam = 1e5``.
The solve also stops once the residual falls to 1e-6 of the right-hand side, which weak
strengths reach early (117 steps at 1e2 on chelsea at a quarter of its size, from a zero
chroma guess). That is the residual CG updates step by step; in float32 it drifts below the
true one (chelsea at half size, lam 1e4: stopped after 849 steps with a true relative residual
of 1.3e-5). A large ``lam`` makes the system stiff, and float32 CG stalls (lam 1e5: a true
relative residual of 6e-4 after the 1000 steps), so there the cap decides; on 256-px photos the
result is within 0.04 dB PSNR of the exact solution (a sparse direct solve) after 1000 steps at
``lam = 1e5``."""


MAX_PROPAGATE_ITERATIONS = 10_000
"""No strength gets more CG steps than this (the count for 1e7): a strength of 1e9 would
otherwise ask for 100,000 steps, and float32 CG stalls long before."""


def propagation_iterations(strength):
    """CG steps for strength ``lam``: ``PROPAGATE_ITERATIONS`` up to 1e5, then growing as
    ``sqrt(lam)``, as CG's step count does with the square root of the condition number
    (which grows like ``lam``): 3163 at 1e6, where 256-px benchmark photos came within 0.02 dB
    of the exact solution from the network's guess (a reviewer measured 0.022 dB on coffee and
    0.066 dB on chelsea from a zero guess); at most ``MAX_PROPAGATE_ITERATIONS``."""
    value = _check_strength(strength)
    steps = math.ceil(PROPAGATE_ITERATIONS * math.sqrt(value / 1e5))
    return min(MAX_PROPAGATE_ITERATIONS, max(PROPAGATE_ITERATIONS, steps))


def propagate_from_left(known_rgb, gray, chroma, strength, iterations=None):
    """Chroma for (H, W) ``gray`` whose left neighbour (H, Wk, 3) ``known_rgb`` is in colour.

    Minimises ``sum_r c_r |u_r - u0_r|^2 + strength * |(I - W) u|^2`` over the image
    ``[known | gray]`` (``W`` from its gray), where ``u0`` is the known chroma on the left and
    the predicted (H, W, C) ``chroma`` on the right, and ``c`` is ``KNOWN_WEIGHT`` on the left
    and 1 on the right. Returns the right part, (H, W, C) float32. ``strength = 0`` returns
    ``chroma`` unchanged. ``iterations``: the cap on the CG steps (default
    :func:`propagation_iterations`); the solve stops earlier at a relative residual of 1e-6.
    Only the :func:`known_columns` known columns nearest the seam take part: the others
    cannot move the result measurably, and would only cost time.
    ValueError as :func:`smooth_chroma`'s, and for known colours that are not finite.
    """
    xp = get_array_module(chroma, gray, known_rgb)
    _check_strength(strength)
    if (known_rgb.ndim != 3 or chroma.ndim != 3 or known_rgb.shape[0] != gray.shape[0]
            or gray.shape != chroma.shape[:2]):
        raise ValueError(f"known colours (H, Wk, 3) {tuple(known_rgb.shape)}, gray (H, W) "
                         f"{tuple(gray.shape)} and chroma (H, W, C) {tuple(chroma.shape)} must "
                         "share their height (and gray and chroma their width)")
    if strength == 0:
        chroma = xp.asarray(chroma).astype(np.float32)
        if not bool(xp.isfinite(chroma).all()):
            raise ValueError("chroma holds NaN or infinite values (in float32)")
        return chroma
    known_rgb = xp.asarray(known_rgb, dtype=np.float32)
    if not bool(xp.isfinite(known_rgb).all()):
        raise ValueError("the known colours hold NaN or infinite values")
    known_rgb = known_rgb[:, max(0, known_rgb.shape[1] - known_columns(strength)):]
    width = known_rgb.shape[1]
    both_gray = xp.concatenate([rgb_to_gray(known_rgb).astype(np.float32),
                                xp.asarray(gray, dtype=np.float32)], axis=1)
    guess = xp.concatenate([rgb_to_chroma(known_rgb).astype(np.float32),
                            xp.asarray(chroma).astype(np.float32)], axis=1)
    confidence = xp.ones(both_gray.shape, dtype=np.float32)
    confidence[:, :width] = np.float32(KNOWN_WEIGHT)
    solved = smooth_chroma(both_gray, guess, strength, confidence=confidence,
                           iterations=(propagation_iterations(strength) if iterations is None
                                       else iterations), tol=1e-6)
    return xp.ascontiguousarray(solved[:, width:])
