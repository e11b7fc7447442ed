"""``python -m report [--quick] [--out DIR]``: build REPORT.md and its figures.

Steps (one progress line each on stdout): every photo in ``images/`` through every method
(:mod:`report.experiments`), the figures (:mod:`report.figures`), the gradient checks and
the speed benchmarks (:mod:`report.benchmarks`), the variant comparison written by
``python -m agents.bench_improved`` (read, not rerun), and the Markdown
(:mod:`report.write`, with :mod:`report.tables` and :mod:`report.answers`). Everything is
seeded, so the same command writes the same report except for the run times.

``--quick`` is the smoke build for tests and CI: photos resized to 64 px, a tiny improved
agent (1 epoch over a small crop bank), only the neighbours benchmark, on a tiny photo;
seconds, not minutes. Without ``--out`` it writes to ``quick/`` inside the default folder, so
that the full report is never replaced by a smoke build.
"""

import json
import sys
import time
from pathlib import Path

from colorize.bundled import bundled_images_dir
from colorize.halves import ProtocolError
from colorize.io import (ImageError, OutputError, atomic_paths, check_output_files,
                         ensure_output_dir, folders_removed_on_failure)
from nn.backend import DeviceError
from nn.cli import OneLineParser, UsageError, non_negative_int, run_command
from report import DEFAULT_OUT, IN_CHECKOUT, PROJECT_ROOT, RECORDED_DATA, benchmarks
from report.experiments import Settings, device_description, find_photos, load_photo, run_photo
from report.write import Build, render

QUICK_SUBFOLDER = "quick"
"""Where ``--quick`` writes without ``--out``: a subfolder of the default report folder."""
VARIANTS_JSON = "improved_variants.json"
GPU_JSON = "gpu_measurements.json"
"""Recorded measurements the report reads but does not rerun, in ``data/`` of ``--out`` (where
``python -m agents.bench_improved`` writes by default, run from the same folder), of the
default report folder, or else in the package's own ``report/data/`` (the project's recorded
runs, also in a regular install)."""

FULL = {
    "max_side": 256,
    "improved_options": {},
    "benchmarks": (("colorize.bench_neighbors", ("--width", "512")),
                   ("nn.bench", ("--repeats", "3"))),
}
QUICK = {
    "max_side": 64,
    "improved_options": {"epochs": 1, "bank_size": 8},
    "benchmarks": (("colorize.bench_neighbors", ("--width", "64")),),
}
SHARED_FIGURES = {"k_curves": ("k_curves.png", "the k-means curves"),
                  "loss_curves": ("loss_curves.png", "the loss curves")}
"""The figures drawn from every photo together: key in the report, file name, what it shows."""


def build_parser():
    parser = OneLineParser(prog="python -m report",
                           description="Build REPORT.md and its figures: both agents on every "
                                       "photo, the gradient checks and the benchmarks.")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="folder for REPORT.md and figures/ (default: the project's "
                             "report/ in a checkout, else colorize-report/ here; with --quick, "
                             "its quick/ subfolder)")
    parser.add_argument("--images", default=str(bundled_images_dir()), metavar="DIR",
                        help="folder of colour photos (default: the bundled images/)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny photos, a tiny improved agent, tiny benchmarks (smoke test)")
    parser.add_argument("--no-bench", action="store_true", help="skip the speed benchmarks")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="seed of every agent (default: 0)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "gpu"),
                        help="device of both agents (default: auto)")
    return parser


def log(message):
    print(message, flush=True)


class RecordedDataError(ValueError):
    """A recorded measurement file that exists but cannot be read as a JSON object."""


def recorded_json(name, out):
    """``(path, data)`` of the recorded measurement file ``name`` (see ``VARIANTS_JSON``);
    data is None when no place has it (path is then the package's).

    Raises:
        RecordedDataError: the file exists but is unreadable, not JSON, or not an object.
    """
    # the default folder too: a --quick build writes to its quick/ subfolder, and the
    # recorded runs are in the default folder's data/
    for folder in (Path(out), DEFAULT_OUT, PROJECT_ROOT / "report"):
        path = folder / RECORDED_DATA / name
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise RecordedDataError(f"{path}: cannot be read as JSON ({exc}); fix or "
                                        "remove it") from None
            if not isinstance(data, dict):
                raise RecordedDataError(f"{path}: expected a JSON object, got "
                                        f"{type(data).__name__}")
            return path, data
    return path, None


def main(argv=None):
    """Build the report; exit status 0, or 2 with one line ``error: ...`` for bad input."""
    return run_command(lambda: build(build_parser().parse_args(argv)),
                       (DeviceError, ImageError, OutputError, ProtocolError, RecordedDataError))


def build(args):
    """Every step of the report for parsed ``args``; returns the exit status."""
    started = time.perf_counter()
    mode = QUICK if args.quick else FULL
    if args.out is not None and not args.out.strip():
        raise UsageError("--out is empty; give a folder")
    if args.out is None:
        # a smoke build must not replace the full report and its figures
        args.out = str(DEFAULT_OUT / QUICK_SUBFOLDER if args.quick else DEFAULT_OUT)
    settings = Settings(max_side=mode["max_side"], seed=args.seed, device=args.device,
                        improved_options=mode["improved_options"])
    device = device_description(settings)
    if not args.images.strip():
        raise UsageError("--images is empty; give a folder")
    if not Path(args.images).is_dir():
        raise UsageError(f"--images {args.images}: no such folder")
    photos = find_photos(args.images)
    if not photos:
        raise UsageError(f"no photos (.png, .jpg) in the folder {args.images}")
    stems, loaded = {}, {}
    for path in photos:
        if path.stem in stems:
            # figures and sections are named by the stem: one would overwrite the other
            raise UsageError(f"{stems[path.stem]} and {path.name} in {args.images} share the name "
                             f"{path.stem!r}; the report names figures by it, so rename one")
        stems[path.stem] = path.name
        try:
            loaded[path] = load_photo(path, settings.max_side)
        except (ImageError, ProtocolError) as exc:
            raise UsageError(f"{path.name}: {exc}") from None
    # read before the minutes of work, so that a broken file fails at once
    recorded = {name: recorded_json(name, args.out) for name in (VARIANTS_JSON, GPU_JSON)}
    out, figures_dir = Path(args.out), Path(args.out) / "figures"
    report_path = out / "REPORT.md"
    figure_names = _figure_names(photos)
    check_output_files([report_path] + [figures_dir / name for name in figure_names],
                       [(path, "photo") for path in photos])
    # The figures and REPORT.md are written to temporary files and replace the old ones all
    # together at the end: an interrupted or failed build leaves the earlier report whole,
    # never its text beside new figures.
    targets = {name: figures_dir / name for name in figure_names}
    targets["REPORT.md"] = report_path
    with folders_removed_on_failure(figures_dir):
        ensure_output_dir(out)
        ensure_output_dir(figures_dir)
        log(f"report: {len(photos)} photos at {settings.max_side} px, seed {settings.seed}, "
            f"{device}")
        with atomic_paths(targets) as tmp:
            runs = [run_photo(path, loaded[path], settings, log=log) for path in photos]
            text = _figures_and_text(args, settings, mode, device, runs, figures_dir, tmp, started,
                                     recorded)
            tmp["REPORT.md"].write_text(text, encoding="utf-8")
    log(f"wrote {report_path} in {time.perf_counter() - started:.0f} s")
    return 0


def _photo_figures(stem):
    """The file names of one photo's figures: its outputs and its error maps."""
    return f"{stem}.png", f"{stem}_errors.png"


def _figure_names(photos):
    """Every figure's file name for ``photos``; UsageError when two figures would share one
    (a photo named like another's error map, or like a shared figure)."""
    owners = {name: what for name, what in SHARED_FIGURES.values()}
    for path in photos:
        for name, what in zip(_photo_figures(path.stem), ("figure", "error map")):
            if name in owners:
                raise UsageError(f"{owners[name]} and {path.name}'s {what} would both be "
                                 f"figures/{name}; rename {path.name}")
            owners[name] = f"{path.name}'s {what}"
    return list(owners)


def _figures_and_text(args, settings, mode, device, runs, figures_dir, tmp, started, recorded):
    """Draw the figures (each to its temporary file ``tmp[name]``), run the checks and
    benchmarks, and return the text of REPORT.md."""
    # imported here, not at the top: matplotlib takes seconds to import, and --help, refused
    # runs and a Ctrl-C before the work starts should not wait for it
    from report.figures import errors_figure, k_curves_figure, loss_curves_figure, outputs_figure

    def figure(draw, name, *data):
        draw(tmp[name], *data)
        return f"figures/{name}"

    figures = {}
    for run in runs:
        outputs_name, errors_name = _photo_figures(run.name)
        figures[run.name] = (figure(outputs_figure, outputs_name, run),
                             figure(errors_figure, errors_name, run))
    for key, draw in (("k_curves", k_curves_figure), ("loss_curves", loss_curves_figure)):
        figures[key] = figure(draw, SHARED_FIGURES[key][0], runs)
    log(f"figures drawn for {figures_dir}")

    rows = benchmarks.gradient_checks()
    log(f"gradient checks: {len(rows)} cases, worst relative error {max(r[2] for r in rows):.1e}")
    bench_runs = []
    if not args.no_bench:
        for module, bench_args in mode["benchmarks"]:
            bench = benchmarks.run_benchmark(module, bench_args)
            log(f"benchmark `{bench.command}`: {bench.seconds:.0f} s"
                + ("" if bench.ok else " (failed; see the report)"))
            bench_runs.append(bench)

    variants_path, variants = recorded[VARIANTS_JSON]
    report = Build(settings=settings, quick=args.quick, device=device, runs=runs, figures=figures,
                  gradcheck=rows, benchmarks=bench_runs, variants=variants,
                  variants_path=_shown(variants_path),
                  gpu_measurements=recorded[GPU_JSON][1],
                  seconds=time.perf_counter() - started,
                  command=_command_line(args), images=_images_shown(args.images))
    return render(report)


def _shown(path):
    """A path as the report names it: relative to the project in a checkout (``report/data/...``
    wherever the command runs), else relative to the current folder, else absolute."""
    bases = ([PROJECT_ROOT] if IN_CHECKOUT else []) + [Path.cwd()]
    for base in bases:
        try:
            return str(path.resolve().relative_to(base.resolve()))
        except ValueError:
            continue
    return str(path.resolve())


def _is_default_images(folder):
    return Path(folder).resolve() == bundled_images_dir().resolve()


def _images_shown(folder):
    """The photo folder as the report names it (the bundled one relative to the project)."""
    return "images/" if _is_default_images(folder) else str(folder)


def _command_line(args):
    """The command that rebuilds this report (its options that change the content)."""
    words = ["python -m report"]
    if args.quick:
        words.append("--quick")
    if not _is_default_images(args.images):
        words.append(f"--images {args.images}")
    if args.seed != 0:
        words.append(f"--seed {args.seed}")
    if args.device != "auto":
        words.append(f"--device {args.device}")
    if args.no_bench:
        words.append("--no-bench")
    return " ".join(words)


if __name__ == "__main__":
    sys.exit(main())
