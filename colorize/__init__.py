"""The image domain: reading and writing photos (``io``), colour spaces (``color``), patches,
k-means, exact nearest neighbours (``knn``), the left/right coursework protocol (``halves``),
chroma bins with class rebalancing and the annealed mean (``chroma_bins``), Levin et al.'s
gray-guided colour propagation solved by conjugate gradients (``edge_aware``), quality
metrics and figures (``plots``).

Functions here take and return arrays ((H, W) gray, (H, W, 3) RGB) and work on NumPy or CuPy
through ``nn.backend.get_array_module``; they never decide the device themselves.
"""
