"""Smoke test of ``python -m report --quick`` into a temporary folder.

One quick build (tiny photos, a one-epoch improved agent, the neighbours benchmark on a tiny
photo) is shared by the tests below; it writes only under ``tmp_path``, never over the
committed report.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from report.__main__ import main
from report.experiments import METHODS

ROOT = Path(__file__).resolve().parent.parent
MAX_FIGURE_BYTES = 300_000


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    committed = ROOT / "report" / "REPORT.md"
    before = committed.stat().st_mtime_ns if committed.exists() else None
    assert main(["--quick", "--out", str(out)]) == 0
    after = committed.stat().st_mtime_ns if committed.exists() else None
    return out, (out / "REPORT.md").read_text(encoding="utf-8"), before == after


def test_a_folder_without_photos_is_refused_with_one_line(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["--images", str(empty), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_an_empty_images_option_is_refused_and_a_folder_named_like_a_photo_is_no_photo(
        tmp_path, capsys):
    # '' would have meant the current folder, while an empty --out and IMAGE are refused
    assert main(["--images", "", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == "error: --images is empty; give a folder"
    images = tmp_path / "images"
    (images / "album.png").mkdir(parents=True)
    assert main(["--images", str(images), "--out", str(tmp_path / "out")]) == 2
    assert "no photos" in capsys.readouterr().err  # the folder is skipped, not read


@pytest.mark.parametrize("case, fragment", [
    ("missing-folder", "no such folder"), ("bad-seed", "--seed"), ("tiny-photo", "tiny.png"),
    ("gray-photo", "gray.png: a gray photo"), ("gray-left-half", "half.png: its left half is gray")])
def test_bad_input_is_one_line_and_leaves_no_folder_behind(case, fragment, tmp_path, capsys):

    images = tmp_path / "images"
    args = ["--quick", "--no-bench", "--images", str(images), "--out", str(tmp_path / "out")]
    if case == "bad-seed":
        args += ["--seed", "-1"]
    if case == "tiny-photo":
        images.mkdir()
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(images / "big.png")
        Image.fromarray(np.full((4, 4, 3), 90, np.uint8)).save(images / "tiny.png")
    if case == "gray-left-half":
        images.mkdir()
        # large enough for --quick to shrink it, which blurs colour across the seam
        rgb = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
        rgb[:, :80] = rgb[:, :80, :1]
        Image.fromarray(rgb).save(images / "half.png")
    if case == "gray-photo":
        # sorted after a colour photo, so the refusal must come before any agent runs
        images.mkdir()
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(images / "colour.png")
        Image.fromarray(rng.integers(0, 255, (24, 32), dtype=np.uint8)).save(images / "gray.png")
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and fragment in err, err
    assert not (tmp_path / "out").exists()


def test_quick_build_without_out_writes_to_a_quick_subfolder(tmp_path, monkeypatch):
    import report.__main__ as report_main

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(images / "noise.png")
    monkeypatch.setattr(report_main, "DEFAULT_OUT", tmp_path / "report")
    # the recorded runs of the default folder are read by the quick build in its subfolder
    recorded = tmp_path / "report" / "data" / "improved_variants.json"
    recorded.parent.mkdir(parents=True)
    recorded.write_bytes((ROOT / "report" / "data" / "improved_variants.json").read_bytes())
    assert main(["--quick", "--no-bench", "--images", str(images)]) == 0
    assert (tmp_path / "report" / "quick" / "REPORT.md").exists()
    assert not (tmp_path / "report" / "REPORT.md").exists()
    text = (tmp_path / "report" / "quick" / "REPORT.md").read_text(encoding="utf-8")
    assert f"read from `{recorded}`" in text


@pytest.mark.slow
def test_quick_build_leaves_the_committed_report_alone(quick_report):
    _, _, untouched = quick_report
    assert untouched


@pytest.mark.slow
def test_report_answers_every_question_and_states_the_gpu_status(quick_report):
    _, text, _ = quick_report
    for heading in ("## Summary", "## Results", "## The bonus: how many colours?",
                    "## Where each agent fails", "## The engine: gradient checks and speed",
                    "## GPU"):
        assert heading in text
    for question in range(1, 7):
        assert f"### P{question}." in text
    assert "Quick build" in text
    gpu = text[text.index("## GPU"):]
    recorded = json.loads((ROOT / "report" / "data" / "gpu_measurements.json").read_text())["tests"]
    assert f"`python -m pytest -m gpu`: {recorded['passed']} passed, {recorded['failed']} failed" in gpu
    assert "| workload | CPU s | GPU s | speed-up |" in gpu


def test_gpu_section_without_recorded_measurements_says_so():
    from types import SimpleNamespace

    from report.write import gpu_lines

    lines = gpu_lines(SimpleNamespace(device="cpu (NumPy 2)", gpu_measurements=None))
    assert "No GPU measurements are recorded yet" in lines[0]


@pytest.mark.slow
def test_tables_hold_every_method_and_photo(quick_report):
    _, text, _ = quick_report
    photos = sorted(p.stem for p in (ROOT / "images").glob("*.png"))
    for label in dict(METHODS).values():
        # the mean table plus one table per photo
        assert text.count(f"| {label} |") == 1 + len(photos), label
    for name in photos:
        assert f"### {name}" in text
    assert not re.search(r"\bnan\b", text, flags=re.IGNORECASE)


@pytest.mark.slow
def test_every_linked_figure_exists_is_png_and_small(quick_report):
    out, text, _ = quick_report
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    photos = list((ROOT / "images").glob("*.png"))
    assert len(links) == 2 * len(photos) + 2  # two per photo, the k curves, the loss curves
    for link in links:
        path = out / link
        assert path.is_file(), link
        assert path.stat().st_size < MAX_FIGURE_BYTES, link
        with Image.open(path) as im:
            assert im.format == "PNG"


@pytest.mark.slow
def test_numbers_in_the_prose_match_the_tables(quick_report):
    _, text, _ = quick_report
    table_row = re.search(r"\| basic agent, 5 colours \| [\d.]+ \| ([\d.]+) \|", text)
    summary = re.search(r"The basic agent \(5 colours\) reaches ([\d.]+) dB", text)
    assert table_row and summary
    assert table_row.group(1) == summary.group(1)
    # The k sweep scores unrounded colours: the report says by how much that moves k = 5.
    rounding = re.search(r"in the score tables \(rounded, as a PNG stores it\) by up to (\d+\.\d+)", text)
    assert rounding and float(rounding.group(1)) < 0.5
    # Terms come before the summary, and the coursework's numbers come from their constants.
    from agents.basic import AUTO_STRIP_FRACTION
    from colorize.kmeans import RESTARTS

    assert text.index("Terms used below.") < text.index("## Summary")
    assert f"({AUTO_STRIP_FRACTION:.0%} of them)" in text and f"{RESTARTS} seeded restarts" in text


def test_decodings_table_means_each_decoding_over_the_photos():
    from report.tables import decodings_table

    def run(strength, as_chosen, unpropagated):
        return {"agents": {"improved:default": {
            "propagate_strength": strength,
            "decodings": {"temperature 0.7": {"psnr": as_chosen},
                          "no propagation": {"psnr": unpropagated}}}}}

    lines = decodings_table({"a": run(1e5, 28.0, 27.0), "b": run(100.0, 30.0, 29.5)},
                            {"temperature": 0.7})
    assert "a 100000, b 100" in lines[1]
    assert "| temperature 0.7 | 29.00 | 28.00 | 30.00 |" in lines
    assert "| no propagation | 28.25 | 27.00 | 29.50 |" in lines
    assert decodings_table({"a": {"agents": {}}}, {}) == []
    assert decodings_table({}, {}) == []


def test_seed_spread_means_each_seed_over_the_photos():
    from report.tables import seed_spread

    photos = {
        "a": {"agents": {"improved:default": {"psnr": 28.0}, "improved:default, seed 1": {"psnr": 25.0},
                         "basic": {"psnr": 20.0}}},
        "b": {"agents": {"improved:default": {"psnr": 30.0}, "improved:default, seed 1": {"psnr": 31.0}}},
    }
    lines = seed_spread(photos)
    assert "seeds 0 and 1 reach mean PSNR 29.00, 28.00 dB (mean 28.50, spread 1.00 dB)" in lines[1]
    assert "up to 3.00 dB (a)" in lines[1]
    del photos["b"]["agents"]["improved:default, seed 1"]
    assert seed_spread(photos) == []


def test_the_summary_names_its_seed_and_the_recorded_seeds_only_for_the_same_photos_and_size():
    from types import SimpleNamespace

    from report.write import _seed_sentence

    def photo(seed0, seed1, size=(170, 256)):
        return {"size": list(size), "agents": {"improved:default": {"psnr": seed0},
                                               "improved:default, seed 1": {"psnr": seed1}}}

    photos = {"a": photo(28.0, 25.0), "b": photo(30.0, 31.0), "tall": photo(10.0, 10.0, (300, 256))}

    def build(names, size=(170, 256)):
        return SimpleNamespace(runs=[SimpleNamespace(name=n, size=size) for n in names],
                               settings=SimpleNamespace(seed=0),
                               variants={"blas_threads": "1", "photos": photos})

    text = _seed_sentence(build(["a", "b"]))
    assert "seed 0" in text and "(1 BLAS thread)" in text
    assert "average 29.00, 28.00 dB on these photos with seeds 0 and 1" in text
    alone = " These are the scores of seed 0."
    assert _seed_sentence(build(["a", "b"], size=(43, 64))) == alone  # a quick build's size
    assert _seed_sentence(build(["tall"], size=(256, 218))) == alone  # recorded 256 wide, not long
    assert _seed_sentence(build(["a", "z"])) == alone  # a photo without records
    del photos["b"]["agents"]["improved:default, seed 1"]
    assert _seed_sentence(build(["a", "b"])) == alone  # one complete seed says nothing of others


def test_a_recorded_photo_below_gray_is_named_with_the_best_coloured_score():
    from report.write import below_gray_sentence

    def photo(agent, gray, lookup):
        return {"baselines": {"gray": {"psnr": gray}, "gray_lookup": {"psnr": lookup}},
                "agents": {"improved:default": {"psnr": agent}}}

    text = below_gray_sentence({"photos": {"ok": photo(28.0, 20.0, 25.0), "g": photo(14.0, 17.5, 13.0)}})
    assert "on g (14.00 dB against 17.50 dB" in text and "reaches 14.00 dB" in text and "ok" not in text
    assert "Every coloured method is below gray" in text
    text = below_gray_sentence({"photos": {"g": photo(14.0, 17.5, 18.0)}})
    assert "reaches 18.00 dB" in text and "Every coloured method" not in text
    both = below_gray_sentence({"photos": {"g": photo(14.0, 17.5, 13.0), "h": photo(14.0, 17.5, 18.0)}})
    assert "on g (" in both and "and h (" in both and "Every coloured method" not in both
    assert below_gray_sentence({"photos": {"ok": photo(28.0, 20.0, 25.0)}}) == ""
    assert below_gray_sentence(None) == ""


def test_training_prose_reports_what_the_curves_show():
    from types import SimpleNamespace

    from report.write import training_prose

    def run(name, train, val, best, stopped):
        return SimpleNamespace(name=name, improved={"training": {
            "train_loss": train, "val_loss": val, "best_epoch": best,
            "epochs_run": len(train), "stopped_early": stopped}})

    runs = [run("capped", [3.0, 2.0, 1.0], [5.0, 4.5, 4.0], 2, False),
            run("later", [3.0, 2.0, 1.5, 1.0], [5.0, 4.0, 4.2, 4.1], 1, True)]
    text = training_prose(runs, {"epochs": 3, "patience": 2})[0]
    assert "On capped the best epoch is the last one allowed" in text
    assert "kept falling on later" in text and "ended 0.100 above it" in text
    assert "capped, " not in text.split("kept falling on")[1]  # its best epoch is its last
    assert "already 2.000 above it after the first epoch" in text
    rising = run("rising", [3.0, 2.0, 2.5], [5.0, 4.0, 4.5], 1, False)
    assert "kept falling" not in training_prose([rising], {"epochs": 9, "patience": 2})[0]


def test_a_range_of_ratios_is_given_for_several_photos_only():
    from report.write import _ratio_range

    assert _ratio_range([0.8, 1.42, 1.0]) == " (per photo 0.80 to 1.42)"
    assert _ratio_range([0.9]) == "" and _ratio_range([0.9, float("nan")]) == ""


def test_photos_sharing_a_name_are_refused_before_any_work(tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    rgb = np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(images / "a.png")
    Image.fromarray(rgb).save(images / "a.jpg")
    out = tmp_path / "deep" / "er" / "out"
    assert main(["--quick", "--no-bench", "--images", str(images), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "share the name 'a'" in err, err
    assert not (tmp_path / "deep").exists()


@pytest.mark.parametrize("names, fragment", [
    (("coffee.png", "coffee_errors.png"), "coffee.png's error map and coffee_errors.png's figure"),
    (("loss_curves.png",), "the loss curves and loss_curves.png's figure"),
    (("k_curves.png",), "the k-means curves and k_curves.png's figure")])
def test_a_photo_named_like_another_figure_is_refused_before_any_work(names, fragment, tmp_path,
                                                                      capsys):
    images = tmp_path / "images"
    images.mkdir()
    rgb = np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    for name in names:
        Image.fromarray(rgb).save(images / name)
    out = tmp_path / "out"
    assert main(["--quick", "--no-bench", "--images", str(images), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and fragment in err, err
    assert not out.exists()


@pytest.mark.parametrize("case", ["photos-in-figures", "report-is-a-folder", "figure-is-a-folder",
                                  "empty-out"])
def test_outputs_that_cannot_or_must_not_be_written_are_refused_before_any_work(
        case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where an empty --out would write, were it not refused
    out = tmp_path / "out"
    images = out / "figures" if case == "photos-in-figures" else tmp_path / "images"
    images.mkdir(parents=True)
    rgb = np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(images / "a.png")
    before = (images / "a.png").read_bytes()
    if case == "report-is-a-folder":
        (out / "REPORT.md").mkdir(parents=True)
    if case == "figure-is-a-folder":
        (out / "figures" / "a_errors.png").mkdir(parents=True)
    fragment = {"photos-in-figures": "would overwrite the input photo",
                "empty-out": "--out is empty"}.get(case, "a folder of that name is in the way")
    target = "" if case == "empty-out" else str(out)
    assert main(["--quick", "--no-bench", "--images", str(images), "--out", target]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and fragment in err, err
    assert (images / "a.png").read_bytes() == before
    assert not (out / "REPORT.md").is_file()
    if case in ("empty-out", "report-is-a-folder"):
        assert not (out / "figures").exists() and not (tmp_path / "figures").exists()


@pytest.mark.parametrize("failing", ["run_photo", "render"])
@pytest.mark.parametrize("interrupt", [False, True], ids=["error", "ctrl-c"])
def test_a_build_that_fails_midway_leaves_no_figures_or_folders(failing, interrupt, tmp_path,
                                                                 monkeypatch, capsys):
    import report.__main__ as entry
    from nn.cli import UsageError

    def fail(*args, **kwargs):
        raise KeyboardInterrupt if interrupt else UsageError("stopped on purpose")

    status, message = (130, "error: interrupted") if interrupt else (2, "stopped on purpose")

    monkeypatch.setattr(entry, failing, fail)
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(images / "a.png")
    out = tmp_path / "parent" / "out"
    assert main(["--quick", "--no-bench", "--images", str(images), "--out", str(out)]) == status
    assert message in capsys.readouterr().err
    assert not (tmp_path / "parent").exists()  # the figures, out/, and the parent it made
    # into an existing report folder: the earlier report stays whole, its figures unchanged
    # (new figures beside the old text would disagree with its tables)
    figures = tmp_path / "old" / "figures"
    figures.mkdir(parents=True)
    (figures / "a.png").write_bytes(b"earlier figure")
    (figures.parent / "REPORT.md").write_text("earlier report")
    assert main(["--quick", "--no-bench", "--images", str(images), "--out", str(figures.parent)]) == status
    assert (figures / "a.png").read_bytes() == b"earlier figure"
    assert (figures.parent / "REPORT.md").read_text() == "earlier report"
    assert sorted(p.name for p in figures.iterdir()) == ["a.png"]


def test_header_names_the_command_and_photo_folder_that_rebuild_it(tmp_path):
    import report.__main__ as entry

    args = entry.build_parser().parse_args(["--quick", "--images", "pics", "--seed", "3", "--no-bench"])
    assert entry._command_line(args) == "python -m report --quick --images pics --seed 3 --no-bench"
    assert entry._images_shown("pics") == "pics"
    default = entry.build_parser().parse_args([])
    assert entry._command_line(default) == "python -m report"
    assert entry._images_shown(default.images) == "images/"


def test_prose_numbers_without_sign_errors_divisions_by_zero_or_mixed_photo_sets():
    from report.answers import variants_verdict
    from report.write import _basic_colourfulness_reason, _saturation_clause

    assert "nan" not in _saturation_clause(7.95, 0.0) and "against 0.00 elsewhere" in _saturation_clause(7.95, 0.0)
    assert "n/a" in _saturation_clause(7.95, float("nan"))
    assert "50% more error" in _saturation_clause(3.0, 2.0)
    assert "more colourful than the truth" in _basic_colourfulness_reason([2.5])
    assert "dulls" in _basic_colourfulness_reason([0.5, 0.6])
    assert "about as colourful" in _basic_colourfulness_reason([0.95, 1.05])
    assert "opposite errors" in _basic_colourfulness_reason([0.8, 1.42])  # mean 1.11 hides both
    assert "no colour" in _basic_colourfulness_reason([float("nan")])
    data = {"mean": {"improved:default": {"psnr": 25.0, "photos": 6},
                     "improved:dilated": {"psnr": 26.0, "photos": 5},
                     "improved:unet-l2": {"psnr": 24.0, "photos": 6}}}
    assert "improved:dilated" not in variants_verdict(data)
    assert "improved:default's (25.00 dB)" in variants_verdict(data)
    assert "1.00 dB above the next, improved:unet-l2" in variants_verdict(data)
    assert "spread" not in variants_verdict(data)  # one seed: no spread to give
    data["mean"].update({"improved:default, seed 1": {"psnr": 24.2, "photos": 6},
                         "improved:default, seed 2": {"psnr": 24.6, "photos": 6}})
    assert "3 seeds alone spread over 0.80 dB" in variants_verdict(data)


def test_the_validation_curve_is_compared_with_the_right_half_at_every_k():
    from types import SimpleNamespace

    from report.write import auto_prose

    def run(name, validation, hindsight):
        scores = {"basic": {"psnr": 20.0, "rmse": 1.0}, "basic_auto": {"psnr": 21.0}}
        return SimpleNamespace(name=name, scores=scores, auto={
            "k": [2, 3, 4, 5], "chosen": 3, "rule": "smallest k within 2 %",
            "validation_rmse": validation, "hindsight_rmse": hindsight})

    # coffee's strip lies above its right half everywhere but at the chosen k
    runs = [run("coffee", [10, 8, 7.5, 7], [9, 8.5, 7, 6]),
            run("chelsea", [5, 4, 3, 2], [6, 5, 4, 3])]
    text = " ".join(auto_prose(runs))
    assert "above the right half's at 3 (coffee) of the 4 values of k" in text
    assert "chelsea" not in text


def test_saturated_mask_marks_the_fraction_even_on_a_flat_image():
    from report.experiments import SATURATED_FRACTION, _saturated_mask

    flat = np.full((10, 20, 3), [200, 40, 40], dtype=np.uint8)
    assert _saturated_mask(flat).sum() == int(np.ceil(SATURATED_FRACTION * 200))
    ramp = np.zeros((10, 20, 3), dtype=np.uint8)
    ramp[..., 0] = np.arange(200).reshape(10, 20)
    mask = _saturated_mask(ramp)
    assert mask.sum() == 20 and mask[-1].all()  # the reddest 10 %: the last row


def test_recorded_measurements_come_from_the_out_folder_first_then_the_package(tmp_path):
    from report import PROJECT_ROOT as ROOT
    from report.__main__ import GPU_JSON, VARIANTS_JSON, recorded_json

    path, data = recorded_json(VARIANTS_JSON, tmp_path)
    assert path == ROOT / "report" / "data" / VARIANTS_JSON and data["photos"]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / VARIANTS_JSON).write_text('{"photos": {}, "mine": true}')
    assert recorded_json(VARIANTS_JSON, tmp_path) == (tmp_path / "data" / VARIANTS_JSON,
                                                      {"photos": {}, "mine": True})
    assert recorded_json("nothing.json", tmp_path)[1] is None
    path, data = recorded_json(GPU_JSON, tmp_path)
    assert path == ROOT / "report" / "data" / GPU_JSON and data is not None


def test_the_recorded_file_is_named_relative_to_the_project_from_any_folder(tmp_path, monkeypatch):
    # the project's REPORT.md must not carry one machine's absolute path
    from report import PROJECT_ROOT
    from report.__main__ import VARIANTS_JSON, _shown

    monkeypatch.chdir(tmp_path)
    assert _shown(PROJECT_ROOT / "report" / "data" / VARIANTS_JSON) == f"report/data/{VARIANTS_JSON}"
    assert _shown(tmp_path / "mine.json") == "mine.json"


@pytest.mark.parametrize("content, fragment", [("{not json", "cannot be read as JSON"),
                                                ("[]", "expected a JSON object")])
def test_a_broken_recorded_file_is_one_line_before_any_photo_runs(content, fragment, tmp_path,
                                                                   capsys, monkeypatch):
    import report.__main__ as entry
    from report.__main__ import VARIANTS_JSON

    out = tmp_path / "out"
    (out / "data").mkdir(parents=True)
    (out / "data" / VARIANTS_JSON).write_text(content)
    ran = []
    monkeypatch.setattr(entry, "run_photo", lambda *a, **k: ran.append(a))
    assert main(["--quick", "--no-bench", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and fragment in err
    assert ran == [] and not (out / "REPORT.md").exists()


def test_verdict_words_follow_the_sign_of_what_they_describe():
    from types import SimpleNamespace

    from report.answers import _classification_choice, temperature_means
    from report.write import auto_prose

    def run(name, hindsight):
        scores = {"basic": {"psnr": 20.0, "rmse": 1.0}, "basic_auto": {"psnr": 21.0}}
        return SimpleNamespace(name=name, scores=scores, auto={
            "k": [2, 4, 6, 8], "chosen": 4, "rule": "smallest k within 2 %",
            "validation_rmse": hindsight, "hindsight_rmse": hindsight})

    # an even (straight-line) fall is not "diminishing returns"; a front-loaded one is
    assert "diminishing" not in " ".join(auto_prose([run("a", [10, 9, 8, 7])]))
    assert "diminishing" in " ".join(auto_prose([run("a", [10, 7.5, 7.2, 7])]))

    def variants(psnr_by_t):
        decodings = {f"temperature {t:g}": {"psnr": p} for t, p in psnr_by_t.items()}
        return {"photos": {"x": {"agents": {"improved:default": {"decodings": decodings}}}}}

    config = {"loss": "cls", "bin_step": 10.0, "neighbors": 5, "rebalance": 0.5,
              "temperature": 0.7}
    assert temperature_means(variants({0.38: 24.0, 0.7: 25.0})) == {0.38: 24.0, 0.7: 25.0}
    assert "scores best" in _classification_choice(config, variants({0.38: 24.0, 0.7: 25.0}))
    text = _classification_choice(config, variants({0.7: 25.0, 1: 25.5}))
    assert "temperature 1 scores 0.50 dB higher" in text and "scores best" not in text
    assert "spread" not in text  # no seeds recorded: no spread to compare with
    tied = _classification_choice(config, variants({0.7: 25.0, 1: 25.001}))
    assert "ties with temperature 1 to the 0.01 dB" in tied and "0.00 dB higher" not in tied
    seeded = variants({0.7: 25.0, 1: 25.5})
    for seed, psnr in ((1, 24.0), (2, 24.2)):
        seeded["photos"]["x"]["agents"][f"improved:default, seed {seed}"] = {"psnr": psnr}
    seeded["photos"]["x"]["agents"]["improved:default"]["psnr"] = 24.1
    assert "less than the 0.20 dB" not in _classification_choice(config, seeded)
    assert "more than the 0.20 dB" in _classification_choice(config, seeded)
    assert _classification_choice(config, None).endswith("less risk).")


def _scored_run(name, colorfulness, truth, gray_rmse, psnr=20.0):
    from types import SimpleNamespace

    scores = {"rmse": 10.0, "psnr": psnr, "ssim": 0.5, "delta_e2000": 5.0,
              "colorfulness": colorfulness, "colorfulness_true": truth}
    return SimpleNamespace(name=name, scores={"basic": scores},
                           diagnostics={"basic": {"gray_rmse": gray_rmse}})


def test_score_tables_put_the_colour_ratio_and_gray_rmse_in_their_columns():
    from report.experiments import LABELS
    from report.tables import fmt, mean_of, mean_table, photo_table

    assert (fmt(None), fmt(float("nan")), fmt(float("inf")), fmt(2.0, 1)) == ("n/a", "n/a", "inf", "2.0")
    assert mean_of([1.0, None, float("nan"), 3.0]) == 2.0  # missing values are left out
    a, b = _scored_run("a", 20.0, 10.0, 3.0), _scored_run("b", 30.0, 60.0, 5.0, psnr=float("nan"))
    row = photo_table(a).splitlines()[2]
    assert row == f"| {LABELS['basic']} | 10.00 | 20.00 | 0.500 | 5.00 | 20.0 | 2.00 | 3.00 |"
    # the ratio column is the mean of the per-photo ratios (2 and 0.5), not of one photo
    row = mean_table([a, b]).splitlines()[2]
    assert row == f"| {LABELS['basic']} | 10.00 | 20.00 | 0.500 | 5.00 | 25.0 | 1.25 | 4.00 |"


def test_k_and_training_tables_name_the_hindsight_best_and_the_restored_epoch():
    from types import SimpleNamespace

    from report.tables import k_table, training_table

    auto = {"k": [2, 3, 4, 5, 6], "chosen": 3, "validation_rmse": [6.0, 5.5, 5.7, 5.9, 6.1],
            "hindsight_rmse": [9.0, 7.0, 6.0, 6.5, 8.0]}
    row = k_table([SimpleNamespace(name="p", auto=auto)]).splitlines()[2]
    assert row == "| p | 3 | 5.50 | 7.00 | 6.50 | 4 | 6.00 |"
    history = {"best_epoch": 1, "train_loss": [5.0, 4.0, 3.5], "val_loss": [3.0, 2.0, 2.5],
               "epochs_run": 3, "stopped_early": True}
    run = SimpleNamespace(name="p", improved={"training": history, "parameters": 1234})
    assert training_table([run]).splitlines()[2] == "| p | 1,234 | 3 | 2 | yes | 4.000 | 2.000 |"


def _prose_build(improved_psnr=(25.0, 19.0), lookup_gray_rmse=0.2):
    """Two photos with every score the summary, results and failures prose read."""
    from types import SimpleNamespace

    def scores(psnr, de=5.0):
        return {"rmse": 10.0, "psnr": psnr, "ssim": 0.5, "delta_e2000": de,
                "colorfulness": 20.0, "colorfulness_true": 20.0}

    def run(name, basic, improved, improved_de):
        diag = {"gray_rmse": 0.2, "de_saturated": 5.0, "de_rest": 5.0}
        return SimpleNamespace(
            name=name, size=(9, 16), improved=None,
            scores={"gray": scores(15.0), "mean_chroma": scores(18.0), "gray_lookup": scores(22.0),
                    "basic": scores(basic), "basic_true_gray": scores(basic + 1.5),
                    "basic_palette": scores(27.0), "palette5": scores(30.0),
                    "basic_auto": scores(basic), "improved": scores(improved, improved_de)},
            diagnostics={"gray": diag, "mean_chroma": diag,
                         "gray_lookup": {**diag, "gray_rmse": lookup_gray_rmse},
                         "basic": {**diag, "gray_rmse": 9.0}, "improved": diag},
            auto={"k": [4, 5, 6], "chosen": 5, "rule": "smallest k within 2 %",
                  "validation_rmse": [3.0, 2.0, 1.0], "hindsight_rmse": [3.0, 2.0, 1.0]})

    runs = [run("a", 21.0, improved_psnr[0], 4.0), run("b", 19.0, improved_psnr[1], 6.0)]
    return SimpleNamespace(runs=runs, settings=SimpleNamespace(seed=0), variants=None)


def test_the_summary_names_the_best_baseline_the_wins_and_the_gap_to_the_bound():
    from report.experiments import LABELS
    from report.write import summary_lines

    text = " ".join(summary_lines(_prose_build()))
    assert f"the best baseline ({LABELS['gray_lookup']}) 22.00 dB" in text
    assert "It beats the basic agent in PSNR on 1 of 2 photos (a)." in text
    assert "the basic agent is 10.00 dB below it." in text  # the bound 30 against the basic 20


def test_the_results_prose_weighs_the_brightness_and_keeps_the_gray_only_when_every_method_does():
    from report.write import results_prose

    text = " ".join(results_prose(_prose_build()))
    # 1.5 dB from the true gray, more than half the 2 dB gap to the gray lookup
    assert "The basic agent scores below the gray-lookup baseline in PSNR on 2 of 2 photos. " \
           "The main reason" in text
    assert "keep the known gray exactly" in text
    text = " ".join(results_prose(_prose_build(lookup_gray_rmse=0.9)))
    assert "keep the known gray exactly" not in text  # the gray lookup's gray is off


def test_the_failures_prose_names_the_worst_photo_and_the_photos_worse_than_the_lookup():
    from report.write import failures_prose

    basic, improved = failures_prose(_prose_build())[0], failures_prose(_prose_build())[-1]
    assert "Its worst photo is b (19.00 dB)" in basic
    assert "Its worst photo is b (19.00 dB)" in improved
    # b is below the lookup in PSNR (19 < 22) and in CIEDE2000 (6 > 5); a in neither
    assert "in PSNR on 1 of 2 photos (b), and in CIEDE2000 on 1 of 2 (b)." in improved


def test_an_error_within_ten_percent_of_the_rest_is_called_so():
    from report.write import _saturation_clause

    assert _saturation_clause(2.1, 2.0).endswith(": within 10 % of its error elsewhere")
    assert _saturation_clause(1.0, 2.0).endswith(": 50% less error on the strongly coloured pixels "
                                                 "than on the rest")


def test_the_k_sweep_gives_its_largest_rounding_difference_and_the_gap_at_the_restored_epoch():
    from types import SimpleNamespace

    from report.write import auto_prose, training_prose

    def run(name, basic_rmse):
        scores = {"basic": {"psnr": 20.0, "rmse": basic_rmse}, "basic_auto": {"psnr": 21.0}}
        return SimpleNamespace(name=name, scores=scores, auto={
            "k": [4, 5, 6], "chosen": 5, "rule": "smallest k within 2 %",
            "validation_rmse": [3.0, 2.0, 1.0], "hindsight_rmse": [3.0, 2.0, 1.0]})

    text = " ".join(auto_prose([run("a", 2.1), run("b", 2.3)]))
    assert "in the score tables (rounded, as a PNG stores it) by up to 0.30." in text
    trained = SimpleNamespace(name="p", improved={"training": {
        "train_loss": [3.0, 2.0, 1.0], "val_loss": [5.0, 4.0, 4.5], "best_epoch": 1,
        "epochs_run": 3, "stopped_early": True}})
    text = training_prose([trained], {"epochs": 9, "patience": 2})[0]
    assert "At the restored epoch the validation loss is on average 2.000 above" in text


def test_gpu_speed_up_is_cpu_seconds_over_gpu_seconds():
    from types import SimpleNamespace

    from report.write import gpu_lines

    gpu = {"date": "d", "machine": "m", "note": "n",
           "tests": {"command": "python -m pytest -m gpu", "passed": 1, "failed": 0,
                     "seconds": 2.0},
           "rows": [{"workload": "w", "cpu_s": 3.0, "gpu_s": 0.5},
                    {"workload": "v", "cpu_s": None, "gpu_s": 1.0, "missing": "not run"}]}
    lines = gpu_lines(SimpleNamespace(device="cpu", gpu_measurements=gpu))
    assert "| w | 3 | 0.5 | 6.0x |" in lines and "| v | - | - | not run |" in lines


@pytest.mark.slow
def test_the_worst_gradient_check_named_in_the_text_is_the_tables_largest(quick_report):
    _, text, _ = quick_report
    engine = text[text.index("## The engine"):]
    worst = float(re.search(r"worst relative error ([\d.e+-]+)\. ", engine).group(1))
    errors = [float(e) for e in re.findall(r"^\| .* \| `.*` \| ([\d.e+-]+) \|$", engine, re.M)]
    assert errors and worst == float(f"{max(errors):.1e}")


def test_the_answers_count_the_training_patches_and_the_gain_of_a_perfect_vote():
    from types import SimpleNamespace

    from report.answers import p_answers

    build = _prose_build()
    build.settings = SimpleNamespace(seed=0, max_side=16)
    text = " ".join(p_answers(build, {}))
    assert "72 and 72 patches for these photos" in text  # 9 rows x 8 left columns
    # the perfect vote with the agent's own palette (27 dB), not the right half's (30 dB)
    assert "up to 7.00 dB from a better vote" in text


def test_the_learning_rate_schedule_follows_the_plateau_setting():
    from report.answers import improved_p1

    config = {"loss": "l2", "arch": "unet", "width": 8, "lr": 0.01, "batch_size": 4, "crop": 32,
              "bank_size": 64}
    assert "halved once 3 epochs in a row" in improved_p1([], {**config, "plateau": 2})
    assert "halved" not in improved_p1([], {**config, "plateau": 0, "ema_decay": 0.9})


def test_the_verdict_ranks_seed_zero_variants_and_spreads_seeds_of_every_photo_only():
    from report.answers import variants_verdict

    data = {"mean": {"improved:default": {"psnr": 25.0, "photos": 6},
                     "improved:unet-l2": {"psnr": 24.0, "photos": 6},
                     "improved:default, seed 1": {"psnr": 26.0, "photos": 6},
                     "improved:default, seed 2": {"psnr": 10.0, "photos": 5}}}
    text = variants_verdict(data)
    assert "improved:default's (25.00 dB), 1.00 dB above the next, improved:unet-l2" in text
    assert "The defaults' 2 seeds alone spread over 1.00 dB" in text


def test_record_scores_the_right_half_and_defines_its_diagnostics():
    from colorize.color import rgb_to_gray
    from colorize.metrics import error_map_de2000
    from report.experiments import PhotoRun, _record, _saturated_mask

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (6, 21, 3), dtype=np.uint8)
    run = PhotoRun(name="p", original_size=(6, 21), rgb=rgb)
    assert np.array_equal(run.right, rgb[:, 10:])  # columns [W // 2, W): 11 of 21
    prediction = rng.integers(0, 256, (6, 11, 3), dtype=np.uint8)
    _record(run, "x", prediction)
    gray_error = rgb_to_gray(prediction).astype(np.float64) - rgb_to_gray(run.right)
    errors, saturated = error_map_de2000(run.right, prediction), _saturated_mask(run.right)
    diag = run.diagnostics["x"]
    assert diag["gray_rmse"] == pytest.approx(np.sqrt(np.mean(gray_error**2)))
    assert diag["de_saturated"] == pytest.approx(errors[saturated].mean())
    assert diag["de_rest"] == pytest.approx(errors[~saturated].mean())


def test_the_basic_runs_and_the_palette_bound_measure_what_the_report_says():
    from agents.basic import AUTO_COLORS, color_sweep
    from colorize.halves import protocol_inputs
    from report.experiments import (BOUND_COLORS, PhotoRun, Settings, _run_basic,
                                    _run_basic_auto, _run_palette_bound)

    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    run = PhotoRun(name="p", original_size=(12, 16), rgb=rgb)
    left, right_gray, _ = protocol_inputs(rgb)
    settings = Settings(device="cpu")
    _run_basic(run, left, right_gray, settings)
    # the basic agent's colours on the true gray keep the gray but for rounding to 8 bits
    assert run.diagnostics["basic_true_gray"]["gray_rmse"] < 0.5
    _run_basic_auto(run, left, right_gray, settings)
    assert run.auto["hindsight_rmse"] == color_sweep(left, run.right, AUTO_COLORS, seed=0)
    _run_palette_bound(run, settings)
    colours = np.unique(run.right_predictions["palette5"].reshape(-1, 3), axis=0)
    assert len(colours) == BOUND_COLORS


@pytest.fixture
def drawn_figures(monkeypatch):
    """The report's figure functions return their matplotlib figure instead of writing it
    (closed after the test)."""
    import matplotlib.pyplot as plt

    import report.figures as figures

    monkeypatch.setattr(figures, "_save", lambda fig, path: fig)
    yield figures
    plt.close("all")


def test_figures_mark_the_seam_the_hindsight_best_k_and_the_restored_epoch(drawn_figures):
    from types import SimpleNamespace

    from report.experiments import PhotoRun

    figures = drawn_figures
    rgb = np.random.default_rng(0).integers(0, 256, (8, 16, 3), dtype=np.uint8)
    run = PhotoRun(name="p", original_size=(8, 16), rgb=rgb, outputs={"basic": rgb})
    fig = figures.outputs_figure("unused.png", run)
    assert {line.get_xdata()[0] for line in fig.axes[1].get_lines()} == {7.5}  # columns 7 | 8
    # the validation curve is lowest at k = 2, the right half's at k = 4: the star is the latter
    run.auto = {"k": [2, 3, 4], "chosen": 2, "validation_rmse": [1.0, 2.0, 3.0],
                "hindsight_rmse": [5.0, 4.5, 4.0]}
    labels = figures.k_curves_figure("unused.png", [run]).axes[0].get_legend_handles_labels()[1]
    assert "hindsight best k = 4" in labels and "chosen k = 2" in labels
    trained = SimpleNamespace(name="p", improved={"config": {"loss": "l2"}, "training": {
        "train_loss": [3.0, 2.0, 1.0], "val_loss": [5.0, 4.0, 4.5], "best_epoch": 1}})
    ax = figures.loss_curves_figure("unused.png", [trained]).axes[0]
    assert "restored epoch 2" in ax.get_legend_handles_labels()[1]
    assert ax.get_lines()[-1].get_xdata()[0] == 2  # epochs are numbered from 1


def test_error_maps_share_one_scale_that_ends_at_the_99th_percentile(drawn_figures):
    from colorize.plots import error_map
    from report.experiments import PhotoRun

    figures = drawn_figures
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (8, 16, 3), dtype=np.uint8)
    run = PhotoRun(name="p", original_size=(8, 16), rgb=rgb)
    run.right_predictions = {key: rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
                             for key in ("gray_lookup", "basic", "improved")}
    fig = figures.errors_figure("unused.png", run)
    maps = [error_map(run.right, p) for p in run.right_predictions.values()]
    top = np.percentile(np.concatenate([m.ravel() for m in maps]), 99)
    for ax, expected in zip(fig.axes[1:4], maps):
        image = ax.get_images()[0]
        assert image.get_clim() == pytest.approx((0, top))
        assert np.allclose(image.get_array(), expected)


def test_a_failing_benchmark_is_reported_by_its_last_error_line():
    from report.benchmarks import run_benchmark

    run = run_benchmark("timeit", ["-n", "1", "1/0"])  # a traceback on stderr, status 1
    assert not run.ok and run.command == "python -m timeit -n 1 1/0"
    assert run.output == "(failed with exit status 1: ZeroDivisionError: division by zero)"


@pytest.mark.parametrize("argv, max_side, options", [
    (["--quick"], 64, {"epochs": 1, "bank_size": 8}), ([], 256, {})])
def test_quick_and_full_builds_run_at_their_own_size_and_agent_settings(argv, max_side, options,
                                                                        tmp_path, monkeypatch,
                                                                        capsys):
    import report.__main__ as entry
    from nn.backend import DeviceError

    seen = []

    def stop(settings):  # the first step that sees the settings; nothing runs after it
        seen.append(settings)
        raise DeviceError("stopped on purpose")

    monkeypatch.setattr(entry, "device_description", stop)
    assert main([*argv, "--seed", "4", "--device", "cpu", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == "error: stopped on purpose\n"  # one line, no traceback
    (settings,) = seen
    assert (settings.max_side, settings.improved_options) == (max_side, options)
    assert (settings.seed, settings.device) == (4, "cpu")
    assert not (tmp_path / "out").exists()


def test_a_blank_out_is_refused_like_an_empty_one(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["--quick", "--no-bench", "--images", str(tmp_path / "none"), "--out", "  "]) == 2
    assert "--out is empty" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_header_command_keeps_every_seed_but_zero_and_the_device():
    import report.__main__ as entry

    for argv, words in [(["--seed", "1"], "--seed 1"), (["--device", "cpu"], "--device cpu"),
                        (["--device", "gpu", "--no-bench"], "--device gpu --no-bench")]:
        args = entry.build_parser().parse_args(argv)
        assert entry._command_line(args) == f"python -m report {words}"


@pytest.mark.parametrize("quick, no_bench, expected", [
    (True, False, ["colorize.bench_neighbors"]), (False, False, ["colorize.bench_neighbors", "nn.bench"]),
    (True, True, []), (False, True, [])])
def test_the_benchmarks_run_are_the_modes_own_and_none_with_no_bench(quick, no_bench, expected,
                                                                     tmp_path, monkeypatch):
    import report.__main__ as entry
    import report.figures as figures
    from report.benchmarks import BenchmarkRun

    ran = []

    def run_benchmark(module, args):
        ran.append(module)
        return BenchmarkRun(f"python -m {module}", "", 0.0, True)

    for name in ("k_curves_figure", "loss_curves_figure"):
        monkeypatch.setattr(figures, name, lambda path, runs: None)
    monkeypatch.setattr(entry.benchmarks, "gradient_checks", lambda: [("case", "x", 1e-9)])
    monkeypatch.setattr(entry.benchmarks, "run_benchmark", run_benchmark)
    monkeypatch.setattr(entry, "render", lambda build: build)
    args = entry.build_parser().parse_args(["--quick"] * quick + ["--no-bench"] * no_bench)
    mode = entry.QUICK if quick else entry.FULL
    build = entry._figures_and_text(args, None, mode, "cpu", [], tmp_path, {
        "k_curves.png": None, "loss_curves.png": None}, 0.0,
        {entry.VARIANTS_JSON: (tmp_path / "v.json", None), entry.GPU_JSON: (None, None)})
    assert ran == expected and [b.command for b in build.benchmarks] == [
        f"python -m {module}" for module in expected]
