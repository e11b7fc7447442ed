"""What both command lines share: arguments, loading, the two modes, output files, summary.

An agent module builds its parser with ``build_parser`` (the common options), adds its own
options, and hands ``main`` a factory that makes the agent from the parsed arguments::

    parser = build_parser("basic", __doc__, default_max_side=512)
    parser.add_argument("--colors", ...)
    sys.exit(main(parser, "basic", make_agent, argv))

The agent contract (both agents follow it):

- ``agent.name``: ``"basic"`` or ``"improved"``; used in the output file names.
- ``agent.full_resolution``: True when ``colorize`` can take a gray image larger than the
  training image (the improved agent); then training happens at ``--max-side`` and the output
  keeps the photo's full size. Otherwise the whole photo is processed at the working size.
- ``agent.fit(rgb)``: learn from a colour image (H, W, 3) uint8.
- ``agent.check_training_shape(shape)`` (optional): raise ``UsageError`` for settings that
  cannot work on a training image of that shape; called before any note is printed.
- ``agent.pretrained`` (optional): True for a loaded model, whose ``fit`` keeps it as it is;
  such an agent colourizes a gray IMAGE (or any IMAGE with ``--whole``) whole without
  ``--reference``, and a colour IMAGE at its full size (``--max-side`` does not apply).
- ``agent.colorize(gray)``: (H, W) float gray on 0..255 -> (H, W, 3) RGB on 0..255.
- ``agent.uses_left_colours``: True when ``colorize`` also takes ``left=``, the colour image
  just left of the gray one; under the protocol it gets the training half there (the
  improved agent propagates its known colours across the seam).
- ``agent.training_output(left_rgb)``: what the protocol shows for the training half (the basic
  agent: its representative colours; the improved agent: the original).
- ``agent.summary()``: a JSON-safe dict of what the agent chose and learnt (parameters, curves).

Bad input of any kind ends in one line ``error: ...`` on stderr and exit status 2; no result
file is written until every result is computed, and each file is written atomically. (The one
file written earlier is the improved agent's ``--save-model``, complete, when training ends.)
"""

import argparse
import math
import time
from pathlib import Path

import numpy as np

from colorize.bundled import bundled_image
from colorize.color import rgb_to_gray
from colorize.halves import (MIN_HEIGHT, MIN_WIDTH, ProtocolError, check_protocol_size, compose_halves,
                             left_half_is_gray, resize_halves, split_halves)
from colorize.io import (
    ImageError,
    OutputError,
    atomic_paths,
    check_output_files,
    ensure_output_dir,
    folders_removed_on_failure,
    is_grayscale,
    max_side_size,
    read_rgb,
    resize_to,
    write_json,
    write_png,
)
from colorize.metrics import baseline_scores, score
from nn.backend import DEVICES, DeviceError, describe_device, resolve_device
from nn.cli import OneLineParser, UsageError, int_at_least, non_negative_int, run_command, tell
from nn.progress import stderr_is_terminal

DEFAULT_IMAGE = bundled_image("chelsea.png")


def max_side_int(text):
    """argparse type for ``--max-side``: at least the protocol's minimum of 8 pixels."""
    return int_at_least(text, 8)


def auto_or(parse, wanted):
    """argparse type: ``auto`` (any case) or what ``parse`` (an argparse type) accepts, with
    one message naming both (``wanted`` describes what ``parse`` takes)."""

    def parse_or_auto(text):
        if text.strip().lower() == "auto":
            return "auto"
        try:
            return parse(text)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(f"expected {wanted} or 'auto', got {text!r}") from None

    return parse_or_auto


def build_parser(agent_name, description, default_max_side):
    """The options both agents share; the agent module adds its own."""
    parser = OneLineParser(
        prog=f"python -m agents.{agent_name}",
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "image", nargs="?", default=str(DEFAULT_IMAGE), metavar="IMAGE",
        help="photo to process (default: the bundled images/chelsea.png)",
    )
    parser.add_argument("--out", default="out", metavar="DIR", help="output folder (default: out/)")
    parser.add_argument(
        "--max-side", type=max_side_int, default=default_max_side, metavar="PX",
        help=f"working size: longer side in pixels, at least 8 (default: {default_max_side}); "
        "larger photos are resized with a notice",
    )
    parser.add_argument(
        "--reference", metavar="COLOR_IMAGE",
        help="learn from this whole colour photo and colourize the whole IMAGE instead of the "
        "left/right protocol",
    )
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--device", choices=DEVICES, default="auto",
        help="auto (GPU when CuPy and a device answer), cpu or gpu (default: auto)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="print nothing but the summary table",
    )
    return parser


def show_progress(args):
    """Progress bars only on a terminal and never with --quiet."""
    return not args.quiet and stderr_is_terminal()


def notice(args, message):
    """A one-line note on stderr (resizing and the like), silenced by --quiet.

    Under :func:`main` the notes wait in ``args.notes`` until the inputs have passed their
    checks (:func:`flush_notices`), so a refused run prints its one ``error:`` line alone.
    """
    if args.quiet:
        return
    if getattr(args, "notes", None) is None:
        tell(message)
    else:
        args.notes.append(message)


def flush_notices(args):
    """Print the notes held back by :func:`notice`: the inputs are accepted."""
    notes = getattr(args, "notes", None) or []
    for message in notes:
        tell(message)
    notes.clear()


def _read_noting(args, path, role):
    """``read_rgb(path)``, with a note for what the array leaves out (transparency, frames)."""
    left_out = []
    rgb = read_rgb(path, notes=left_out)
    if left_out:
        notice(args, f"note: {role} {Path(path).name}: {'; '.join(left_out)}")
    return rgb


def _require_colour(rgb, path, role, pretrained=False):
    """Refuse a gray photo where colour must be learnt from (under the protocol: a photo
    whose left half is gray), with advice; ``pretrained``: the agent's model was loaded, so
    nothing is learnt, and the advice is to colour the photo whole."""
    if role == "image":
        gray = is_grayscale(rgb)
        if gray or left_half_is_gray(rgb):
            what = "a gray photo" if gray else "a photo whose left half is gray"
            if pretrained:
                raise UsageError(f"{path} is {what}, so the left/right protocol would keep a gray "
                                 "left half; add --whole to colour the whole photo with the "
                                 "loaded model")
            raise UsageError(
                f"{path} is {what}, so its left half has no colour to learn from; "
                "give a colour photo to learn from with --reference"
            )
    elif is_grayscale(rgb):
        raise UsageError(f"reference {path} is a gray photo; a reference must carry colour")
    return rgb


def _check_training_shape(agent, shape):
    """The agent's own refusal of a training image of ``shape``, if it has one."""
    check = getattr(agent, "check_training_shape", None)
    if check is not None:
        check(shape)


def _working_copy(args, rgb, what, kind="protocol", result=None):
    """Resize to --max-side, saying so when it happens. ``kind``: ``"protocol"`` for a photo
    split into halves (each half is shrunk on its own, :func:`colorize.halves.resize_halves`),
    ``"reference"`` for a photo learnt from whole; both refuse a result under the protocol's
    minimum, naming the photo's own size and the flag that shrank it. ``"whole"``: a photo
    coloured whole, with no minimum. ``result``: for the photo being coloured, whether the
    result keeps the full size (the note then says which size the result has); None for a
    reference."""
    size = max_side_size(rgb.shape, args.max_side)
    if size is None:
        return rgb
    h, w = rgb.shape[:2]
    if kind != "whole":
        try:
            check_protocol_size(rgb.shape)
        except ProtocolError as exc:
            # already under the minimum: no --max-side can help, so none is suggested
            raise ProtocolError(f"{what}: {exc}") from None
        try:
            check_protocol_size(size)
        except ProtocolError:
            whose = "a reference's" if kind == "reference" else "the protocol's"
            raise ProtocolError(
                f"{'reference ' if kind == 'reference' else ''}{what} is {w}x{h}; at --max-side "
                f"{args.max_side} it would shrink to {size[1]}x{size[0]}, below {whose} minimum "
                f"of 8x8 pixels; give a larger --max-side") from None
    small = resize_halves(rgb, size) if kind == "protocol" else resize_to(rgb, size)
    note = {None: "", True: f"; the result keeps {w}x{h}",
            False: ", which is also the size of the result"}[result]
    notice(args, f"note: {what} is {w}x{h}; working at {small.shape[1]}x{small.shape[0]} "
                 f"(--max-side {args.max_side}){note}")
    return small


def run_protocol(agent, args, rgb):
    """Left half trains, right half is coloured; returns (image, output, metrics, timings,
    panels), where image is the photo at the size it was coloured at (the output's size) and
    panels those of the comparison figure."""
    # a loaded model is not trained again: it colours at full resolution, so no working copy
    pretrained = getattr(agent, "pretrained", False)
    work = (rgb if pretrained
            else _working_copy(args, rgb, Path(args.image).name, result=agent.full_resolution))
    try:
        check_protocol_size(work.shape)
    except ProtocolError as exc:
        if pretrained:
            raise ProtocolError(f"{exc}; the loaded model can colour it whole: add --whole") from None
        raise
    full = rgb if agent.full_resolution else work
    check_protocol_size(full.shape)
    left_work, _ = split_halves(work)
    _check_training_shape(agent, left_work.shape)
    flush_notices(args)

    left_full, right_full = split_halves(full)
    start = time.perf_counter()
    agent.fit(left_work)
    fitted = time.perf_counter()
    known = {"left": left_full} if agent.uses_left_colours else {}
    right_pred = agent.colorize(rgb_to_gray(right_full), **known)
    coloured = time.perf_counter()
    output = compose_halves(agent.training_output(left_full), right_pred)
    output = np.clip(np.rint(output), 0, 255).astype(np.uint8)

    _, right_out = split_halves(output)
    metrics = {"right": score(right_full, right_out), "baselines": baseline_scores(full)}
    timings = {"fit_s": fitted - start, "colorize_s": coloured - fitted}
    gray_right = np.repeat(np.rint(rgb_to_gray(right_full)).astype(np.uint8)[..., None], 3, axis=2)
    panels = [("original", full),
              ("what the agent is given:\nleft half in colour, right half in gray",
               compose_halves(left_full, gray_right)),
              (f"{agent.name} agent:\nright half coloured", output)]
    return full, output, metrics, timings, panels


def run_reference(agent, args, rgb):
    """The whole reference trains, the whole IMAGE is coloured; scored if IMAGE had colour.

    Without ``--reference`` (a loaded model, and a gray IMAGE or ``--whole``) the model colours
    IMAGE as it is.
    """
    if args.reference is None:
        return _colour_whole(agent, args, rgb, None)
    try:
        reference = _read_noting(args, args.reference, "reference")
    except ImageError as exc:
        raise ImageError(f"--reference: {exc}") from None
    reference = _require_colour(reference, args.reference, "reference")
    try:
        # the agents need as much to learn from as a protocol photo offers
        check_protocol_size(reference.shape)
    except ProtocolError:
        raise UsageError(f"reference {args.reference} is {reference.shape[1]}x{reference.shape[0]} "
                         f"pixels; a reference must be at least {MIN_WIDTH}x{MIN_HEIGHT}") from None
    # a reference that --max-side would shrink under the minimum is refused here, naming it
    ref_work = _working_copy(args, reference, Path(args.reference).name, kind="reference")
    _check_training_shape(agent, ref_work.shape)
    return _colour_whole(agent, args, rgb, ref_work)


def _colour_whole(agent, args, rgb, ref_work):
    """Fit on ``ref_work`` (None: a loaded model, kept as it is) and colour the whole IMAGE."""
    # the target is not split in two, so the protocol's minimum does not apply to it
    target = (rgb if agent.full_resolution
              else _working_copy(args, rgb, Path(args.image).name, kind="whole", result=False))
    flush_notices(args)

    start = time.perf_counter()
    agent.fit(target if ref_work is None else ref_work)
    fitted = time.perf_counter()
    output = agent.colorize(rgb_to_gray(target))
    coloured = time.perf_counter()
    output = np.clip(np.rint(output), 0, 255).astype(np.uint8)

    metrics = {"image": None if is_grayscale(target) else score(target, output)}
    timings = {"fit_s": fitted - start, "colorize_s": coloured - fitted}
    panels = ([] if ref_work is None else [(f"learnt from: {Path(args.reference).name}", ref_work)])
    if metrics["image"] is not None:
        panels.append(("original", target))
    panels += [("gray input", rgb_to_gray(target)), (f"{agent.name} agent", output)]
    return target, output, metrics, timings, panels


def input_files(args):
    """``[(path, what), ...]`` of the files this run reads, which it must never overwrite:
    IMAGE, the reference photo, a loaded model."""
    inputs = [(Path(args.image), "photo")]
    if args.reference:
        inputs.append((Path(args.reference), "photo"))
    if getattr(args, "load_model", None):
        inputs.append((Path(args.load_model), "model file"))
    return inputs


def output_paths(args, agent_name):
    """The three promised files, refusing any that would overwrite an input photo."""
    if not args.out.strip():
        raise UsageError("--out is empty; give a folder (the default is out/)")
    stem = Path(args.image).stem
    out = Path(args.out)
    paths = {
        "image": out / f"{stem}_{agent_name}.png",
        "compare": out / f"{stem}_{agent_name}_compare.png",
        "json": out / f"{stem}_{agent_name}.json",
    }
    check_output_files(paths.values(), input_files(args))
    return paths


def _score_line(name, scores):
    psnr = scores["psnr"]
    psnr_text = "inf" if not math.isfinite(psnr) else f"{psnr:6.2f}"
    return (f"{name:<18} {scores['rmse']:7.2f} {psnr_text:>7} {scores['ssim']:6.3f} "
            f"{scores['delta_e2000']:7.2f} {scores['colorfulness']:7.2f}")


def summary_table(agent_name, metrics):
    """The printed summary: the agent's scores next to the baselines (protocol mode)."""
    header = f"{'':<18} {'RMSE':>7} {'PSNR':>7} {'SSIM':>6} {'dE2000':>7} {'colour':>7}"
    if "right" in metrics:
        lines = ["scores on the right half (test data)", header,
                 _score_line(f"{agent_name} agent", metrics["right"])]
        for name, scores in metrics["baselines"].items():
            lines.append(_score_line(f"base: {name}", scores))
        lines.append(f"{'true colours':<18} {'':>7} {'':>7} {'':>6} {'':>7} "
                     f"{metrics['right']['colorfulness_true']:7.2f}")
    elif metrics["image"] is None:
        lines = ["no scores: the image is gray, so there are no true colours to compare with"]
    else:
        lines = ["scores on the whole image", header, _score_line(f"{agent_name} agent", metrics["image"])]
    return "\n".join(lines)


def _figure_title(agent_name, metrics, shape):
    """The comparison figure's title: what was scored, at which size (the scores are those of
    the JSON), or why there are none."""
    h, w = shape[:2]
    scores = metrics.get("right") or metrics.get("image")
    if scores is None:
        return f"{agent_name} agent, {w} x {h} (a gray photo: no true colours, no scores)"
    where = (f"right half of the {w} x {h} photo" if "right" in metrics
             else f"the whole {w} x {h} photo")
    psnr = scores["psnr"]
    psnr_text = "inf" if not math.isfinite(psnr) else f"{psnr:.2f} dB"
    return (f"{agent_name} agent, {where}: PSNR {psnr_text}, SSIM {scores['ssim']:.3f}, "
            f"CIEDE2000 {scores['delta_e2000']:.2f}")


def comparison_figure(*args, **kwargs):
    """:func:`colorize.plots.comparison_figure`, imported on first use: matplotlib takes a
    second or more to import, and a Ctrl-C during the imports at the top, before
    :func:`nn.cli.run_command` is in charge, ends in a traceback; --help and refused runs
    answer sooner too."""
    from colorize.plots import comparison_figure as draw

    return draw(*args, **kwargs)


def write_outputs(paths, output, panels, title, record, seam=None):
    """Write the three files: each goes to a temporary file first, and the renames happen only
    once all three are complete (:func:`colorize.io.atomic_paths`), so a failed write (a full
    disk), a failed rename (a result file made immutable) or an interrupt before the renames
    leaves all three as they were; an interrupt during the renames takes effect after them,
    with all three new. OutputError on any failure, naming a rename that failed."""
    try:
        with atomic_paths(paths) as tmp:
            write_png(tmp["image"], output)
            comparison_figure(tmp["compare"], panels, title=title, seam=seam)
            write_json(tmp["json"], record)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if exc.filename2 is not None:  # os.replace names its target second
            raise OutputError(f"cannot replace {exc.filename2} ({reason})") from None
        folder = paths["image"].parent
        raise OutputError(f"cannot write the results in '{folder}' ({reason})") from None


def run(args, agent_name, make_agent):
    """Run one agent as the command line asked; returns the exit status.

    The output folder is created early, so that an unusable ``--out`` is refused before any
    training; if the run then fails, the folders it created are removed again (when still empty).
    """
    with folders_removed_on_failure(args.out):
        return _run(args, agent_name, make_agent)


def _run(args, agent_name, make_agent):
    total_start = time.perf_counter()
    for flag, value, what in (("IMAGE", args.image, "a photo"),
                              ("--reference", args.reference, "a photo"),
                              ("--load-model", getattr(args, "load_model", None), "a model file"),
                              ("--save-model", getattr(args, "save_model", None), "a file name")):
        if value is not None and not value.strip():
            raise UsageError(f"{flag} is an empty path; give {what}")
    device = resolve_device(args.device)
    paths = output_paths(args, agent_name)
    rgb = _read_noting(args, args.image, "IMAGE")
    ensure_output_dir(args.out)
    agent = make_agent(args, device)

    whole = bool(args.reference) or (getattr(agent, "pretrained", False)
                                      and (getattr(args, "whole", False) or is_grayscale(rgb)))
    if whole and not args.reference and getattr(args, "propagate", None) is not None:
        notice(args, "note: --propagate spreads the known colours of the left half; an IMAGE "
                     "coloured whole by a loaded model has none, so it is ignored")
    if whole:
        processed, output, metrics, timings, panels = run_reference(agent, args, rgb)
    else:
        _require_colour(rgb, args.image, "image", pretrained=getattr(agent, "pretrained", False))
        processed, output, metrics, timings, panels = run_protocol(agent, args, rgb)

    timings["total_s"] = time.perf_counter() - total_start
    record = {
        "agent": agent.name,
        "image": str(args.image),
        "mode": "reference" if args.reference else "model" if whole else "protocol",
        "reference": args.reference,
        "size": {"input": list(rgb.shape[:2]), "output": list(output.shape[:2])},
        "device": describe_device(device),
        "seed": args.seed,
        "parameters": agent.summary(),
        "metrics": metrics,
        "timings": timings,
        "files": {k: str(v) for k, v in paths.items()},
    }
    saved, loaded = getattr(args, "save_model", None), getattr(args, "load_model", None)
    if loaded:
        record["loaded_model"] = str(loaded)
    if saved:
        record["files"]["model"] = str(saved)
    seam = output.shape[1] // 2 if "right" in metrics else None
    write_outputs(paths, output, panels, _figure_title(agent.name, metrics, output.shape), record,
                  seam=seam)
    flush_notices(args)
    print(summary_table(agent.name, metrics))
    if not args.quiet:
        model = f" and the model {saved}" if saved else ""
        print(f"wrote {paths['image']}, {paths['compare']}, {paths['json']}{model} "
              f"in {timings['total_s']:.1f} s on {record['device']}")
    return 0


def main(parser, agent_name, make_agent, argv=None):
    """Parse, run, and turn every user-facing failure into ``error: ...`` + exit status 2.

    ``make_agent(args, device)`` builds the agent from the parsed arguments; it and the agent
    raise ``UsageError`` (or the project's image, output, protocol and device errors) for
    anything the user has to fix.
    """
    def body():
        args = parser.parse_args(argv)
        args.notes = []
        return run(args, agent_name, make_agent)

    return run_command(body, (ImageError, OutputError, ProtocolError, DeviceError))
