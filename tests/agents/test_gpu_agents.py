"""The agents and their helpers on CuPy give the NumPy results (marked ``gpu``: they skip
without CuPy and a CUDA device; run them with ``python -m pytest -m gpu``)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agents.basic import BasicAgent
from agents.improved import ImprovedAgent
from colorize.chroma_bins import ChromaBins
from colorize.color import rgb_to_chroma, rgb_to_gray
from colorize.edge_aware import NeighbourGraph, affinity_weights, propagate_from_left, smooth_chroma
from colorize.halves import resize_halves, split_halves
from colorize.io import max_side_size, read_rgb

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.gpu


def _photo(side=96):
    rgb = read_rgb(ROOT / "images" / "coffee.png")
    return resize_halves(rgb, max_side_size(rgb.shape, side))


def test_basic_agent_gpu_matches_cpu():
    left, right = split_halves(_photo())
    gray = rgb_to_gray(right)
    cpu = BasicAgent(colors=5, seed=0, device="cpu").fit(left).colorize(gray)
    gpu = BasicAgent(colors=5, seed=0, device="gpu").fit(left).colorize(gray)
    assert isinstance(gpu, np.ndarray) and gpu.shape == cpu.shape
    # k-means on float32 may break a near-tie the other way; the outputs must still agree
    # almost everywhere
    same = np.all(np.abs(gpu - cpu) < 0.5, axis=-1).mean()
    assert same > 0.99, same


def test_improved_agent_same_network_same_colours_on_gpu(tmp_path):
    left, right = split_halves(_photo())
    gray = rgb_to_gray(right)
    agent = ImprovedAgent(seed=0, device="cpu", epochs=2).fit(left)
    agent.save(tmp_path / "m.npz")
    cpu = agent.colorize(gray)
    gpu = ImprovedAgent.load(tmp_path / "m.npz", device="gpu").colorize(gray)
    np.testing.assert_allclose(gpu, cpu, atol=0.5)


def test_improved_agent_trains_on_gpu_like_on_cpu():
    left, _ = split_halves(_photo())
    cpu = ImprovedAgent(seed=0, device="cpu", epochs=2, patience=3).fit(left)
    gpu = ImprovedAgent(seed=0, device="gpu", epochs=2, patience=3).fit(left)
    np.testing.assert_allclose(gpu.history["train_loss"], cpu.history["train_loss"], rtol=1e-2)
    np.testing.assert_allclose(gpu.history["val_loss"], cpu.history["val_loss"], rtol=1e-2)


def test_chroma_bins_and_edge_aware_smoothing_gpu_match_cpu():
    import cupy

    rgb = _photo(64)
    chroma = rgb_to_chroma(rgb).astype(np.float32)
    gray = rgb_to_gray(rgb).astype(np.float32)
    bins = ChromaBins.fit(chroma, 10.0)
    logits = np.random.default_rng(0).standard_normal((1, bins.n_bins, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(cupy.asnumpy(bins.annealed_mean(cupy.asarray(logits), 0.7)),
                               bins.annealed_mean(logits, 0.7), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(
        cupy.asnumpy(smooth_chroma(cupy.asarray(gray), cupy.asarray(chroma), 1.0)),
        smooth_chroma(gray, chroma, 1.0), rtol=1e-3, atol=1e-2)


def test_gpu_zero_d_strength_and_temperature_and_nan_chunks_work_as_on_cpu():
    import cupy

    rgb = _photo(32)
    chroma = rgb_to_chroma(rgb).astype(np.float32)
    gray = rgb_to_gray(rgb).astype(np.float32)
    np.testing.assert_allclose(
        cupy.asnumpy(smooth_chroma(cupy.asarray(gray), cupy.asarray(chroma), cupy.asarray(2.0))),
        smooth_chroma(gray, chroma, 2.0), rtol=1e-3, atol=1e-2)
    bins = ChromaBins.fit(chroma, 10.0)
    logits = np.random.default_rng(2).standard_normal((1, bins.n_bins, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(
        cupy.asnumpy(bins.annealed_mean(cupy.asarray(logits), cupy.asarray(0.7))),
        bins.annealed_mean(logits, 0.7), rtol=1e-4, atol=1e-3)
    # a chunk whose pixels are all unknown (NaN) keeps no bin (CuPy's bincount fails there)
    target = chroma[:4, :4].transpose(2, 0, 1)[None].copy()
    target[:, :, :2] = np.nan
    with np.errstate(invalid="ignore"):  # NaN pixels' weights are 0 / 0 before they are dropped
        cpu_index, cpu_weights = bins.encode_sparse(target, rows_per_chunk=8)
    gpu_index, gpu_weights = bins.encode_sparse(cupy.asarray(target), rows_per_chunk=8)
    np.testing.assert_array_equal(cupy.asnumpy(gpu_index), cpu_index)
    np.testing.assert_allclose(cupy.asnumpy(gpu_weights), cpu_weights, rtol=1e-5, atol=1e-6)


def test_the_gpu_neighbour_sums_match_the_cpu_slices():
    import cupy

    # odd sizes too: the kernel finds each pixel's neighbours by index arithmetic
    rng = np.random.default_rng(1)
    for h, w in ((1, 1), (1, 6), (5, 1), (7, 9), (30, 17), (64, 96)):
        gray = rng.uniform(0, 255, (h, w)).astype(np.float32)
        u = rng.standard_normal((2, h, w)).astype(np.float32)
        cpu = NeighbourGraph(affinity_weights(gray))
        gpu = NeighbourGraph(affinity_weights(cupy.asarray(gray)))
        for name in ("apply", "apply_t"):
            got = getattr(gpu, name)(cupy.asarray(u))
            assert isinstance(got, cupy.ndarray) and got.dtype == np.float32
            np.testing.assert_allclose(cupy.asnumpy(got), getattr(cpu, name)(u), rtol=1e-5, atol=1e-5)
    # float64 planes: W^T is W's adjoint to float64 precision; float64 weights keep float32
    # planes float32; planes of another shape are refused, not read out of bounds
    weights = affinity_weights(cupy.asarray(gray)).astype(np.float64)
    graph = NeighbourGraph(weights)
    a, b = (cupy.asarray(rng.standard_normal((2, h, w))) for _ in range(2))
    assert np.isclose(float((b * graph.apply(a)).sum()), float((a * graph.apply_t(b)).sum()), rtol=1e-10)
    assert graph.apply(cupy.asarray(u)).dtype == np.float32
    with pytest.raises(ValueError, match="do not match the graph's"):
        graph.apply(cupy.asarray(u).transpose(0, 2, 1).copy())
    # the kernel indexes by hand: too few weight planes and integer planes are refused first
    from colorize.edge_aware_gpu import neighbour_sum

    with pytest.raises(ValueError, match=r"\(8, H, W\) weights"):
        neighbour_sum(weights[:7], cupy.asarray(u), 1)
    with pytest.raises(TypeError, match="floating-point planes"):
        neighbour_sum(weights, cupy.asarray(u).astype(np.int32), 1)


def test_the_gpu_conjugate_gradient_steps_match_the_cpu_ones():
    import cupy

    from colorize.edge_aware import CGSteps
    from colorize.edge_aware_gpu import KernelSteps

    rng = np.random.default_rng(4)
    gray = rng.uniform(0, 255, (23, 31)).astype(np.float32)
    c = rng.uniform(0.5, 2.0, (1, 23, 31)).astype(np.float32)
    u, r, d = (rng.standard_normal((2, 23, 31)).astype(np.float32) for _ in range(3))
    lam = np.float32(50.0)
    cpu = CGSteps(NeighbourGraph(affinity_weights(gray)), c, lam)
    gpu = KernelSteps(NeighbourGraph(affinity_weights(cupy.asarray(gray))), cupy.asarray(c), lam)
    ad = cpu.operator(d)
    np.testing.assert_allclose(cupy.asnumpy(gpu.operator(cupy.asarray(d))), ad, rtol=1e-4, atol=1e-3)
    assert np.isclose(float(gpu.dot(cupy.asarray(u), cupy.asarray(d))), cpu.dot(u, d), rtol=1e-5)
    for rr, dad in ((3.0, 2.0), (0.0, 0.0), (1.0, -1.0)):
        cu, cr = u.copy(), r.copy()
        gu, gr = cupy.asarray(u), cupy.asarray(r)
        cpu.advance(cu, cr, d, ad, np.float64(rr), np.float64(dad))
        gpu.advance(gu, gr, cupy.asarray(d), cupy.asarray(ad), cupy.asarray(rr), cupy.asarray(dad))
        np.testing.assert_allclose(cupy.asnumpy(gu), cu, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(cupy.asnumpy(gr), cr, rtol=1e-6, atol=1e-6)
        expected = cpu.new_direction(r, d, np.float64(dad), np.float64(rr))
        got = gpu.new_direction(cupy.asarray(r), cupy.asarray(d), cupy.asarray(dad), cupy.asarray(rr))
        np.testing.assert_allclose(cupy.asnumpy(got), expected, rtol=1e-6, atol=1e-6)


def test_propagation_of_known_colours_gpu_matches_cpu():
    import cupy

    left, right = split_halves(_photo(64))
    gray = rgb_to_gray(right).astype(np.float32)
    guess = np.zeros(right.shape[:2] + (2,), dtype=np.float32)
    cpu = propagate_from_left(left, gray, guess, 1e3)
    gpu = propagate_from_left(cupy.asarray(left), cupy.asarray(gray), cupy.asarray(guess), 1e3)
    assert isinstance(gpu, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(gpu), cpu, rtol=1e-2, atol=0.5)


@pytest.mark.parametrize("agent", ["basic", "improved"])
def test_command_line_runs_on_the_gpu(agent, tmp_path):
    extra = ["--epochs", "2"] if agent == "improved" else []
    result = subprocess.run([sys.executable, "-m", f"agents.{agent}", "--device", "gpu",
                             "--out", str(tmp_path), "--quiet", *extra],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / f"chelsea_{agent}.json").read_text())
    assert record["device"].startswith("gpu")


def test_regression_loss_trains_on_gpu_like_on_cpu():
    left, _ = split_halves(_photo())
    cpu = ImprovedAgent(seed=0, device="cpu", loss="l2", epochs=2, patience=3).fit(left)
    gpu = ImprovedAgent(seed=0, device="gpu", loss="l2", epochs=2, patience=3).fit(left)
    np.testing.assert_allclose(gpu.history["train_loss"], cpu.history["train_loss"], rtol=1e-2)


def test_a_model_trained_on_the_gpu_saves_and_colours_on_the_cpu(tmp_path):
    left, right = split_halves(_photo())
    gray = rgb_to_gray(right)
    gpu = ImprovedAgent(seed=0, device="gpu", epochs=2, save_path=tmp_path / "m.npz").fit(left)
    cpu = ImprovedAgent.load(tmp_path / "m.npz", device="cpu")
    np.testing.assert_allclose(cpu.colorize(gray), gpu.colorize(gray), atol=0.5)


def test_tiled_prediction_on_gpu_matches_cpu():
    from agents.improved_model import build_model, predict_tiled, size_multiple
    from nn.backend import to_device, to_numpy

    x = np.random.default_rng(0).standard_normal((1, 2, 400, 416)).astype(np.float32)
    model = build_model("unet", 2, 3, 8, seed=0)
    model.eval()
    cpu = predict_tiled(model, x, size_multiple("unet"))
    gpu = predict_tiled(model.to("gpu"), to_device(x, "gpu"), size_multiple("unet"))
    np.testing.assert_allclose(to_numpy(gpu), cpu, rtol=1e-3, atol=1e-4)


def test_kmeans_with_fewer_colours_than_clusters_on_gpu():
    import cupy

    from colorize.kmeans import kmeans

    points = np.repeat(np.array([[0, 0, 0], [255, 0, 0], [0, 0, 255]], np.float32), 20, axis=0)
    centers, labels = kmeans(cupy.asarray(points), 5, seed=0)
    assert np.isfinite(cupy.asnumpy(centers)).all() and int(labels.max()) < 5
    np.testing.assert_array_equal(cupy.asnumpy(centers)[cupy.asnumpy(labels)], points)
