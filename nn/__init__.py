"""The neural-network engine: layers with hand-written forward and backward passes.

Everything here works on arrays (NumPy on the CPU, CuPy on an NVIDIA GPU) and knows nothing
about images: layers, losses, optimizers, the Sequential container, the training loop and the
numerical gradient check. There is no automatic differentiation: every ``backward`` is written
out by hand next to its ``forward`` and checked against centred finite differences.
"""
