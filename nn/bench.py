"""Conv2D forward + backward time, and the ratio to PyTorch's CPU convolution.

``python -m nn.bench [--repeats 7] [--device cpu|gpu]``

Main workload: float32, N=16, C 32 -> 32, 64x64, k=3, padding 1. PyTorch, when it imports,
runs on the same data in the same process with as many threads as NumPy's BLAS uses, so the
ratio is meaningful on a busy machine where absolute times are not. Also times a 1x1 and a
stride-2 convolution and, with ``--device gpu``, the engine on CuPy; the main workload again
with the columns kept from forward to backward (``Conv2D(keep_columns=True)``) against rebuilt;
and the cross-entropy with soft targets on the improved agent's batch shape, its sparse form
against the dense one.
"""

import os
import sys
import time

import numpy as np

from nn.backend import DeviceError, describe_device, get_array_module, resolve_device, to_device
from nn.cli import OneLineParser, positive_int, run_command
from nn.layers.conv import Conv2D
from nn.losses import SoftmaxCrossEntropyLoss


def blas_threads():
    """Threads NumPy's BLAS uses (threadpoolctl when installed, else the usual environment
    variables, else the CPU count)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            if os.environ.get(name, "").isdigit():
                return int(os.environ[name])
        return os.cpu_count() or 1
    counts = [info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas"]
    return max(counts) if counts else (os.cpu_count() or 1)


def _median_time(fn, repeats, sync=lambda: None):
    fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _data_rng():
    """The generator of a case's input and upstream gradient (drawn in that order), one for
    the engine and one for PyTorch, so that both run on the same numbers."""
    return np.random.default_rng(1)


def time_engine(shape, out_channels, kernel, stride, padding, repeats, device="cpu",
                keep_columns=False):
    """Median seconds of one Conv2D forward + backward on random float32 data."""
    layer = Conv2D(shape[1], out_channels, kernel, stride=stride, padding=padding,
                   rng=np.random.default_rng(0), keep_columns=keep_columns).to(device)
    rng = _data_rng()
    x = to_device(rng.standard_normal(shape).astype(np.float32), device)
    y = layer.forward(x)
    dout = to_device(rng.standard_normal(y.shape).astype(np.float32), device)
    xp = get_array_module(x)
    sync = (lambda: xp.cuda.Device().synchronize()) if xp is not np else (lambda: None)
    return _median_time(lambda: (layer.forward(x), layer.backward(dout)), repeats, sync), layer


def time_torch(layer, shape, stride, padding, repeats, threads):
    """Median seconds of torch's conv2d forward + backward (input and weight grads) or None."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    rng = _data_rng()
    x = torch.from_numpy(rng.standard_normal(shape).astype(np.float32)).requires_grad_()
    w = torch.from_numpy(np.array(layer.params["W"])).requires_grad_()
    b = torch.from_numpy(np.array(layer.params["b"])).requires_grad_()
    with torch.no_grad():
        y_shape = torch.nn.functional.conv2d(x, w, b, stride=stride, padding=padding).shape
    dout = torch.from_numpy(rng.standard_normal(tuple(y_shape)).astype(np.float32))

    def step():
        x.grad = w.grad = b.grad = None
        torch.nn.functional.conv2d(x, w, b, stride=stride, padding=padding).backward(dout)

    return _median_time(step, repeats)


CROSS_ENTROPY_CASE = (8, 150, 48, 48, 5)
"""N, classes, H, W and classes per pixel: the improved agent's training batch on astronaut
(8 crops of 48 px, about 150 chroma bins, 5 soft neighbours)."""


def time_cross_entropy(repeats, device="cpu"):
    """Median seconds of one weighted soft-target cross-entropy forward + backward, with the
    targets dense (N, C, H, W) and with the same targets sparse ``(index, prob)``."""
    n, c, h, w, k = CROSS_ENTROPY_CASE
    rng = _data_rng()
    logits = rng.standard_normal((n, c, h, w)).astype(np.float32)
    index = np.sort(np.argsort(rng.random((n, c, h, w)), axis=1)[:, :k], axis=1)
    prob = rng.random((n, k, h, w)).astype(np.float32)
    prob /= prob.sum(axis=1, keepdims=True)
    dense = np.zeros_like(logits)
    np.put_along_axis(dense, index, prob, axis=1)
    loss = SoftmaxCrossEntropyLoss(rng.uniform(0.2, 3.0, c))
    logits, dense, index, prob = (to_device(a, device) for a in (logits, dense, index, prob))
    xp = get_array_module(logits)
    sync = (lambda: xp.cuda.Device().synchronize()) if xp is not np else (lambda: None)
    return tuple(_median_time(lambda: (loss.forward(logits, target), loss.backward()),
                              repeats, sync)
                 for target in (dense, (index, prob)))


def run(device, repeats):
    """Time the cases on ``device`` and print the table."""
    threads = blas_threads()
    print(f"engine on {describe_device(device)}; NumPy BLAS threads {threads}; "
          f"median of {repeats} runs of forward + backward")
    cases = [("32->32 k3 p1 (main workload)", (16, 32, 64, 64), 32, 3, 1, 1),
             ("32->32 1x1", (16, 32, 64, 64), 32, 1, 1, 0),
             ("32->64 k3 s2 p1", (16, 32, 64, 64), 64, 3, 2, 1)]
    # on the GPU the ratio sets the engine there against PyTorch on this machine's CPU
    ratio_name = "ratio" if device == "cpu" else "GPU/CPU"
    print(f"{'conv (N=16, 64x64)':<30} {'engine ms':>10} {'torch ms':>10} {ratio_name:>7}")
    engine_seconds = []
    for label, shape, c_out, k, s, p in cases:
        seconds, layer = time_engine(shape, c_out, k, s, p, repeats, device)
        engine_seconds.append(seconds)
        ref = time_torch(layer.to("cpu"), shape, s, p, repeats, threads)
        ref_text = "n/a" if ref is None else f"{ref * 1e3:10.1f}"
        ratio = "n/a" if ref is None else f"{seconds / ref:6.2f}x"
        print(f"{label:<30} {seconds * 1e3:10.1f} {ref_text:>10} {ratio:>7}")
    _, shape, c_out, k, s, p = cases[0]
    kept, _ = time_engine(shape, c_out, k, s, p, repeats, device, keep_columns=True)
    print(f"main workload with its columns kept from forward to backward (keep_columns): "
          f"{kept * 1e3:.1f} ms, kept/rebuilt {kept / engine_seconds[0]:.2f}x")
    n, c, h, w, k = CROSS_ENTROPY_CASE
    dense, sparse = time_cross_entropy(repeats, device)
    print(f"cross-entropy, {c} classes, {n}x{h}x{w} pixels, {k} per pixel: dense targets "
          f"{dense * 1e3:.1f} ms, sparse {sparse * 1e3:.1f} ms, sparse/dense "
          f"{sparse / dense:.2f}x")
    try:
        import torch

        print(f"torch {torch.__version__}, threads {torch.get_num_threads()} "
              f"(set to NumPy's BLAS thread count)")
    except ImportError:
        print("torch not installed: no reference ratio")


def main(argv=None):
    parser = OneLineParser(prog="python -m nn.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=positive_int, default=7, metavar="N",
                        help="timed runs of each case; the median is shown (default: 7)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "gpu"),
                        help="where the engine runs (default: cpu); PyTorch runs on the CPU")

    def body():
        args = parser.parse_args(argv)
        device = resolve_device(args.device)
        run(device, args.repeats)
        return 0

    return run_command(body, (DeviceError,))


if __name__ == "__main__":
    sys.exit(main())
