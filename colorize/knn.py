"""Exact k nearest neighbours under Euclidean distance, ties broken by training index.

``nearest(train, query, k)`` returns, for every query row, the k training rows with the
smallest squared distance ``||q - x||^2``, ordered by (distance, training index). The answer
is exact: the final distances are float64 sums of squared differences, never the
``|q|^2 + |x|^2 - 2 q.x`` expansion (which cancels badly and would blur exact ties).

How the CPU finds them fast (the 3x3 gray patches of a 512-px photo: ~87,000 x 87,000 points
in 9-d, where brute force in NumPy is ~20x slower than scikit-learn's kd-tree):

1. **Duplicates are merged** (``np.unique`` on rows). Flat image areas give thousands of
   identical patches; each unique row remembers the first k of its training indices, which is
   all that ties ever need, so a flat region costs one point instead of thousands.
2. **A kd-tree on the principal axes.** Unique rows are centred and rotated onto their
   principal axes (a rotation keeps distances), then split recursively at the median of the
   widest axis into 2^D leaves of at most ``_LEAF`` points, stored contiguously. Every node
   keeps the tight bounding box of its points. Patches of natural images are very anisotropic
   (the mean brightness carries ~95% of the variance), which the rotation makes axis-aligned,
   so boxes are thin and box distances are sharp lower bounds.
3. **An upper bound per query**: brute force (float32 GEMM) against the points of a subtree of
   ``2^_BOUND_HEIGHT`` leaves around the query's own leaf gives the k-th smallest screened
   distance ``a_k`` and the threshold ``T = a_k + 2 delta`` (delta below).
4. **Breadth-first traversal, vectorised over (query, node) pairs**: a pair survives to the
   next level when the squared distance from the query to the node's box is ``<= T``. The
   surviving (query, leaf) pairs are grouped by leaf, and each leaf is one GEMM against the
   queries that need it; every point with screened distance ``<= T`` is a candidate.
5. **Exact selection**: candidates get float64 distances by direct differences, are expanded to
   their original training indices, and are ordered by (query, distance, index) with one
   lexsort; the first k per query are the answer.

Why screening in float32 cannot lose a neighbour: with ``delta`` an upper bound on
``|screened - exact|`` for any pair (float32 rounding of the rotated coordinates plus the
rounding of the expansion, bounded by ``64 * 2^-24 * (|q|^2 + max |x|^2)``, a generous
multiple of the worst case), the true k-th distance is at most ``a_k + delta`` and every point
within it screens at most ``a_k + 2 delta = T``; box distances are lower bounds of point
distances, and are compared with a relative slack on ``T``. So the candidate set contains every
point at or below the true k-th distance, ties included; exactness then rests on step 5 only.

The traversal is chunked over queries and the GEMMs are per leaf, so memory stays
``O(chunk * pairs per query + n)``, never ``m x n``. Small problems skip the tree and use
exact brute force directly.

On CuPy the tree does not pay: the GPU path is chunked brute force (float32 matrix products,
``argpartition`` for a short list, exact float64 re-ranking, (distance, index) ordering), all
on the device. A query whose short list cannot be certified complete (more near-ties than the
list holds, e.g. a flat image) is answered by the exact CPU path once at the end.
"""

import numpy as np

from nn.backend import get_array_module, to_numpy

_LEAF = 32              # points per kd-tree leaf (at most)
_BOUND_HEIGHT = 3       # the upper bound searches 2^3 leaves around the query's own leaf
_QUERY_CHUNK = 65536    # queries per traversal chunk (bounds memory)
_BRUTE_CELLS = 4_000_000  # below m * n_unique this many pairs, exact brute force is used
_BRUTE_CHUNK = 1 << 22  # pair-matrix entries per chunk in the brute-force paths
_EPS32 = 2.0 ** -24
_SAFETY = 64.0
_GPU_EXTRA = 10         # short-list length on the GPU is k + this


def _check(train, query, k):
    if train.ndim != 2 or query.ndim != 2:
        raise ValueError(
            f"nearest needs 2-D train and query arrays, got shapes {train.shape} and {query.shape}"
        )
    if train.shape[1] != query.shape[1]:
        raise ValueError(
            f"train rows have {train.shape[1]} values but query rows have {query.shape[1]}"
        )
    if int(k) != k or k < 1:
        raise ValueError(f"nearest needs a whole number of neighbours k >= 1, got {k!r}")
    if k > train.shape[0]:
        raise ValueError(
            f"cannot find {k} nearest neighbours among only {train.shape[0]} training rows"
        )


def nearest(train, query, k):
    """The exact k nearest training rows of every query row.

    train: (n, d), query: (m, d), any real dtype, NumPy or CuPy (both on the same library).
    Returns ``(indices, sq_distances)``, each (m, k): int64 row indices into ``train`` and
    float64 squared Euclidean distances, each row ordered by (distance, index).
    Raises ValueError for mismatched shapes, non-finite values, or k outside [1, n].
    """
    xp = get_array_module(train, query)
    train = xp.asarray(train)
    query = xp.asarray(query)
    _check(train, query, k)
    k = int(k)
    if not (bool(xp.isfinite(train).all()) and bool(xp.isfinite(query).all())):
        raise ValueError("nearest got NaN or infinite values")
    if query.shape[0] == 0:
        return xp.empty((0, k), dtype=xp.int64), xp.empty((0, k), dtype=xp.float64)
    if xp is not np:
        return _nearest_device(train, query, k, xp)
    return _nearest_cpu(train, query, k)


# ----------------------------------------------------------------------------------------
# exact selection shared by every path


def _first_indices(inverse, counts, k):
    """(u, k) table: the first k training indices of each unique row, -1 where it has fewer."""
    order = np.argsort(inverse, kind="stable")  # indices grouped by unique row, ascending
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    slot = np.arange(k)
    valid = slot[None, :] < counts[:, None]
    pos = np.minimum(starts[:, None] + slot[None, :], order.size - 1)
    return np.where(valid, order[pos], -1)


def _exact_sq(query, uniq, qi, uj):
    """float64 squared distances of candidate pairs, by direct differences."""
    out = np.empty(qi.size, dtype=np.float64)
    step = 1 << 20
    for s in range(0, qi.size, step):
        diff = query[qi[s:s + step]] - uniq[uj[s:s + step]]
        out[s:s + step] = np.einsum("ij,ij->i", diff, diff)
    return out


def _select(qi, uj, dist, first, k, m):
    """The k best (distance, index) per query among candidate pairs (all exact).

    qi, uj, dist: (c,) candidate query ids, unique-row ids and exact distances; every query
    must have candidates covering at least k training rows.
    """
    idx = first[uj]
    valid = idx >= 0
    qq = np.broadcast_to(qi[:, None], idx.shape)[valid]
    dd = np.broadcast_to(dist[:, None], idx.shape)[valid]
    ii = idx[valid]
    order = np.lexsort((ii, dd, qq))
    qq, dd, ii = qq[order], dd[order], ii[order]
    starts = np.searchsorted(qq, np.arange(m))
    pos = starts[:, None] + np.arange(k)[None, :]
    return ii[pos].astype(np.int64), dd[pos]


# ----------------------------------------------------------------------------------------
# CPU


def _nearest_cpu(train, query, k):
    train = np.ascontiguousarray(train, dtype=np.float64)
    query = np.ascontiguousarray(query, dtype=np.float64)
    uniq, inverse, counts = np.unique(train, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    first = _first_indices(inverse, counts, k)
    m = query.shape[0]
    if uniq.shape[0] * m <= _BRUTE_CELLS or uniq.shape[0] <= 2 * _LEAF << _BOUND_HEIGHT:
        qi, uj = _candidates_brute(uniq, query, k)
    else:
        qi, uj = _candidates_tree(uniq, query, k)
    dist = _exact_sq(query, uniq, qi, uj)
    return _select(qi, uj, dist, first, k, m)


def _candidates_brute(uniq, query, k):
    """Candidate pairs by exact brute force: per query, all unique rows within its k-th."""
    u = uniq.shape[0]
    kk = min(k, u)
    rows = max(1, _BRUTE_CHUNK // u)
    qis, ujs = [], []
    for s in range(0, query.shape[0], rows):
        diff = query[s:s + rows, None, :] - uniq[None, :, :]
        d2 = np.einsum("qud,qud->qu", diff, diff)
        kth = np.partition(d2, kk - 1, axis=1)[:, kk - 1]
        q, j = np.nonzero(d2 <= kth[:, None])
        qis.append(q + s)
        ujs.append(j)
    return np.concatenate(qis), np.concatenate(ujs)


class _Tree:
    """A complete kd-tree over rotated float32 points (see the module docstring).

    points: (u, d) float32, reordered so every node owns a contiguous range;
    ``perm`` maps tree order to the caller's row order; ``lo[t]``, ``hi[t]``: (2^t, d) boxes
    of the nodes at level t; ``split_dim[t]``, ``split_val[t]`` route a point to a child;
    ``bounds``: (2^depth + 1,) point ranges of the leaves.
    """

    def __init__(self, points, leaf):
        u, d = points.shape
        depth = 0
        while (u >> depth) > leaf:
            depth += 1
        self.depth = depth
        perm = np.arange(u)
        starts = np.zeros(1, dtype=np.int64)
        self.split_dim, self.split_val = [], []
        for level in range(depth):
            n_nodes = 1 << level
            bounds = (np.arange(n_nodes + 1) * u) >> level
            starts = bounds[:-1]
            pts = points[perm]
            lo = np.minimum.reduceat(pts, starts, axis=0)
            hi = np.maximum.reduceat(pts, starts, axis=0)
            dim = np.argmax(hi - lo, axis=1)
            node = np.repeat(np.arange(n_nodes), np.diff(bounds))
            value = pts[np.arange(u), dim[node]]
            order = np.lexsort((value, node))  # within each node, by its split axis
            perm = perm[order]
            mids = ((2 * np.arange(n_nodes) + 1) * u) >> (level + 1)
            self.split_dim.append(dim)
            self.split_val.append(points[perm[mids], dim])
        self.points = np.ascontiguousarray(points[perm])
        self.perm = perm
        self.bounds = (np.arange((1 << depth) + 1) * u) >> depth
        lo = np.minimum.reduceat(self.points, self.bounds[:-1], axis=0)
        hi = np.maximum.reduceat(self.points, self.bounds[:-1], axis=0)
        self.lo, self.hi = [None] * (depth + 1), [None] * (depth + 1)
        self.lo[depth], self.hi[depth] = lo, hi
        for level in range(depth - 1, -1, -1):
            lo = np.minimum(lo[0::2], lo[1::2])
            hi = np.maximum(hi[0::2], hi[1::2])
            self.lo[level], self.hi[level] = lo, hi
        self.sq_norms = np.einsum("ij,ij->i", self.points, self.points)

    def descend(self, q, level):
        """Node index at ``level`` whose routing region holds each query row (m,)."""
        node = np.zeros(q.shape[0], dtype=np.int64)
        for t in range(level):
            go_right = q[np.arange(q.shape[0]), self.split_dim[t][node]] >= self.split_val[t][node]
            node = 2 * node + go_right
        return node


def _rotation(uniq):
    """Centre (d,) and orthonormal principal axes (d, d) of the unique rows."""
    center = uniq.mean(axis=0)
    centred = uniq - center
    cov = centred.T @ centred
    _, vectors = np.linalg.eigh(cov)
    return center, vectors[:, ::-1]


def _screen(tree, q, qn, rows, lo, hi):
    """Screened squared distances (len(rows), hi - lo) of queries ``rows`` to tree points."""
    dots = q[rows] @ tree.points[lo:hi].T
    return (qn[rows, None] + tree.sq_norms[None, lo:hi]) - 2.0 * dots


def _groups(keys, n_groups):
    """Row order grouping equal keys, and the (n_groups + 1,) group boundaries in it."""
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(keys[order], np.arange(n_groups + 1))
    return order, bounds


def _candidates_tree(uniq, query, k):
    center, axes = _rotation(uniq)
    tree = _Tree(((uniq - center) @ axes).astype(np.float32), _LEAF)
    q_all = ((query - center) @ axes).astype(np.float32)
    qn_all = np.einsum("ij,ij->i", q_all, q_all)
    max_xn = float(tree.sq_norms.max())
    qis, ujs = [], []
    for s in range(0, q_all.shape[0], _QUERY_CHUNK):
        q = q_all[s:s + _QUERY_CHUNK]
        qn = qn_all[s:s + _QUERY_CHUNK]
        delta = (_SAFETY * _EPS32) * (qn + max_xn) + np.float32(1e-30)
        thresh = _upper_bound(tree, q, qn, k) + 2 * delta
        qi, ti = _group_search(tree, q, qn, thresh, delta, k)
        qis.append(qi + s)
        ujs.append(tree.perm[ti])
    return np.concatenate(qis), np.concatenate(ujs)


def _upper_bound(tree, q, qn, k):
    """k-th smallest screened distance to the points of the query's home subtree (m,)."""
    u = tree.points.shape[0]
    level = max(0, tree.depth - _BOUND_HEIGHT)
    while level > 0 and (u >> level) < k:  # every home subtree must hold k points
        level -= 1
    home = tree.descend(q, level)
    order, bounds = _groups(home, 1 << level)
    kth = np.empty(q.shape[0], dtype=np.float32)
    node_bounds = (np.arange((1 << level) + 1) * u) >> level
    for node in range(1 << level):
        rows = order[bounds[node]:bounds[node + 1]]
        if rows.size:
            d2 = _screen(tree, q, qn, rows, node_bounds[node], node_bounds[node + 1])
            kth[rows] = np.partition(d2, k - 1, axis=1)[:, k - 1]
    return kth


def _group_search(tree, q, qn, thresh, delta, k):
    """Candidate (query, tree point) pairs, searched per group of queries sharing a home leaf.

    A group's box and largest threshold prune the tree (box-to-box distances); the group's
    queries are then screened against every point of the surviving leaves with one GEMM, and
    each query keeps the points within ``a_k + 2 delta`` of its k-th screened distance ``a_k``
    (the k-th over a superset of its true neighbours, so the same argument as for ``T``).
    """
    # queries share a group when they share a home leaf and the octave of their threshold,
    # so one textured query (large threshold) does not widen the search of its flat neighbours
    octave = np.clip(np.floor(np.log2(np.maximum(thresh, 1e-30))), -15, 32).astype(np.int64) + 15
    key = tree.descend(q, tree.depth) * 48 + octave
    order, bounds = _groups(key, 48 << tree.depth)
    groups = np.nonzero(np.diff(bounds))[0]
    starts = bounds[groups]
    qs = q[order]
    g_lo = np.minimum.reduceat(qs, starts, axis=0)
    g_hi = np.maximum.reduceat(qs, starts, axis=0)
    g_t = np.maximum.reduceat(thresh[order], starts) * np.float32(1 + 1e-5)
    pair_g, pair_leaf = _traverse_groups(tree, g_lo, g_hi, g_t)
    pair_bounds = np.searchsorted(pair_g, np.arange(groups.size + 1))
    qis, tis = [], []
    for g in range(groups.size):
        rows = order[starts[g]:bounds[groups[g] + 1]]
        leaves = pair_leaf[pair_bounds[g]:pair_bounds[g + 1]]
        lo, size = tree.bounds[leaves], np.diff(tree.bounds)[leaves]
        offsets = np.cumsum(size) - size
        points = np.repeat(lo - offsets, size) + np.arange(size.sum())
        d2 = (qn[rows, None] + tree.sq_norms[None, points]) - 2.0 * (q[rows] @ tree.points[points].T)
        kk = min(k, points.size) - 1
        a_k = np.partition(d2, kk, axis=1)[:, kk]
        r, c = np.nonzero(d2 <= (a_k + 2 * delta[rows])[:, None])
        qis.append(rows[r])
        tis.append(points[c])
    return np.concatenate(qis), np.concatenate(tis)


def _traverse_groups(tree, g_lo, g_hi, g_t):
    """(group, leaf) pairs, group-major, whose boxes are within the group's threshold."""
    pair_g = np.arange(g_lo.shape[0])
    pair_node = np.zeros(g_lo.shape[0], dtype=np.int64)
    for level in range(1, tree.depth + 1):
        pair_node = (2 * np.repeat(pair_node, 2)) + np.tile([0, 1], pair_node.size)
        pair_g = np.repeat(pair_g, 2)
        gap = np.maximum(tree.lo[level][pair_node] - g_hi[pair_g], g_lo[pair_g] - tree.hi[level][pair_node])
        np.maximum(gap, 0, out=gap)
        keep = np.einsum("ij,ij->i", gap, gap) <= g_t[pair_g]
        pair_g, pair_node = pair_g[keep], pair_node[keep]
    return pair_g, pair_node


# ----------------------------------------------------------------------------------------
# GPU (any array module; used with CuPy)


def _nearest_device(train, query, k, xp):
    """Chunked brute force on the device, exact re-ranking; CPU fallback for uncertified rows."""
    n, m = train.shape[0], query.shape[0]
    train64 = train.astype(xp.float64)
    query64 = query.astype(xp.float64)
    center = train64.mean(axis=0)
    t32 = (train64 - center).astype(xp.float32)
    tn = xp.einsum("ij,ij->i", t32, t32)
    max_tn = tn.max()
    short = min(n, k + _GPU_EXTRA)
    rows = max(1, _BRUTE_CHUNK // n)
    out_i = xp.empty((m, k), dtype=xp.int64)
    out_d = xp.empty((m, k), dtype=xp.float64)
    uncertified = xp.zeros(m, dtype=bool)
    for s in range(0, m, rows):
        q64 = query64[s:s + rows]
        q32 = (q64 - center).astype(xp.float32)
        qn = xp.einsum("ij,ij->i", q32, q32)
        d2 = (qn[:, None] + tn[None, :]) - 2.0 * (q32 @ t32.T)
        if short < n:
            part = xp.argpartition(d2, short, axis=1)
            cand = part[:, :short]
            next_best = xp.take_along_axis(d2, part[:, short:short + 1], axis=1)[:, 0]
        else:
            cand = xp.broadcast_to(xp.arange(n)[None, :], (q64.shape[0], n))
            next_best = xp.full(q64.shape[0], xp.inf, dtype=xp.float32)
        diff = q64[:, None, :] - train64[cand]
        exact = xp.einsum("qcd,qcd->qc", diff, diff)
        order = xp.lexsort(xp.stack([cand.reshape(-1), exact.reshape(-1),
                                     xp.repeat(xp.arange(cand.shape[0]), cand.shape[1])]))
        order = (order % cand.shape[1]).reshape(cand.shape)[:, :k]
        out_i[s:s + rows] = xp.take_along_axis(cand, order, axis=1)
        out_d[s:s + rows] = xp.take_along_axis(exact, order, axis=1)
        delta = (_SAFETY * _EPS32) * (qn + max_tn)
        # an unlisted point screens >= next_best, so its exact distance is >= next_best - delta
        uncertified[s:s + rows] = (next_best.astype(xp.float64) - delta) <= out_d[s:s + rows, k - 1]
    bad = xp.nonzero(uncertified)[0]
    if bad.size:
        bad_host = to_numpy(bad)
        idx, dist = _nearest_cpu(to_numpy(train), to_numpy(query)[bad_host], k)
        out_i[bad] = xp.asarray(idx)
        out_d[bad] = xp.asarray(dist)
    return out_i, out_d
