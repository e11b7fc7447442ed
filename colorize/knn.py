"""Exact k nearest neighbours under Euclidean distance, ties broken by training index.

``nearest(train, query, k)`` returns, for every query row, the k training rows with the
smallest squared distance ``||q - x||^2``, ordered by (distance, training index). The answer
is exact: the final distances are float64 sums of squared differences, never the
``|q|^2 + |x|^2 - 2 q.x`` expansion (which cancels badly and would blur exact ties).
:func:`nearest_reference` computes the same answer in the plainest way (every distance, then a
sort per query): read it first; the rest of this module makes it fast.

How the CPU finds them fast (the 3x3 gray patches of a 512-px photo: ~87,000 x 87,000 points
in 9-d, where brute force in NumPy is ~20x slower than scikit-learn's kd-tree): a *sweep along
the first principal axis with sorted-projection pruning*, chosen because it turns the search
into a few hundred large, contiguous matrix products, which is what NumPy does well
(a kd-tree walk is a per-query loop, which NumPy does badly: that version measured 6x slower
than scikit-learn here).

1. **Duplicates are merged** (one lexsort of the rows). Flat image areas give thousands of
   identical patches; each unique row remembers the first k of its training indices, which is
   all that ties ever need, so a flat region costs one point instead of thousands.
2. **Rotate onto the principal axes** (a rotation keeps distances). For natural-image patches
   the first axis (the patch brightness) carries ~95 % of the variance, so the projection on
   it is a sharp lower bound: ``|x_1 - q_1| <= |x - q|``.
3. **An upper bound per query**: the k-th smallest distance to the ``_RANK_WINDOW`` points
   (or ``_RANK_WINDOW_PER_K * k``, if more: a window that k fills would bound by its farthest
   point, and a loose bound makes the sweep screen thousands of points per query) nearest to
   the query in two sort orders (by the first axis; by strips of the first axis sorted along
   the second, which finds good neighbours for textured patches).
4. **The sweep**: queries are ordered by the octave of their bound, then by the first axis,
   and cut into blocks of ``_SWEEP_BLOCK``. A block's training window is the contiguous run
   of first-axis-sorted points within the block's largest bound radius of its first-axis
   span; one GEMM on lifted vectors (``[q, 1] . [-2x, |x|^2]``) screens the block against the
   window. Per query, only points within ``a_k + 2 delta`` of the k-th smallest screened
   distance ``a_k`` are kept (about k per query, plus near-ties).
5. **Exact selection**: candidates get float64 distances by direct differences, are expanded to
   their original training indices, and are ordered by (query, distance, index) with one
   lexsort; the first k per query are the answer.

Why screening cannot lose a neighbour: with ``delta`` an upper bound on ``|screened - exact|``
for any pair (rounding of the rotated coordinates plus the rounding of the expansion,
bounded by ``64 * eps * (|q|^2 + max |x|^2)``, with ``eps`` the unit roundoff of the
screening dtype (float64 on the CPU sweep, float32 on the GPU), a generous
multiple of the worst case for rows of up to a few dozen values such as patches: the
textbook bound grows like ``(2d + 8) eps``; on two clusters at +-1000 (OpenBLAS), the worst
ratio to ``delta`` was 0.08 at d = 9 and 0.25 at d = 256), the true k-th distance is at most ``a_k + delta`` and every point
within it screens at most ``a_k + 2 delta = T``; the first-axis window is a lower bound of
point distances, widened by a relative slack for the rounding of the projections. So the
candidate set contains every point at or below the true k-th distance, ties included;
exactness then rests on step 5 only.

The sweep works one block at a time, a block's pair matrix never larger than
``_BRUTE_CHUNK`` entries (the brute-force path's differences too, counting each row's d
values), so memory stays ``O(_BRUTE_CHUNK + n + m * k)``,
never ``m x n``. Small problems skip the sweep and use exact brute force directly.

On CuPy the sweep's many small, data-dependent steps do not suit the device: the GPU path is
chunked brute force over the unique training rows (float32 matrix products, a candidate screen
that needs no sort of the distance rows, exact float64 re-ranking, (distance, index) ordering),
all on the device (``_nearest_device``; it runs on NumPy too, which is how CI tests it).
"""

import numpy as np

from nn.backend import get_array_module, is_whole_number, to_numpy

_RANK_WINDOW = 48       # the upper bound looks at this many neighbours in each sort order,
_RANK_WINDOW_PER_K = 8  # or at this many times k, if more
_STRIP = 4.0            # width of the first-axis strips of the second sort order
_SWEEP_BLOCK = 64       # queries screened together against one first-axis window
_BRUTE_CELLS = 4_000_000  # below m * n_unique this many pairs, exact brute force is used
_BRUTE_CHUNK = 1 << 22  # pair-matrix entries per chunk in the brute-force paths
_EPS32 = 2.0 ** -24
# The CPU sweep screens in float64: float32 halves the matrix-product time, but its rounding
# slack (2 delta, ~9 squared gray levels for bright patches) lets thousands of near-ties of
# flat patches through to the exact stage, which then dominates time and memory.
_SWEEP_DTYPE = np.float64
_SWEEP_EPS = 2.0 ** -53
_SAFETY = 64.0
_GPU_CHUNK = 1 << 27    # pair-matrix entries per chunk on the device (512 MB in float32)
_GPU_BLOCK = 64         # training rows per block whose minimum screened distance bounds the k-th


def _check(train, query, k):
    if train.ndim != 2 or query.ndim != 2:
        raise ValueError(
            f"nearest needs 2-D train and query arrays, got shapes {train.shape} and {query.shape}"
        )
    if train.shape[1] != query.shape[1]:
        raise ValueError(
            f"train rows have {train.shape[1]} values but query rows have {query.shape[1]}"
        )
    if not (is_whole_number(k) and k >= 1):
        raise ValueError(f"nearest needs a whole number of neighbours k >= 1, got {k!r}")
    if k > train.shape[0]:
        raise ValueError(
            f"cannot find {k} nearest neighbours among only {train.shape[0]} training rows"
        )


def nearest(train, query, k, progress=None):
    """The exact k nearest training rows of every query row.

    train: (n, d), query: (m, d), any real dtype, NumPy or CuPy (both on the same library).
    Returns ``(indices, sq_distances)``, each (m, k): int64 row indices into ``train`` and
    float64 squared Euclidean distances, each row ordered by (distance, index).
    ``progress``: optional callable ``progress(done)``, told how many more query rows have
    been searched after each batch of them (for a progress bar on large searches).
    Raises ValueError for mismatched shapes, non-finite values, or k outside [1, n].

    Cost: exact order is guaranteed by re-ranking in float64 every candidate whose distance
    ties the k-th within rounding. Rows that are equal coincide and cost nothing extra, so
    photos (whose equal colours give exactly equal grays) run near scikit-learn's speed. The
    worst case is a large cluster of distinct rows whose distances to each other are within
    the rounding of their squared norms: every member reaches the re-rank, and time and
    memory grow with the square of the cluster. Measured: 8,000 9-value rows, half near 20
    and half near 230, each jittered by Gaussian noise of 1e-5, took 25 s and 2.7 GiB peak
    (scikit-learn, whose order among near-ties is not exact: 0.2 s). Round such data first.
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
    progress = progress or (lambda done: None)
    if xp is not np:
        return _nearest_device(train, query, k, xp, progress)
    return _nearest_cpu(train, query, k, progress)


def nearest_reference(train, query, k):
    """What :func:`nearest` computes, written plainly (NumPy): every squared distance in
    float64, and each query's k training rows of smallest ``(distance, index)``. Same returns
    as :func:`nearest`; it holds an (m, n) distance matrix, so it is for reading, small
    problems and tests (which check the fast paths against it), not for photos.
    """
    train = np.asarray(to_numpy(train), dtype=np.float64)
    query = np.asarray(to_numpy(query), dtype=np.float64)
    _check(train, query, k)
    k = int(k)
    d2 = np.empty((query.shape[0], train.shape[0]))
    for s in range(0, query.shape[0], 32):  # 32 queries at a time: (32, n, d) differences
        diff = query[s:s + 32, None, :] - train[None, :, :]
        d2[s:s + 32] = np.einsum("qnd,qnd->qn", diff, diff)
    # lexsort's last key sorts first: by distance, ties by training index
    idx = np.array([np.lexsort((np.arange(train.shape[0]), row))[:k] for row in d2],
                   dtype=np.int64).reshape(query.shape[0], k)
    return idx, np.take_along_axis(d2, idx, axis=1)


# ----------------------------------------------------------------------------------------
# exact selection shared by every path


def _unique_rows(train, k):
    """Unique rows of ``train`` (in lexicographic order) and their first-indices table.

    train: (n, d) float64, NumPy or CuPy. Returns ``uniq`` (u, d) and ``first`` (u, s): the
    first s = min(k, most copies) training indices of each unique row, -1 where it has fewer (no
    row needs more slots than its copies, whatever k asks). Array operations only (one lexsort),
    so it runs on the device too: rows are ordered by (values, index), equal rows become
    neighbours, and a row's copies come in index order.
    """
    xp = get_array_module(train)
    n = train.shape[0]
    keys = xp.concatenate([xp.arange(n, dtype=xp.float64)[None, :], train.T[::-1]])
    order = xp.lexsort(keys)
    ordered = train[order]
    new = xp.ones(n, dtype=bool)
    new[1:] = xp.any(ordered[1:] != ordered[:-1], axis=1)
    starts = xp.nonzero(new)[0]
    group = xp.cumsum(new) - 1
    rank = xp.arange(n) - starts[group]
    counts = xp.diff(xp.concatenate([starts, xp.asarray([n])]))
    slots = min(k, int(counts.max()))
    first = xp.full((starts.size, slots), -1, dtype=xp.int64)
    listed = rank < slots
    first[group[listed], rank[listed]] = order[listed]
    return ordered[starts], first


def _exact_sq(query, uniq, qi, uj):
    """float64 squared distances of candidate pairs, by direct differences (NumPy or CuPy)."""
    xp = get_array_module(query)
    out = xp.empty(qi.size, dtype=xp.float64)
    step = max(1, _BRUTE_CHUNK // max(1, query.shape[1]))  # (step, d) differences at a time
    for s in range(0, qi.size, step):
        diff = query[qi[s:s + step]] - uniq[uj[s:s + step]]
        out[s:s + step] = xp.einsum("ij,ij->i", diff, diff)
    return out


def _select(qi, uj, dist, first, k, m):
    """The k best (distance, index) per query among candidate pairs (all exact; NumPy or CuPy).

    qi, uj, dist: (c,) candidate query ids, unique-row ids and exact distances; every query
    must have candidates covering at least k training rows.
    """
    xp = get_array_module(qi)
    idx = first[uj]
    # one nonzero (C order, as a boolean mask would give) for the three gathers: on CuPy each
    # boolean mask would read its count back from the device
    pair, slot = xp.nonzero(idx >= 0)
    qq, dd, ii = qi[pair], dist[pair], idx[pair, slot]
    # one key array (CuPy's lexsort takes no tuple); indices are exact in float64
    order = xp.lexsort(xp.stack([ii.astype(xp.float64), dd, qq.astype(xp.float64)]))
    qq, dd, ii = qq[order], dd[order], ii[order]
    queries = xp.arange(m)
    starts = xp.searchsorted(qq, queries)
    if int((xp.searchsorted(qq, queries, side="right") - starts).min()) < k:
        raise RuntimeError("internal error in colorize.knn: a query has fewer than k candidate "
                           "rows; please report it with the data")
    pos = starts[:, None] + xp.arange(k)[None, :]
    return ii[pos].astype(xp.int64), dd[pos]


# ----------------------------------------------------------------------------------------
# CPU


def _nearest_cpu(train, query, k, progress):
    train = np.ascontiguousarray(train, dtype=np.float64)
    query = np.ascontiguousarray(query, dtype=np.float64)
    uniq, first = _unique_rows(train, k)
    m = query.shape[0]
    if uniq.shape[0] * m <= _BRUTE_CELLS or uniq.shape[0] <= 2 * _RANK_WINDOW:
        qi, uj = _candidates_brute(uniq, query, k, progress)
    else:
        qi, uj = _candidates_sweep(uniq, query, k, progress)
    dist = _exact_sq(query, uniq, qi, uj)
    return _select(qi, uj, dist, first, k, m)


def _candidates_brute(uniq, query, k, progress):
    """Candidate pairs by exact brute force: per query, all unique rows within its k-th."""
    u = uniq.shape[0]
    kk = min(k, u)
    # the differences are (rows, u, d): the chunk bounds them, not just the (rows, u) distances
    rows = max(1, _BRUTE_CHUNK // (u * max(1, uniq.shape[1])))
    qis, ujs = [], []
    for s in range(0, query.shape[0], rows):
        diff = query[s:s + rows, None, :] - uniq[None, :, :]
        d2 = np.einsum("qud,qud->qu", diff, diff)
        kth = np.partition(d2, kk - 1, axis=1)[:, kk - 1]
        q, j = np.nonzero(d2 <= kth[:, None])
        qis.append(q + s)
        ujs.append(j)
        progress(d2.shape[0])
    return np.concatenate(qis), np.concatenate(ujs)


def _rotation(uniq):
    """Centre (d,) and orthonormal principal axes (d, d) of the unique rows."""
    center = uniq.mean(axis=0)
    centred = uniq - center
    cov = centred.T @ centred
    _, vectors = np.linalg.eigh(cov)
    return center, vectors[:, ::-1]


def _rank_neighbours_bound(points, keys, q, q_keys, k):
    """k-th smallest screened distance to the ``max(_RANK_WINDOW, _RANK_WINDOW_PER_K * k)``
    points nearest in key order (all u points if there are fewer; a k above u takes the
    farthest of them, which bounds any k-th among copies).

    points: (u, d) sorted by ``keys`` (u,); q: (m, d) with its own ``q_keys``. A cheap upper
    bound on each query's k-th neighbour distance (m,).
    """
    u = points.shape[0]
    # several times k points, so that the k-th among them is a tight bound (it is the
    # window's largest when k fills it); all points when there are fewer (k above u is
    # then bounded by the farthest, which covers every copy)
    width = min(u, max(_RANK_WINDOW, _RANK_WINDOW_PER_K * k))
    kk = min(k, width)
    start = np.clip(np.searchsorted(keys, q_keys) - width // 2, 0, u - width)
    out = np.empty(q.shape[0], dtype=points.dtype)
    step = max(1, (1 << 22) // (width * points.shape[1]))
    for s in range(0, q.shape[0], step):
        idx = start[s:s + step, None] + np.arange(width)[None, :]
        diff = points[idx] - q[s:s + step, None, :]
        d2 = np.einsum("qwd,qwd->qw", diff, diff)
        out[s:s + step] = np.partition(d2, kk - 1, axis=1)[:, kk - 1]
    return out


def _keep_near_kth(r, c, v, delta, n_rows, k):
    """Of the candidate pairs (r, c) with screened distances v, keep those within
    ``a_k + 2 delta[r]`` of their row's k-th smallest screened distance ``a_k``.

    r is sorted (``np.nonzero`` order) and every row has at least k pairs. The true k-th
    distance is at most ``a_k + delta``, so no true neighbour (or tie) is dropped.
    """
    # One sort of r * top + v orders the pairs by row, then by distance. ``top`` scales with
    # the distances (a fixed offset would round tiny distances away). The key rounds at about
    # n_rows * top * eps, so the k-th found may be a value that close below the true one:
    # ``slack`` keeps every pair such a swap could drop (extra pairs cost nothing but time).
    largest = float(v.max()) if v.size else 0.0
    top = 2.0 * largest if largest > 0 else 1.0
    order = np.argsort(r * top + np.clip(v, 0.0, None), kind="stable")
    starts = np.concatenate(([0], np.cumsum(np.bincount(r, minlength=n_rows))[:-1]))
    counts = np.bincount(r, minlength=n_rows)
    kth = v[order[starts + np.minimum(k, counts) - 1]]
    slack = 4.0 * (n_rows + 1) * top * np.finfo(np.float64).eps
    keep = v <= (kth + 2 * delta)[r] + slack
    return r[keep], c[keep]


def _candidates_sweep(uniq, query, k, progress):
    """Candidate pairs by a sweep along the first principal axis (see the module docstring)."""
    center, axes = _rotation(uniq)
    x = ((uniq - center) @ axes).astype(_SWEEP_DTYPE)
    q = ((query - center) @ axes).astype(_SWEEP_DTYPE)
    xn = np.einsum("ij,ij->i", x, x)
    qn = np.einsum("ij,ij->i", q, q)
    delta = (_SAFETY * _SWEEP_EPS) * (qn + xn.max()) + 1e-300

    by_first = np.argsort(x[:, 0], kind="stable")
    xs, first_axis = np.ascontiguousarray(x[by_first]), np.ascontiguousarray(x[by_first, 0])
    bound = _rank_neighbours_bound(xs, first_axis, q, q[:, 0], k)
    if x.shape[1] > 1:
        # a second order, strips of the first axis sorted along the second, finds better
        # neighbours for textured patches, whose first-axis neighbours are often far
        lo1, span1 = float(x[:, 1].min()), float(np.ptp(x[:, 1])) + 1.0
        strip_key = lambda p: (np.floor(p[:, 0] / _STRIP).astype(np.float64) * span1
                               + np.clip(p[:, 1] - lo1, 0, span1 - 1))
        keys = strip_key(x)
        by_strip = np.argsort(keys, kind="stable")
        bound = np.minimum(bound, _rank_neighbours_bound(
            np.ascontiguousarray(x[by_strip]), keys[by_strip], q, strip_key(q), k))
    thresh = bound + 2 * delta

    # queries of one block share a threshold octave, so a textured query (large threshold)
    # does not widen the window of its smooth neighbours; within an octave, by first axis
    octave = np.floor(np.log2(np.maximum(thresh, 1e-30))).astype(np.int64)
    order = np.lexsort((q[:, 0], octave))
    octave_sorted = octave[order]
    lifted = np.hstack([-2.0 * xs, xn[by_first, None]])
    qis, tis = [], []
    s = 0
    while s < order.size:
        e = min(s + _SWEEP_BLOCK, order.size)
        e = s + int(np.searchsorted(octave_sorted[s:e], octave_sorted[s], side="right"))
        while True:
            rows = order[s:e]
            t = thresh[rows]
            # |x0 - q0| <= |x - q| bounds the window; the slack covers the rounding of the rotated
            # coordinates x0, q0
            radius = float(np.sqrt(t.max() + delta[rows].max())) * (1 + 1e-5) + 1e-4
            lo = int(np.searchsorted(first_axis, q[rows, 0].min() - radius, side="left"))
            hi = int(np.searchsorted(first_axis, q[rows, 0].max() + radius, side="right"))
            # wide windows (textured queries) get fewer queries per block: bounded memory
            if rows.size == 1 or rows.size * (hi - lo) <= _BRUTE_CHUNK:
                break
            e = s + max(1, min(rows.size // 2, _BRUTE_CHUNK // (hi - lo)))
        qb = np.hstack([q[rows], np.ones((rows.size, 1), _SWEEP_DTYPE)])
        screened = qb @ lifted[lo:hi].T
        # the pairs of np.nonzero on the 2-D mask, in its order, from the flat positions (a
        # 2-D nonzero is about 10x slower here)
        flat = np.flatnonzero(screened <= (t - qn[rows])[:, None])
        r, c = np.divmod(flat, hi - lo)
        r, c = _keep_near_kth(r, c, screened.ravel()[flat] + qn[rows][r], delta[rows], rows.size, k)
        qis.append(rows[r])
        tis.append(by_first[c + lo])
        progress(rows.size)
        s = e
    return np.concatenate(qis), np.concatenate(tis)


# ----------------------------------------------------------------------------------------
# GPU (any array module; used with CuPy)


def _nearest_device(train, query, k, xp, progress):
    """Chunked brute force with a sort-free candidate screen; exact re-ranking. All on the device.

    The unique training rows, in a fixed random order, are cut into blocks of ``_GPU_BLOCK``.
    Per query, the k-th smallest of the blocks' minimum screened distances, ``T``, is reached by
    k distinct rows, so the true k-th distance is at most ``T + delta`` and every point at or
    below it screens at most ``T + 2 delta``: those are the candidates. Finding ``T`` needs a
    selection over the u / _GPU_BLOCK block minima only, never over the u distances of a row,
    which is where a GPU sort would spend its time. Exact float64 distances and the
    (distance, index) order then decide, as on the CPU.

    Why a random order: when a block holds similar rows, a query's near neighbours share a block,
    the k smallest block minima reach farther and T loosens. Candidates per query on the photos'
    3x3 patches (chelsea, k = 6 / 40): 19 / 432 in brightness order, 7 / 43 in random order.

    The screen works on the centred rows scaled by a power of two (exact) so that the largest
    coordinate is about 1: float32 then neither overflows nor falls into its subnormal range,
    where rounding is absolute and ``delta``, a relative bound, would not cover it.

    Memory: one chunk of ``_GPU_CHUNK`` float32 screened distances with its mask and candidate
    lists (1.65 GiB of device memory in all for the 1024-px photo of ``agents.bench_gpu``).
    Bigger chunks are faster (each chunk has costs of its own); on an H200 the 1024-px
    search took 14.4, 5.6, 4.4 and 3.5 s with 2^24, 2^26, 2^27 and 2^28 entries.
    The bound ``delta`` assumes IEEE float32 matrix products: CuPy's opt-in TF32 mode
    (``CUPY_TF32=1``) rounds far more coarsely and must stay off for this search.
    """
    uniq, first = _unique_rows(train.astype(xp.float64), k)
    u, m = uniq.shape[0], query.shape[0]
    shuffle = xp.asarray(np.random.default_rng(0).permutation(u))
    uniq, first = uniq[shuffle], first[shuffle]
    center = uniq.mean(axis=0)
    centred = uniq - center
    largest = float(xp.abs(centred).max())
    scale = 2.0 ** -int(np.frexp(largest)[1]) if largest > 0 else 1.0
    x32 = (centred * scale).astype(xp.float32)
    xn = xp.einsum("ij,ij->i", x32, x32)
    max_xn = float(xn.max())
    blocks = -(-u // _GPU_BLOCK)
    # lifted rows [-2x, |x|^2]; padding rows (to whole blocks) screen at +inf
    lifted = xp.zeros((blocks * _GPU_BLOCK, x32.shape[1] + 1), dtype=xp.float32)
    lifted[:u, :-1] = -2.0 * x32
    lifted[:u, -1] = xn
    lifted[u:, -1] = xp.inf
    rows = max(1, _GPU_CHUNK // lifted.shape[0])
    out_i = xp.empty((m, k), dtype=xp.int64)
    out_d = xp.empty((m, k), dtype=xp.float64)
    for s in range(0, m, rows):
        q64 = query[s:s + rows].astype(xp.float64)
        q32 = ((q64 - center) * scale).astype(xp.float32)
        qn = xp.einsum("ij,ij->i", q32, q32)
        q_lifted = xp.concatenate([q32, xp.ones((q32.shape[0], 1), dtype=xp.float32)], axis=1)
        screened = q_lifted @ lifted.T + qn[:, None]
        if blocks > k:
            block_min = screened.reshape(q32.shape[0], blocks, _GPU_BLOCK).min(axis=2)
            kth = xp.partition(block_min, k - 1, axis=1)[:, k - 1].astype(xp.float64)
        else:  # no more blocks than k: every row is a candidate
            kth = xp.full(q32.shape[0], xp.inf)
        delta = (_SAFETY * _EPS32) * (qn.astype(xp.float64) + max_xn)
        # "not above" keeps NaN (a query far outside float32's range) as a candidate
        qi, uj = xp.nonzero(~(screened[:, :u] > (kth + 2 * delta)[:, None]))
        dist = _exact_sq(q64, uniq, qi, uj)
        out_i[s:s + rows], out_d[s:s + rows] = _select(qi, uj, dist, first, k, q64.shape[0])
        progress(q64.shape[0])
    return out_i, out_d
