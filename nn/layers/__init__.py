"""Layers, one module per family: dense, conv, pool, activations, norm, dropout, shape."""
