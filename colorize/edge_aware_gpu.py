"""The conjugate-gradient step of :mod:`colorize.edge_aware` as CUDA kernels, for CuPy.

The arithmetic is that of ``edge_aware``'s NumPy code, which stays the definition; only the
way it is dispatched differs. The images there are small (a 256-px photo's strip is about
8,000 pixels), so on a GPU each CuPy operation costs far more in its launch and Python
dispatch than in arithmetic, and the NumPy-style step took about 35 of them. Here a step is 8
launches: two neighbour sums, one subtraction, the operator's combination, two dot products
and the two vector updates, each one kernel over the whole (C, H, W) planes.

Differences from the NumPy step, all in the last bits: the dot products multiply and add in
float64 (NumPy adds float32 products pairwise, then converts the sum), and the compiler may
fuse a multiply and an add into one rounding.

Imported by ``edge_aware`` only for CuPy arrays: it needs CuPy to load.
"""

import cupy

# Output element ``i`` of (C, H, W) ``total`` is pixel (y, x) of plane c; offset k of
# ``edge_aware.OFFSETS`` is (m / 3 - 1, m % 3 - 1) with m = k, skipping the centre (m = 4).
_NEIGHBOUR_SUM = cupy.ElementwiseKernel(
    "raw T u, raw T weights, int64 height, int64 width, int64 sign",
    "T total",
    """
    const ptrdiff_t plane = height * width;
    const ptrdiff_t c = i / plane, p = i % plane;
    const ptrdiff_t y = p / width, x = p % width;
    T acc = 0;
    for (int k = 0; k < 8; ++k) {
        const int m = k < 4 ? k : k + 1;
        const ptrdiff_t yy = y + sign * (m / 3 - 1), xx = x + sign * (m % 3 - 1);
        if (yy >= 0 && yy < height && xx >= 0 && xx < width) {
            acc += weights[k * plane + p] * u[c * plane + yy * width + xx];
        }
    }
    total = acc;
    """,
    "edge_aware_neighbour_sum")

_COMBINE = cupy.ElementwiseKernel(
    "T c, T d, T r, T transposed, T lam", "T out",
    "out = c * d + lam * (r - transposed)",
    "edge_aware_combine")

_DOT = cupy.ReductionKernel(
    "T x, T y", "float64 out",
    map_expr="(double)x * (double)y", reduce_expr="a + b", post_map_expr="out = a",
    identity="0", name="edge_aware_dot", reduce_type="double")

_ADVANCE = cupy.ElementwiseKernel(
    "float64 rr, float64 dad, T direction, T ad", "T u, T residual",
    """
    const T alpha = dad > 0 ? (T)(rr / dad) : (T)0;
    u += alpha * direction;
    residual -= alpha * ad;
    """,
    "edge_aware_advance")

_NEW_DIRECTION = cupy.ElementwiseKernel(
    "float64 rr_new, float64 rr, T residual", "T direction",
    """
    const T beta = rr > 0 ? (T)(rr_new / rr) : (T)0;
    direction = residual + beta * direction;
    """,
    "edge_aware_new_direction")


def neighbour_sum(weights, u, sign):
    """``sum_k weights[k][r] u[r + sign d_k]`` for (C, H, W) ``u`` and (8, H, W) ``weights``,
    zero outside the image: ``NeighbourGraph``'s sums in one launch. Returns ``u``'s dtype."""
    # the kernel indexes the planes by hand: any other shape would read outside them
    if u.ndim != 3 or weights.ndim != 3 or weights.shape[0] != 8:
        raise ValueError(f"neighbour sums take (C, H, W) planes and (8, H, W) weights, got "
                         f"{tuple(u.shape)} and {tuple(weights.shape)}")
    c, h, w = u.shape
    if (h, w) != tuple(weights.shape[1:]):
        raise ValueError(f"planes of shape {(h, w)} do not match the graph's "
                         f"{tuple(weights.shape[1:])}")
    if u.dtype.kind != "f":
        # as on NumPy, which cannot write the weighted sums into integer planes
        raise TypeError(f"neighbour sums need floating-point planes, got {u.dtype}")
    u = cupy.ascontiguousarray(u)
    weights = cupy.ascontiguousarray(weights.astype(u.dtype, copy=False))
    total = cupy.empty_like(u)
    _NEIGHBOUR_SUM(u, weights, h, w, sign, total)
    return total


class KernelSteps:
    """The pieces of ``edge_aware``'s conjugate-gradient step (see ``edge_aware.CGSteps``,
    whose NumPy arithmetic they repeat) as one kernel each."""

    def __init__(self, graph, confidence, lam):
        self.graph, self.confidence, self.lam = graph, confidence, lam

    def operator(self, u):
        r = u - self.graph.apply(u)
        out = cupy.empty_like(u)
        _COMBINE(self.confidence, u, r, self.graph.apply_t(r), self.lam, out)
        return out

    @staticmethod
    def dot(a, b):
        return _DOT(a, b)

    @staticmethod
    def advance(u, residual, direction, ad, rr, dad):
        _ADVANCE(rr, dad, direction, ad, u, residual)

    @staticmethod
    def new_direction(residual, direction, rr_new, rr):
        # unlike CGSteps.new_direction, ``direction`` is overwritten and returned
        _NEW_DIRECTION(rr_new, rr, residual, direction)
        return direction
