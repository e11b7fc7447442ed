"""The image domain: reading and writing photos, colour spaces, patches, k-means, exact
nearest neighbours, the left/right coursework protocol, quality metrics and figures.

Functions here take and return arrays ((H, W) gray, (H, W, 3) RGB) and work on NumPy or CuPy
through ``nn.backend.get_array_module``; they never decide the device themselves.
"""
