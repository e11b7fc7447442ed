"""The improved agent's model file as a file: its sections, its format name, its writing.
(Saving and loading whole agents is tested in test_improved.py.)"""

import json
import os

import numpy as np
import pytest

from agents.improved_model_file import (MODEL_FORMAT, check_save_path, read_model_file, section,
                                         write_model_file)
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


def test_a_file_trained_on_no_pixel_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    write_model_file(path, {}, {"config": {}, "train_pixels": 1})
    assert read_model_file(str(path), {})[1]["train_pixels"] == 1
    write_model_file(path, {}, {"config": {}, "train_pixels": 0})
    with pytest.raises(UsageError, match="not an improved-agent model"):
        read_model_file(str(path), {})


def test_settings_that_no_longer_exist_are_left_out_of_the_configuration(tmp_path):
    path = tmp_path / "m.npz"
    write_model_file(path, {}, {"config": {"width": 8, "retired_setting": 3}, "train_pixels": 1})
    assert read_model_file(str(path), {})[1]["config"] == {**DEFAULTS, "width": 8}


def test_the_save_path_is_compared_with_inputs_and_results_as_files_not_as_text(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photo.png").write_bytes(b"")
    (tmp_path / "out").mkdir()
    inputs, outputs = [(str(tmp_path / "photo.png"), "photo")], [str(tmp_path / "photo_improved.json")]
    check_save_path("model.npz", inputs, outputs)
    with pytest.raises(UsageError, match="would overwrite the input photo"):
        check_save_path("out/../photo.png", inputs, outputs)
    with pytest.raises(UsageError, match="also one of this run's result files"):
        check_save_path("out/../photo_improved.json", inputs, outputs)


def test_a_folder_that_cannot_be_written_is_refused(tmp_path, monkeypatch):
    # a real read-only folder does not stop root, so the permission test is faked
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(UsageError, match=f"the folder {tmp_path} is not writable"):
        check_save_path(str(tmp_path / "m.npz"), [], [])
