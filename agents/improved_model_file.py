"""The improved agent's model file: one ``.npz`` that holds the network's weights, its chroma
bins, its gray prior and its configuration (``--save-model`` writes it, ``--load-model``
reads it).

Its arrays are named by section: ``model/<parameter>`` (the network's state dict),
``bins/<name>`` (:meth:`colorize.chroma_bins.ChromaBins.state`), ``prior/table`` (the
per-gray chroma prior), and ``meta``, a JSON text with the format name :data:`MODEL_FORMAT`,
the configuration, the training image's pixel count and the propagation strength chosen on
its validation strip. :func:`read_model_file` turns every problem with a file into one
:class:`nn.cli.UsageError` sentence that names it; :meth:`agents.improved.ImprovedAgent.load`
builds the agent from what it returns.
"""

import json
import os

import numpy as np

from agents.improved_settings import DECODING_KEYS, DEFAULTS, check_config, is_strength
from colorize.io import MAX_NAME_BYTES, long_name_in
from nn import StateDictError
from nn.cli import UsageError
from nn.errors import first_line
from nn.layers.base import load_npz, save_npz

MODEL_FORMAT = "colorize-improved-agent/1"


def write_model_file(path, arrays, meta):
    """Write ``arrays`` (a dict of host arrays named by section) and the JSON of ``meta``
    (with ``format`` added) to ``path``, atomically; returns ``path``. UsageError, naming the
    file, when it cannot be written."""
    arrays = {**arrays, "meta": np.array(json.dumps({"format": MODEL_FORMAT, **meta}))}
    try:
        return save_npz(path, arrays)
    except OSError as exc:
        raise UsageError(f"cannot write the model file {path}: {exc.strerror or exc}") from None


def section(arrays, name):
    """The arrays of one section (``"model"``, ``"bins"``), without the ``name/`` prefix."""
    prefix = name + "/"
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


def read_model_file(path, decoding):
    """``(arrays, meta)`` of a model file, or UsageError saying what is wrong with it.

    ``decoding``: the settings that will replace the saved ones
    (:meth:`agents.improved.ImprovedAgent.load`), so a saved value that is out of range but
    replaced (a temperature above today's bound, say) does not make the file unusable."""
    if not os.path.exists(path):
        raise UsageError(f"model file {path} does not exist")
    if os.path.isdir(path):
        raise UsageError(f"model file {path} is a directory")
    if not os.path.isfile(path):
        # reading a pipe would wait for a writer, perhaps forever, and a model needs seeking
        raise UsageError(f"model file {path} is not a regular file (a pipe or a device); "
                         "give the .npz file itself")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        # say so before np.load does, which would blame the file's format
        raise UsageError(f"model file {path} cannot be read ({exc.strerror or exc})") from None

    def not_ours(detail):
        return UsageError(f"model file {path} is not a model saved with --save-model "
                          f"(cannot be read as .npz: {detail})")

    try:
        arrays = load_npz(path)
    except StateDictError as exc:
        raise not_ours(str(exc)) from None
    try:
        meta = json.loads(str(arrays.pop("meta")))
        if meta.get("format") != MODEL_FORMAT:
            raise ValueError(meta.get("format"))
        # settings added since the file was written take their defaults; what load compares
        # with the caller's settings is this completed configuration
        config = meta["config"] = {**DEFAULTS, **{k: v for k, v in meta["config"].items()
                                                  if k in DEFAULTS}}
        if int(meta["train_pixels"]) < 1:
            raise ValueError(meta["train_pixels"])
        strength = meta.get("propagate_strength")
        if strength is not None and not is_strength(strength):
            raise ValueError(strength)
    except (KeyError, ValueError, TypeError, AttributeError):
        raise UsageError(f"model file {path} is not an improved-agent model "
                         f"(no valid {MODEL_FORMAT} configuration inside)") from None
    try:
        check_config({**config, **decoding})
    except ValueError as exc:
        raise UsageError(f"model file {path} holds settings that cannot work "
                         f"({first_line(exc)}); retrain it, or, for one of "
                         f"{', '.join(DECODING_KEYS)}, give another value when loading") from None
    broken = sorted(k for k, v in arrays.items() if v.dtype.kind in "fc" and not np.isfinite(v).all())
    if broken:
        raise UsageError(f"model file {path} has values that are not finite numbers (NaN or "
                         f"infinity) in {', '.join(broken[:3])}"
                         f"{' and more' if len(broken) > 3 else ''}, so it cannot colour "
                         "anything; retrain it")
    return arrays, meta


def check_save_path(path, inputs, outputs):
    """UsageError now, before minutes of training, if the model could not be written to ``path``,
    would be lost (a result file this run writes afterwards has that name) or would replace
    what must stay: an input (``(path, what)`` pairs: the photos, a loaded model; the user's
    input files are never overwritten, so a model with new decoding settings is saved under a
    new name) or something that is not a regular file (a device, a pipe). Paths are compared
    after following symbolic links."""
    if path.endswith(os.sep) or (os.altsep and path.endswith(os.altsep)):
        raise UsageError(f"--save-model {path} names a folder (it ends with a separator); give "
                         "a file name such as model.npz")
    if len(os.fsencode(os.path.basename(path))) > MAX_NAME_BYTES:
        raise UsageError(f"--save-model {path}: the name is longer than {MAX_NAME_BYTES} bytes; "
                         "give a shorter one such as model.npz")
    if long_name_in(path) is not None:
        raise UsageError(f"--save-model {path}: a folder name in it is longer than "
                         f"{MAX_NAME_BYTES} bytes")
    if any(os.path.realpath(path) == os.path.realpath(os.path.dirname(os.path.abspath(result)))
           for result in outputs):
        # checked first: the output folder may already have been created by the time
        # of this check, and "is a directory" would puzzle whoever had no such folder
        raise UsageError(f"--save-model {path} is also the output folder (--out); give a file "
                         f"name such as {os.path.join(path, 'model.npz')}")
    if os.path.isdir(path):
        raise UsageError(f"--save-model {path} is a directory; give a file name such as model.npz")
    if os.path.exists(path) and not os.path.isfile(path):
        raise UsageError(f"--save-model {path} is not a regular file (a device or a pipe), and "
                         "saving would replace it; give a file name such as model.npz")
    for source, what in inputs:
        if os.path.exists(path) and os.path.exists(source) and os.path.samefile(path, source):
            raise UsageError(f"--save-model {path} would overwrite the input {what}; give another "
                             "name such as model.npz")
    for result in outputs:
        if os.path.realpath(path) == os.path.realpath(result):
            raise UsageError(f"--save-model {path} is also one of this run's result files, "
                             "which would replace the model; give another name such as model.npz")
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UsageError(f"--save-model {path}: {folder} is a file, not a folder")
    if not os.path.isdir(folder):
        raise UsageError(f"--save-model {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"--save-model {path}: the folder {folder} is not writable")
