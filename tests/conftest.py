"""Shared test settings: tests marked ``gpu`` skip cleanly without CuPy or a CUDA device."""

import pytest

from nn.backend import gpu_available


def pytest_collection_modifyitems(config, items):
    if gpu_available():
        return
    skip = pytest.mark.skip(reason="needs CuPy and a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
