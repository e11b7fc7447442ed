"""The benchmark commands keep the project's command-line contract.

Bad input gives one line ``error: ...`` on stderr and exit status 2, before any work and
without writing anything; an interrupted or failed ``agents.bench_improved`` run leaves an
earlier result file as it was; ``--merge`` refuses runs that do not belong together.
"""

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agents import bench_basic, bench_gpu, bench_improved
from colorize import bench_neighbors
from colorize.bundled import bundled_image
from nn import bench as nn_bench
from nn.backend import gpu_available

ROOT = Path(__file__).resolve().parent.parent
WITHOUT_GPU = pytest.mark.skipif(gpu_available(), reason="a usable GPU would make --device gpu valid")
COMMANDS = {"nn.bench": nn_bench, "colorize.bench_neighbors": bench_neighbors,
            "agents.bench_basic": bench_basic, "agents.bench_improved": bench_improved,
            "agents.bench_gpu": bench_gpu}

BAD_ARGUMENTS = [
    ("nn.bench", ["--repeats", "0"]),
    ("nn.bench", ["--repeats", "-3"]),
    pytest.param("nn.bench", ["--device", "gpu"], marks=WITHOUT_GPU),
    ("colorize.bench_neighbors", ["--repeats", "0"]),
    ("colorize.bench_neighbors", ["--repeat", "-1"]),
    ("colorize.bench_neighbors", ["--width", "0"]),
    ("colorize.bench_neighbors", ["--width", "-5"]),
    ("colorize.bench_neighbors", ["--width", "1"]),
    ("colorize.bench_neighbors", ["--photo", "nosuch"]),
    ("colorize.bench_neighbors", ["--photo", "{tmp}/notes.txt"]),
    ("agents.bench_basic", ["--repeats", "0"]),
    ("agents.bench_basic", ["--width", "1"]),
    ("agents.bench_basic", ["--photo", "nosuch"]),
    pytest.param("agents.bench_basic", ["--device", "gpu"], marks=WITHOUT_GPU),
    ("agents.bench_improved", ["--only", "nosuch"]),
    ("agents.bench_improved", ["--width", "0"]),
    ("agents.bench_improved", ["--width", "1"]),
    ("agents.bench_improved", ["--set", "nosuch=1"]),
    ("agents.bench_improved", ["--set", "epochs=0"]),
    ("agents.bench_improved", ["--set", "epochs"]),
    ("agents.bench_improved", ["--set", "epochs=null"]),
    ("agents.bench_improved", ["--set", "epochs=2.5"]),
    ("agents.bench_improved", ["--set", "epochs=1e999"]),
    ("agents.bench_improved", ["--set", "rows=no"]),
    ("agents.bench_improved", ["--set", "bank_size=1e9"]),
    ("agents.bench_improved", ["--width", "100000"]),
    ("colorize.bench_neighbors", ["--width", "5000"]),
    ("agents.bench_improved", ["--out", "{tmp}/pipe.json"]),
    # a name of 255 bytes fits, but not its .partial file
    ("agents.bench_improved", ["--out", "{tmp}/" + "a" * 250 + ".json"]),
    ("agents.bench_gpu", ["--out", "{tmp}/pipe.json"]),
    ("agents.bench_gpu", ["--out", ""]),
    ("agents.bench_improved", ["--out", "{tmp}/notes.txt/out.json"]),
    ("agents.bench_improved", ["--out", "{tmp}"]),
    ("agents.bench_improved", ["--merge", "{tmp}/missing.json", "--out", "{tmp}/merged.json"]),
    ("agents.bench_improved", ["--merge", "{tmp}/notes.txt", "--out", "{tmp}/merged.json"]),
    ("agents.bench_improved", ["--merge", "{tmp}/no_baselines.json", "--out", "{tmp}/m.json"]),
    ("agents.bench_gpu", ["--epochs", "0"]),
    ("agents.bench_gpu", ["--out", "{tmp}/notes.txt/out.json"]),
    ("agents.bench_gpu", ["--out", "{tmp}"]),
    # a photo the protocol cannot cut, and one whose resized copy would not fit in memory
    ("colorize.bench_neighbors", ["--photo", "{tmp}/one.png", "--width", "8"]),
    ("agents.bench_basic", ["--photo", "{tmp}/one.png", "--width", "8"]),
    ("colorize.bench_neighbors", ["--photo", "{tmp}/tall.png", "--width", "4096"]),
]


def _files(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*"))


def _one_error_line(err):
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err


@pytest.mark.parametrize("command, argv", BAD_ARGUMENTS)
def test_bad_arguments_give_one_error_line_and_status_2_before_any_work(
        tmp_path, monkeypatch, capsys, command, argv):
    (tmp_path / "notes.txt").write_text("not an image\n")
    (tmp_path / "no_baselines.json").write_text('{"photos": {"x": {"agents": {}}}}')
    Image.new("RGB", (1, 1)).save(tmp_path / "one.png")
    Image.new("RGB", (8, 2000)).save(tmp_path / "tall.png")
    os.mkfifo(tmp_path / "pipe.json")  # an atomic write would replace it with a file
    # Default outputs would land in tmp_path (bench_improved's is the project's report/data/
    # in a checkout), so "nothing written" covers them too.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(bench_improved, "DEFAULT_OUT", tmp_path / "report" / "data" / "v.json")
    before = _files(tmp_path)
    status = COMMANDS[command].main([a.format(tmp=tmp_path) for a in argv])
    out, err = capsys.readouterr()
    assert status == 2
    _one_error_line(err)
    assert out == ""
    assert _files(tmp_path) == before
    assert stat.S_ISFIFO(os.stat(tmp_path / "pipe.json").st_mode)


@pytest.mark.parametrize("command", ["nn.bench", "colorize.bench_neighbors", "agents.bench_basic"])
def test_the_old_spelling_repeat_is_read_as_repeats(command, capsys):
    # argparse takes an unambiguous prefix of an option, so --repeat is --repeats
    assert COMMANDS[command].main(["--repeat", "0"]) == 2
    assert "argument --repeats: expected a whole number" in capsys.readouterr().err


@pytest.mark.parametrize("command, argv", [
    ("nn.bench", ["--repeats", "x"]),
    ("colorize.bench_neighbors", ["--photo", "nosuch"]),
    ("agents.bench_basic", ["--width", "1"]),
    ("agents.bench_improved", ["--set", "epochs"]),
    ("agents.bench_gpu", ["--epochs", "0"]),
])
def test_python_m_gives_one_error_line_and_status_2(command, argv):
    done = subprocess.run([sys.executable, "-m", command, *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    _one_error_line(done.stderr)
    assert done.stdout == ""


@pytest.mark.parametrize("command", COMMANDS)
def test_usage_in_the_docstring_lists_every_option(command, capsys):
    module = COMMANDS[command]
    with pytest.raises(SystemExit) as exc:
        module.main(["--help"])
    assert exc.value.code == 0
    help_text = capsys.readouterr().out
    # The description is the docstring's first line, shown as plain text.
    assert "``" not in help_text.split("options:")[0]
    options = set(re.findall(r"--[a-z][a-z-]+", help_text)) - {"--help"}
    assert options
    assert [o for o in sorted(options) if o not in module.__doc__] == []


def test_bench_improved_help_tells_the_photo_width_from_the_network_width(capsys):
    with pytest.raises(SystemExit):
        bench_improved.main(["--help"])
    assert "--set width=" in " ".join(capsys.readouterr().out.split())


def test_photo_may_be_a_path_and_the_goal_is_shown_only_at_its_width(capsys):
    pytest.importorskip("sklearn")
    coffee = str(bundled_image("coffee.png"))
    assert bench_neighbors.main(["--photo", coffee, "--width", "8"]) == 0
    assert "coffee at 8x8, " in capsys.readouterr().out
    assert bench_basic.main(["--photo", coffee, "--width", "16", "--skip-oracles"]) == 0
    out = capsys.readouterr().out
    assert "basic agent on coffee 16x" in out and "goal" not in out


@pytest.mark.skipif(gpu_available(), reason="the reason line is printed only without a GPU")
def test_bench_gpu_says_why_there_is_no_gpu_and_writes_its_json(tmp_path, monkeypatch, capsys):
    for workload in ("conv_seconds", "basic_seconds", "improved_seconds"):
        monkeypatch.setattr(bench_gpu, workload, lambda *args: 1.0)
    out_file = tmp_path / "new" / "gpu.json"
    assert bench_gpu.main(["--out", str(out_file), "--epochs", "1"]) == 0
    printed = capsys.readouterr()
    assert printed.out.startswith("no GPU column: CuPy ")
    assert printed.err.count(": cpu 1.000 s\n") == 3  # progress, one line per workload
    rows = json.loads(out_file.read_text())["rows"]
    assert [row["cpu_s"] for row in rows] == [1.0, 1.0, 1.0]


def test_bench_gpu_times_the_propagation_choice_with_the_fit(monkeypatch):
    # the agent chooses its propagation strength only when first asked: the benchmark's
    # "fit (training + propagation choice)" must ask inside the timing
    from agents.improved import ImprovedAgent

    choices = []
    choose = ImprovedAgent._choose_propagation
    monkeypatch.setattr(ImprovedAgent, "_choose_propagation",
                        lambda self, *args: choices.append(1) or choose(self, *args))
    rgb = np.random.default_rng(0).integers(0, 256, (24, 48, 3)).astype(np.float32)
    assert bench_gpu.improved_seconds(rgb, "cpu", 1) > 0
    assert choices == [1]


@pytest.mark.parametrize("command, argv", [
    ("agents.bench_gpu", []),
    ("agents.bench_improved", ["--photos", "bundled", "--only", "coffee", "--no-mlp"]),
])
def test_out_may_not_be_a_photo_the_benchmark_reads(capsys, command, argv):
    coffee = bundled_image("coffee.png")
    before = coffee.read_bytes()
    assert COMMANDS[command].main([*argv, "--out", str(coffee)]) == 2
    assert "would overwrite the input photo" in capsys.readouterr().err
    assert coffee.read_bytes() == before


def test_an_interrupted_bench_gpu_removes_the_folders_it_made_for_out(tmp_path, monkeypatch,
                                                                     capsys):
    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(bench_gpu, "conv_seconds", interrupted)
    assert bench_gpu.main(["--out", str(tmp_path / "new" / "sub" / "gpu.json")]) == 130
    assert capsys.readouterr().err.endswith("error: interrupted\n")
    assert _files(tmp_path) == []


def test_bench_gpu_times_the_gpu_after_an_untimed_warm_up():
    calls = []

    def run(device):
        calls.append(device)
        return float(len(calls))  # the first (warm-up) run would say 1.0

    assert bench_gpu.timed_seconds(run, "cpu") == 1.0 and calls == ["cpu"]
    calls.clear()
    assert bench_gpu.timed_seconds(run, "gpu") == 2.0 and calls == ["gpu", "gpu"]


FAKE_SCORES = {"rmse": 10.0, "psnr": 25.0, "ssim": 0.9, "delta_e2000": 5.0, "colorfulness": 20.0,
               "colorfulness_true": 30.0, "seconds": 0.5}
SMALL_RUN = ["--photos", "bundled", "--only", "chelsea", "coffee", "--width", "8",
             "--variants", "default", "--no-basic", "--no-mlp"]


def _improved_that_fails_on_the_second_photo(error):
    """A stand-in for run_improved: scores for the first photo, then ``error``."""
    calls = []

    def fake(rgb, options, seed=0, redecode=True):
        calls.append(rgb.shape)
        if len(calls) > 1:
            raise error
        return dict(FAKE_SCORES)

    return fake


def test_an_interrupted_run_leaves_the_earlier_out_file_and_keeps_the_finished_photos(
        tmp_path, monkeypatch, capsys):
    out_file = tmp_path / "variants.json"
    out_file.write_text('{"earlier": "complete run"}\n')
    monkeypatch.setattr(bench_improved, "run_improved",
                        _improved_that_fails_on_the_second_photo(KeyboardInterrupt()))
    try:
        status = bench_improved.main([*SMALL_RUN, "--out", str(out_file)])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped main instead of ending in 'error: interrupted'")
    assert status == 130
    assert capsys.readouterr().err == "error: interrupted\n"
    assert out_file.read_text() == '{"earlier": "complete run"}\n'
    partial = json.loads((tmp_path / "variants.json.partial").read_text())
    assert list(partial["photos"]) == ["chelsea"]


def test_a_failed_run_leaves_the_earlier_out_file(tmp_path, monkeypatch):
    out_file = tmp_path / "variants.json"
    out_file.write_text('{"earlier": "complete run"}\n')
    monkeypatch.setattr(bench_improved, "run_improved",
                        _improved_that_fails_on_the_second_photo(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        bench_improved.main([*SMALL_RUN, "--out", str(out_file)])
    assert out_file.read_text() == '{"earlier": "complete run"}\n'


def test_a_complete_run_replaces_out_and_removes_the_partial_file(tmp_path, monkeypatch, capsys):
    out_file = tmp_path / "variants.json"
    out_file.write_text('{"earlier": "complete run"}\n')
    monkeypatch.setattr(bench_improved, "run_improved", lambda *args, **kwargs: dict(FAKE_SCORES))
    assert bench_improved.main([*SMALL_RUN, "--out", str(out_file)]) == 0
    data = json.loads(out_file.read_text())
    assert list(data["photos"]) == ["chelsea", "coffee"]
    assert data["blas_threads"] == nn_bench.blas_threads()
    assert not (tmp_path / "variants.json.partial").exists()


def _write_run(path, stem, width=256, variants=None, defaults=None, threads=1, gray_psnr=20.0):
    """A minimal result file of agents.bench_improved, for one photo."""
    entry = {"size": [8, width], "baselines": {"gray": {**FAKE_SCORES, "psnr": gray_psnr}},
             "agents": {"improved:default": FAKE_SCORES}}
    path.write_text(json.dumps({
        "width": width, "variants": {"default": {}} if variants is None else variants,
        "command": f"python -m agents.bench_improved --only {stem}",
        "agent_defaults": {"epochs": 30} if defaults is None else defaults,
        "blas_threads": threads, "photos": {stem: entry}}))
    return str(path)


@pytest.mark.parametrize("other, stem, names", [
    ({"width": 128}, "rocket", ["256", "128"]),
    ({"variants": {"default": {"epochs": 10}}}, "rocket", ["'default'", "epochs 30 vs 10"]),
    ({"defaults": {"epochs": 20}}, "rocket", ["'default'", "epochs 30 vs 20"]),
    ({"threads": 2}, "rocket", ["1 BLAS threads", "with 2"]),
    # the same photo resized another way (its baselines differ): rows would mix two photos
    ({"gray_psnr": 20.5}, "coffee", ["photo 'coffee' differs"]),
])
def test_merge_joins_only_runs_of_one_width_and_the_same_settings(tmp_path, capsys, other, stem,
                                                                   names):
    first = _write_run(tmp_path / "a.json", "coffee")
    same = _write_run(tmp_path / "b.json", "chelsea")
    rerun = _write_run(tmp_path / "r.json", "coffee")  # the same photo again: its rows join
    merged = tmp_path / "merged.json"
    assert bench_improved.main(["--merge", first, same, rerun, "--out", str(merged)]) == 0
    assert sorted(json.loads(merged.read_text())["photos"]) == ["chelsea", "coffee"]
    merged.unlink()
    capsys.readouterr()

    differs = _write_run(tmp_path / "c.json", stem, **other)
    assert bench_improved.main(["--merge", first, differs, "--out", str(merged)]) == 2
    err = capsys.readouterr().err
    _one_error_line(err)
    assert all(name in err for name in names), err
    assert not merged.exists()


@pytest.mark.filterwarnings("ignore:Number of distinct clusters")  # scikit-learn's, expected here
def test_a_photo_of_few_colours_gives_no_inertia_ratio_rather_than_a_traceback(tmp_path, capsys):
    # five colours or fewer: both k-means inertias are 0
    flat = tmp_path / "flat.png"
    Image.fromarray(np.full((12, 16, 3), 90, np.uint8)).save(flat)
    assert bench_neighbors.main(["--photo", str(flat), "--width", "16"]) == 0
    assert "inertia ratio n/a" in capsys.readouterr().out


def test_summarize_means_the_colour_ratio_over_the_photos_that_have_the_row():
    results = {"photos": {
        "a": {"baselines": {}, "agents": {"improved:default": FAKE_SCORES, "basic": FAKE_SCORES}},
        "b": {"baselines": {},
              "agents": {"improved:default": {**FAKE_SCORES, "colorfulness": 30.0}}}}}
    mean = bench_improved.summarize(results)["mean"]
    assert mean["improved:default"]["colour_ratio"] == pytest.approx((20 / 30 + 30 / 30) / 2)
    assert mean["improved:default"]["photos"] == 2 and mean["basic"]["photos"] == 1


def test_merge_keeps_the_later_files_run_of_the_same_photo_and_agent(tmp_path, capsys):
    first = _write_run(tmp_path / "a.json", "coffee")
    rerun = json.loads(Path(_write_run(tmp_path / "r.json", "coffee")).read_text())
    rerun["photos"]["coffee"]["agents"]["improved:default"]["psnr"] = 31.0
    (tmp_path / "r.json").write_text(json.dumps(rerun))
    merged = tmp_path / "merged.json"
    argv = ["--merge", first, str(tmp_path / "r.json"), "--out", str(merged)]
    assert bench_improved.main(argv) == 0
    data = json.loads(merged.read_text())
    assert data["photos"]["coffee"]["agents"]["improved:default"]["psnr"] == 31.0
    assert data["mean"]["improved:default"]["psnr"] == 31.0


def test_without_variants_every_variant_that_differs_from_the_defaults_runs():
    from agents.improved_settings import DEFAULTS

    differ = [name for name, options in bench_improved.VARIANTS.items()
              if any(DEFAULTS.get(k) != v for k, v in options.items())]
    assert differ and list(bench_improved.DEFAULT_VARIANTS) == ["default", *differ]
    parsed = bench_improved.with_run_defaults(bench_improved.build_parser().parse_args([]))
    assert parsed.variants == ["default", *differ]


def test_other_seeds_run_the_defaults_only_without_redecoding_and_set_overrides_variants(
        tmp_path, monkeypatch, capsys):
    calls = []

    def fake(rgb, options, seed=0, redecode=True):
        calls.append((options.get("prior"), seed, redecode))
        return dict(FAKE_SCORES)

    monkeypatch.setattr(bench_improved, "run_improved", fake)
    out_file = tmp_path / "variants.json"
    argv = ["--photos", "bundled", "--only", "coffee", "--width", "8", "--no-basic", "--no-mlp",
            "--variants", "default", "unet-l2-prior", "--seeds", "0", "1", "--set", "prior=false",
            "--out", str(out_file)]
    assert bench_improved.main(argv) == 0
    data = json.loads(out_file.read_text())
    assert list(data["photos"]["coffee"]["agents"]) == [
        "improved:default", "improved:default, seed 1", "improved:unet-l2-prior"]
    assert calls == [(False, 0, True), (False, 1, False), (False, 0, True)]
    assert data["variants"]["unet-l2-prior"]["prior"] is False


def test_only_a_classification_network_is_redecoded_at_other_temperatures():
    from types import SimpleNamespace

    names = [name for name, _ in bench_improved._decodings(SimpleNamespace(config={"loss": "l2"}))]
    assert names and not any(name.startswith("temperature") for name in names)
    names = [name for name, _ in bench_improved._decodings(SimpleNamespace(config={"loss": "cls"}))]
    assert [n for n in names if n.startswith("temperature")] == [
        f"temperature {t:g}" for t in bench_improved.TEMPERATURES]


def test_bench_basic_times_fit_and_colorize_apart_and_keeps_the_fastest_repeat(monkeypatch, capsys):
    from types import SimpleNamespace

    clock = iter([0.0, 5.0, 6.0])
    monkeypatch.setattr(bench_basic, "time", SimpleNamespace(perf_counter=lambda: next(clock)))

    class Agent:
        def __init__(self, **kwargs):
            pass

        def fit(self, left):
            return self

        def colorize(self, gray):
            return np.repeat(gray[..., None], 3, axis=2)

    monkeypatch.setattr(bench_basic, "BasicAgent", Agent)
    rgb = np.random.default_rng(0).integers(0, 256, (8, 16, 3)).astype(np.uint8)
    fit_s, colorize_s, _ = bench_basic.time_agent(rgb)
    assert (fit_s, colorize_s) == (5.0, 1.0)
    results = iter([(2.0, 1.0, 20.0), (1.0, 0.5, 21.0), (3.0, 3.0, 19.0)])
    monkeypatch.setattr(bench_basic, "time_agent", lambda rgb, device: next(results))
    coffee = str(bundled_image("coffee.png"))
    assert bench_basic.main(["--photo", coffee, "--width", "16", "--skip-oracles",
                             "--repeats", "3"]) == 0
    out = capsys.readouterr().out
    assert "fit 1.00 s, colorize 0.50 s, total 1.50 s; right-half PSNR 21.00 dB" in out


def test_the_mlp_baseline_gives_back_the_chroma_at_the_scale_it_learnt():
    pytest.importorskip("sklearn")
    # one colour under gray texture: the chroma is constant, which the MLP learns easily
    offset = np.random.default_rng(0).integers(-30, 30, (16, 32, 1))
    rgb = (np.array([200, 90, 60]) + offset).astype(np.uint8)
    assert bench_improved.run_mlp(rgb)["psnr"] > 24  # about 28; a chroma at half scale 18


class _Clock:
    """A stand-in for ``time.perf_counter``: each call advances by the next of ``steps``."""

    def __init__(self, *steps):
        self.now, self.steps = 0.0, list(steps)

    def perf_counter(self):
        self.now += self.steps.pop(0) if self.steps else 0.0
        return self.now


def test_median_time_runs_one_untimed_warm_up_and_takes_the_median(monkeypatch):
    calls = []
    # warm-up (untimed), then three runs of 5, 1 and 2 s: the median is 2, the best 1
    monkeypatch.setattr(nn_bench, "time", _Clock(0, 5, 0, 1, 0, 2))
    assert nn_bench._median_time(lambda: calls.append(1), 3) == 2.0
    assert len(calls) == 4


def test_best_time_keeps_the_fastest_repeat_and_the_last_result(monkeypatch):
    outputs = iter(["a", "b", "c"])
    monkeypatch.setattr(bench_neighbors, "time", _Clock(0, 5, 0, 1, 0, 2))
    assert bench_neighbors._best_time(lambda: next(outputs), 3) == (1.0, "c")


def test_blas_threads_is_the_largest_blas_pool(monkeypatch):
    import threadpoolctl

    monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: [
        {"user_api": "blas", "num_threads": 2}, {"user_api": "openmp", "num_threads": 16},
        {"user_api": "blas", "num_threads": 4}])
    assert nn_bench.blas_threads() == 4


def _fake_conv_timings(monkeypatch, engine_s, torch_s, dense_s, sparse_s, kept_s=0.015):
    class Layer:
        def to(self, device):
            return self

    monkeypatch.setattr(nn_bench, "time_engine", lambda *args, keep_columns=False: (
        kept_s if keep_columns else engine_s, Layer()))
    monkeypatch.setattr(nn_bench, "time_torch", lambda *args: torch_s)
    monkeypatch.setattr(nn_bench, "time_cross_entropy", lambda *args: (dense_s, sparse_s))
    monkeypatch.setattr(nn_bench, "describe_device", lambda device: device)


@pytest.mark.parametrize("device, header", [("cpu", "ratio"), ("gpu", "GPU/CPU")])
def test_nn_bench_prints_engine_over_torch_and_sparse_over_dense(monkeypatch, capsys, device,
                                                                 header):
    _fake_conv_timings(monkeypatch, 0.02, 0.01, 0.004, 0.001)
    monkeypatch.setitem(sys.modules, "torch", None)  # its version line is not looked at here
    nn_bench.run(device, 3)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[-1] == header
    assert lines[2].split()[-3:] == ["20.0", "10.0", "2.00x"]  # engine 20 ms, torch 10 ms
    assert lines[5].endswith("(keep_columns): 15.0 ms, kept/rebuilt 0.75x")
    assert "dense targets 4.0 ms, sparse 1.0 ms, sparse/dense 0.25x" in lines[6]


def test_nn_bench_defaults_to_seven_repeats_on_the_cpu(monkeypatch):
    asked = []
    monkeypatch.setattr(nn_bench, "run", lambda device, repeats: asked.append((device, repeats)))
    assert nn_bench.main([]) == 0 and nn_bench.main(["--repeats", "2"]) == 0
    assert asked == [("cpu", 7), ("cpu", 2)]


def test_cross_entropy_timings_come_dense_first_then_sparse(monkeypatch):
    class Loss:
        def __init__(self, weights):
            pass

        def forward(self, logits, target):
            self.kind = "sparse" if isinstance(target, tuple) else "dense"

        def backward(self):
            return self.kind

    monkeypatch.setattr(nn_bench, "CROSS_ENTROPY_CASE", (1, 6, 2, 3, 2))
    monkeypatch.setattr(nn_bench, "SoftmaxCrossEntropyLoss", Loss)
    monkeypatch.setattr(nn_bench, "_median_time", lambda fn, repeats, sync: fn()[1])
    assert nn_bench.time_cross_entropy(1) == ("dense", "sparse")


def test_a_bundled_stem_wins_over_a_file_of_that_name_here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (8, 8)).save(tmp_path / "coffee", format="PNG")
    assert bench_neighbors.photo_arg("coffee") == bundled_image("coffee.png")
    assert bench_neighbors.photo_arg(str(tmp_path / "coffee")) == tmp_path / "coffee"


def test_the_widest_and_largest_benchmark_photos_are_accepted(tmp_path, monkeypatch):
    import argparse

    assert bench_neighbors.bench_width(str(bench_neighbors.MAX_BENCH_WIDTH)) == 4096
    with pytest.raises(argparse.ArgumentTypeError, match="at most 4096"):
        bench_neighbors.bench_width("4097")
    # a photo resized to exactly the pixel limit is taken
    monkeypatch.setattr(bench_neighbors, "MAX_BENCH_PIXELS", 16 * 8)
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 16, 3), np.uint8)).save(
        tmp_path / "p.png")
    assert bench_neighbors.load_photo(tmp_path / "p.png", 16).shape == (8, 16, 3)
    with pytest.raises(bench_neighbors.ImageError, match="more than a benchmark takes"):
        bench_neighbors.load_photo(tmp_path / "p.png", 18)  # 18 x 9 pixels


def test_inertia_ratio_is_ours_over_theirs_and_n_a_only_when_theirs_is_zero():
    assert bench_neighbors._ratio(3.0, 2.0) == "1.50000"
    assert bench_neighbors._ratio(0.0, 2.0) == "0.00000"
    assert bench_neighbors._ratio(0.0, 0.0) == "n/a"


def test_bench_neighbors_checks_its_distances_and_clusters_the_left_half(capsys):
    pytest.importorskip("sklearn")
    assert bench_neighbors.main(["--width", "8"]) == 0  # coffee at 8 x 8: 32 left pixels
    out = capsys.readouterr().out
    assert out.count("same distances: True") == 3
    assert "kmeans ours k=5 (32 px)" in out


def test_bench_neighbors_limits_scikit_learn_to_numpys_blas_threads(monkeypatch):
    pytest.importorskip("sklearn")
    import contextlib

    import threadpoolctl

    seen = []

    @contextlib.contextmanager
    def record(limits=None, user_api=None):
        seen.append(limits)
        yield

    monkeypatch.setattr(threadpoolctl, "threadpool_limits", record)
    monkeypatch.setattr(bench_neighbors, "blas_threads", lambda: 3)
    monkeypatch.setattr(bench_neighbors, "_compare", lambda *args: None)
    bench_neighbors.compare(np.zeros((8, 8, 3), np.uint8), "x", 1)
    assert seen == [3]


def test_bench_gpu_speed_up_is_cpu_seconds_over_gpu_seconds(tmp_path, monkeypatch, capsys):
    seconds = {"cpu": 3.0, "gpu": 0.5}
    for workload in ("conv_seconds", "basic_seconds", "improved_seconds"):
        # each workload is called with the device among its arguments
        monkeypatch.setattr(bench_gpu, workload,
                            lambda *args: seconds[next(a for a in args if isinstance(a, str))])
    monkeypatch.setattr(bench_gpu, "gpu_unavailable_reason", lambda: None)
    monkeypatch.setattr(bench_gpu, "describe_device", lambda device: device)
    out_file = tmp_path / "gpu.json"
    assert bench_gpu.main(["--out", str(out_file), "--epochs", "1"]) == 0
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert len(table) == 4 and all(line.endswith("| 3.000 | 0.500 | 6.0x |") for line in table[1:])
    data = json.loads(out_file.read_text())
    assert data["devices"] == ["cpu", "gpu"]
    assert [(row["cpu_s"], row["gpu_s"]) for row in data["rows"]] == [(3.0, 0.5)] * 3


def test_bench_gpu_basic_time_is_fit_plus_colorize(monkeypatch):
    monkeypatch.setattr(bench_gpu, "time_agent", lambda rgb, device: (1.5, 2.0, None))
    assert bench_gpu.basic_seconds(np.zeros((8, 16, 3), np.uint8), "cpu") == 3.5


def test_bench_gpu_fits_the_improved_agent_on_the_left_half_without_early_stopping(monkeypatch):
    made = []

    class Agent:
        propagate_strength = 1.0

        def __init__(self, **options):
            self.options = options
            made.append(self)

        def fit(self, rgb):
            self.fitted = rgb

    monkeypatch.setattr(bench_gpu, "ImprovedAgent", Agent)
    rgb = np.random.default_rng(0).integers(0, 256, (8, 21, 3), np.uint8)  # halves 10 | 11
    assert bench_gpu.improved_seconds(rgb, "cpu", 3) >= 0
    (agent,) = made
    assert np.array_equal(agent.fitted, rgb[:, :10])
    assert agent.options == {"seed": 0, "device": "cpu", "epochs": 3, "patience": 4}


def test_bench_gpu_waits_for_the_gpu_and_never_imports_cupy_on_the_cpu(monkeypatch):
    from types import SimpleNamespace

    synced = []
    device = SimpleNamespace(synchronize=lambda: synced.append(1))
    monkeypatch.setitem(sys.modules, "cupy", SimpleNamespace(cuda=SimpleNamespace(Device=lambda: device)))
    bench_gpu.finish("cpu")
    assert synced == []
    bench_gpu.finish("gpu")
    assert synced == [1]


def test_merge_never_writes_over_one_of_its_own_files(tmp_path, capsys):
    first = _write_run(tmp_path / "a.json", "chelsea")
    before = Path(first).read_text()
    assert bench_improved.main(["--merge", first, "--out", first]) == 2
    err = capsys.readouterr().err
    _one_error_line(err)
    assert "would overwrite the input --merge file" in err
    assert Path(first).read_text() == before


@pytest.mark.parametrize("change", [
    lambda d: d.update(variants=[]),
    lambda d: d.update(agent_defaults=[]),
    lambda d: d.update(photos={}),
    lambda d: d["photos"]["chelsea"]["agents"]["improved:default"].pop("colorfulness"),
    lambda d: d["photos"]["chelsea"]["baselines"]["gray"].update(colorfulness=None),
    lambda d: d["photos"]["chelsea"]["agents"]["improved:default"].update(psnr="high"),
])
def test_merge_refuses_a_malformed_result_file_before_writing(change, tmp_path, capsys):
    path = Path(_write_run(tmp_path / "a.json", "chelsea"))
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    out = tmp_path / "m.json"
    assert bench_improved.main(["--merge", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    _one_error_line(err)
    assert "is not a result file" in err
    assert not out.exists()


def test_a_null_score_is_shown_as_n_a(tmp_path, capsys):
    # an exact result's PSNR is infinite, stored as null: the summary must not stumble on it
    path = Path(_write_run(tmp_path / "a.json", "chelsea"))
    data = json.loads(path.read_text())
    data["photos"]["chelsea"]["agents"]["improved:default"]["psnr"] = None
    path.write_text(json.dumps(data))
    assert bench_improved.main(["--merge", str(path), "--out", str(tmp_path / "m.json")]) == 0
    assert "improved:default" in capsys.readouterr().out.split("PSNR n/a")[0]


def test_repeated_list_options_add_up_and_merge_refuses_run_options(tmp_path, capsys):
    parsed = bench_improved.build_parser().parse_args(
        ["--set", "epochs=1", "--set", "crop=16", "--seeds", "0", "--seeds", "2"])
    assert dict(parsed.set) == {"epochs": 1, "crop": 16} and parsed.seeds == [0, 2]
    first = _write_run(tmp_path / "a.json", "chelsea")
    assert bench_improved.main(["--merge", first, "--only", "chelsea",
                                "--out", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err
    _one_error_line(err)
    assert "--only would change nothing" in err


def test_a_run_does_not_throw_away_the_partial_file_of_an_interrupted_one(tmp_path, capsys):
    out_file = tmp_path / "variants.json"
    partial = tmp_path / "variants.json.partial"
    partial.write_text('{"photos": {"rocket": "finished before Ctrl-C"}}')
    assert bench_improved.main([*SMALL_RUN, "--out", str(out_file)]) == 2
    err = capsys.readouterr().err
    _one_error_line(err)
    assert "earlier, interrupted run" in err
    assert "rocket" in partial.read_text() and not out_file.exists()
