"""Backend selection: get_array_module, to_device / to_numpy, and auto | cpu | gpu resolution."""

import numpy as np
import pytest

import nn
from nn import backend
from nn.backend import DeviceError, get_array_module, resolve_device, to_device, to_numpy


def test_numpy_arrays_dispatch_to_numpy():
    assert get_array_module(np.zeros(3)) is np
    assert get_array_module(np.zeros(3), 1.0, [1, 2]) is np


def test_cpu_resolves_to_cpu_and_round_trips():
    assert resolve_device("cpu") == "cpu"
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    y = to_device(x, "cpu")
    assert isinstance(y, np.ndarray) and y.dtype == np.float32
    np.testing.assert_array_equal(to_numpy(y), x)


def test_unknown_device_is_a_clear_error():
    with pytest.raises(DeviceError, match="unknown device 'tpu'"):
        resolve_device("tpu")


def test_auto_falls_back_to_cpu_without_gpu(monkeypatch):
    monkeypatch.setattr(backend, "_cupy_or_reason", lambda: (None, "CuPy is not installed"))
    assert resolve_device("auto") == "cpu"
    assert backend.gpu_unavailable_reason() == "CuPy is not installed"
    with pytest.raises(DeviceError, match="device 'gpu' was asked for but CuPy is not installed"):
        resolve_device("gpu")


@pytest.mark.gpu
def test_gpu_round_trip():
    import cupy

    x = np.arange(5, dtype=np.float32)
    g = to_device(x, "gpu")
    assert get_array_module(g) is cupy
    np.testing.assert_array_equal(to_numpy(g), x)


def test_a_device_that_answers_but_cannot_compute_is_not_used(monkeypatch):
    # a stand-in CuPy whose device count is 1 but whose first kernel fails, as with a driver
    # and no CUDA libraries
    import sys
    import types

    def broken(*args, **kwargs):
        raise RuntimeError("no NVRTC")

    runtime = types.SimpleNamespace(getDeviceCount=lambda: 1)
    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime), arange=broken,
                                 float32=np.float32)
    monkeypatch.setitem(sys.modules, "cupy", fake)
    backend._cupy_or_reason.cache_clear()
    try:
        assert resolve_device("auto") == "cpu"
        with pytest.raises(DeviceError, match="cannot compute on it"):
            resolve_device("gpu")
    finally:
        backend._cupy_or_reason.cache_clear()


def test_a_device_error_is_an_engine_error():
    assert issubclass(nn.DeviceError, nn.NNError) and nn.DeviceError is DeviceError


def test_the_number_checks_refuse_bools_and_text_and_accept_numpy_scalars():
    from nn.backend import is_real_number, is_whole_number

    for value in (3, 3.0, np.int32(3), np.int64(-2), np.float32(4.0)):
        assert is_whole_number(value), value
    for value in (True, np.True_, 2.5, np.float64(0.5), "3", None, [3]):
        assert not is_whole_number(value), value
    for value in (0, -1.5, np.float32(0.5), np.float64(2.0), np.int8(1), float("nan")):
        assert is_real_number(value), value
    for value in (True, False, np.True_, np.False_, "1", None, [1.0]):
        assert not is_real_number(value), value


def test_as_real_number_reads_one_number_and_nothing_else():
    from nn.backend import as_real_number

    for value, expected in ((3, 3.0), (-1.5, -1.5), (np.int64(7), 7.0), (np.float32(0.5), 0.5),
                            (np.array(2.0), 2.0), (np.array(4, np.uint8), 4.0)):
        assert as_real_number(value) == expected and type(as_real_number(value)) is float
    assert as_real_number(float("inf")) == float("inf") and np.isnan(as_real_number(np.nan))
    for value in (True, np.False_, "1", b"1", None, [1.0], np.array([1.0]), np.zeros((1, 1)),
                  10**400, object()):
        assert as_real_number(value) is None, value


def test_get_array_module_looks_at_every_argument(monkeypatch):
    import sys
    import types

    fake = types.ModuleType("cupy")
    monkeypatch.setitem(sys.modules, "cupy", fake)
    gpu_like = type("ndarray", (), {"__module__": "cupy._core.core"})()
    assert get_array_module(np.zeros(2), gpu_like) is fake
    assert get_array_module(gpu_like, np.zeros(2)) is fake
    assert get_array_module(np.zeros(2), 1.0) is np


def test_cpu_arrays_are_not_copied_and_an_unusable_device_is_refused(monkeypatch):
    a = np.arange(3.0)
    assert to_numpy(a) is a and to_device(a, "cpu") is a  # "no copy if it is there"
    with pytest.raises(DeviceError, match="unknown device"):
        to_device(a, "tpu")
    monkeypatch.setattr(backend, "_cupy_or_reason", lambda: (None, "CuPy is not installed"))
    with pytest.raises(DeviceError, match="device 'gpu' was asked for"):
        to_device(a, "gpu")
