"""The improved agent's model file as a file: its sections, its format name, its writing.
(Saving and loading whole agents is tested in test_improved.py.)"""

import json

import numpy as np
import pytest

from agents.improved_model_file import MODEL_FORMAT, read_model_file, section, write_model_file
from agents.improved_settings import DEFAULTS
from nn.cli import UsageError


def test_section_strips_its_prefix_and_leaves_the_other_sections_out():
    arrays = {"model/0.weight": 1, "model/1.bias": 2, "bins/centers": 3, "modelx/y": 4}
    assert section(arrays, "model") == {"0.weight": 1, "1.bias": 2}
    assert section(arrays, "bins") == {"centers": 3}
    assert section(arrays, "prior") == {}


def test_a_written_file_reads_back_with_its_format_and_completed_configuration(tmp_path):
    path = tmp_path / "m.npz"
    weights = np.arange(6, dtype=np.float32).reshape(2, 3)
    # a configuration from an older version: one setting, the others take their defaults
    write_model_file(path, {"model/w": weights}, {"config": {"width": 8}, "train_pixels": 100,
                                                   "propagate_strength": 1e3})
    with np.load(path) as data:
        assert json.loads(str(data["meta"]))["format"] == MODEL_FORMAT
    arrays, meta = read_model_file(str(path), {})
    assert np.array_equal(arrays["model/w"], weights) and "meta" not in arrays
    assert meta["config"] == {**DEFAULTS, "width": 8}
    assert meta["train_pixels"] == 100 and meta["propagate_strength"] == 1e3


def test_another_format_name_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, meta=np.array(json.dumps({"format": "something-else/1",
                                             "config": {}, "train_pixels": 1})))
    with pytest.raises(UsageError, match="not an improved-agent model"):
        read_model_file(str(path), {})


def test_writing_into_a_missing_folder_is_one_usage_error_naming_the_file(tmp_path):
    path = tmp_path / "missing" / "m.npz"
    with pytest.raises(UsageError, match=f"cannot write the model file {path}"):
        write_model_file(str(path), {}, {"config": {}, "train_pixels": 1})
    assert not path.parent.exists()
