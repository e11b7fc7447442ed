"""NumPy / CuPy dispatch without a global switch.

Code that computes asks its inputs which library they belong to::

    xp = get_array_module(x)
    y = xp.maximum(x, 0)

so the same function runs on the CPU (NumPy) and on an NVIDIA GPU (CuPy), and both can be
tested in one process. Moving data is explicit: ``to_device(x, "gpu")`` and ``to_numpy(x)``.

Device names are ``"cpu"``, ``"gpu"`` and ``"auto"``: ``auto`` means the GPU when CuPy imports
and a CUDA device answers, else the CPU; ``gpu`` without one raises ``DeviceError`` with one
sentence that says what is missing.

It also holds the number checks that every package applies to sizes and settings
(``is_whole_number``, ``is_real_number``, ``as_real_number``), so that ``colorize`` needs
nothing else from the engine.
"""

from functools import lru_cache

import numpy as np

from nn.errors import NNError

DEVICES = ("auto", "cpu", "gpu")


class DeviceError(NNError, RuntimeError):
    """The requested device cannot be used (CuPy missing, no CUDA device, bad name)."""


@lru_cache(maxsize=1)
def _cupy_or_reason():
    """Return ``(cupy_module, None)`` when a GPU answers, else ``(None, reason)``.

    Cached: probing CUDA is slow and its answer does not change within a process.
    """
    try:
        import cupy
    except Exception as exc:  # ImportError, or a broken CUDA install raising at import
        return None, f"CuPy is not installed or does not import ({type(exc).__name__})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return None, f"CuPy found no CUDA device ({type(exc).__name__})"
    if count < 1:
        return None, "CuPy found no CUDA device"
    try:
        # A device that answers may still be unusable (no CUDA libraries for CuPy's kernels,
        # an unsupported driver): run one compiled kernel and one matrix product to be sure.
        a = cupy.arange(6, dtype=cupy.float32).reshape(2, 3)
        float((cupy.maximum(a, 1) @ a.T).sum())
    except Exception as exc:
        return None, (f"CuPy sees a CUDA device but cannot compute on it ({type(exc).__name__}; "
                      "are the CUDA libraries installed? pip install -e '.[gpu]' brings them)")
    return cupy, None


def gpu_available():
    """True when CuPy imports and at least one CUDA device answers."""
    return _cupy_or_reason()[0] is not None


def gpu_unavailable_reason():
    """Why no GPU can be used (one sentence), or None when one can."""
    return _cupy_or_reason()[1]


def resolve_device(device="auto"):
    """Turn ``"auto" | "cpu" | "gpu"`` into ``"cpu"`` or ``"gpu"``.

    Raises ``DeviceError`` for an unknown name or for ``"gpu"`` without a usable GPU.
    """
    if device not in DEVICES:
        raise DeviceError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if device == "cpu":
        return "cpu"
    cupy, reason = _cupy_or_reason()
    if device == "gpu" and cupy is None:
        raise DeviceError(f"device 'gpu' was asked for but {reason}; use 'cpu' (--device cpu)")
    return "gpu" if cupy is not None else "cpu"


def array_module_for(device):
    """The array library (``numpy`` or ``cupy``) for a device name (resolved first)."""
    if resolve_device(device) == "gpu":
        return _cupy_or_reason()[0]
    return np


def get_array_module(*arrays):
    """``cupy`` if any argument is a CuPy array, else ``numpy``.

    Cheap when CuPy is not installed: a NumPy array never triggers the CuPy import.
    """
    for a in arrays:
        if type(a).__module__.startswith("cupy"):
            import cupy

            return cupy
    return np


def is_gpu_array(x):
    """True for a CuPy array."""
    return type(x).__module__.startswith("cupy")


def to_device(x, device):
    """Copy ``x`` to ``device`` (``"cpu"``, ``"gpu"`` or ``"auto"``); no copy if it is there."""
    if resolve_device(device) == "gpu":
        cupy = _cupy_or_reason()[0]
        return cupy.asarray(x)
    return to_numpy(x)


def to_numpy(x):
    """A NumPy array for ``x`` (CuPy arrays are copied to the host, anything else converted)."""
    if is_gpu_array(x):
        return x.get()
    return np.asarray(x)


def describe_device(device):
    """A short human description, e.g. ``"cpu (NumPy 2.1.0)"`` or ``"gpu (NVIDIA H100, CuPy 13)"``."""
    if resolve_device(device) == "gpu":
        cupy = _cupy_or_reason()[0]
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        return f"gpu ({name}, CuPy {cupy.__version__})"
    return f"cpu (NumPy {np.__version__})"


def is_real_number(value):
    """An int or float, Python's or NumPy's; not a bool, not text (NaN and infinity are real
    numbers here: callers that need finite values test that)."""
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)))


def as_real_number(value):
    """``value`` as a Python float when it is one real number: an int or float, Python's or
    NumPy's, or a 0-d array, NumPy's or CuPy's (read through ``float()``, which takes a CuPy 0-d
    array where ``np.float32()`` refuses it); None for booleans, text, arrays of any other shape
    and anything ``float()`` cannot read or overflows on (NaN and infinity are returned: callers
    that need finite values test that)."""
    if isinstance(value, (bool, np.bool_, str, bytes)) or getattr(value, "ndim", 0) != 0:
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def is_whole_number(value):
    """An int, a NumPy integer or a float with no fraction (``3.0``); not a bool, not text.
    The one rule for every size the layers take (kernel, stride, padding, channels, ...)."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    return isinstance(value, (float, np.floating)) and float(value).is_integer()
