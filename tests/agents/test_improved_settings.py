"""The improved agent's configuration check: the ends of every range, the values just beyond
them, and the plain Python values it gives back."""

import numpy as np
import pytest

from agents.improved_settings import (DEFAULTS, MAX_BANK_SIZE, MAX_SATURATION, MAX_STRENGTH,
                                      MAX_TEMPERATURE, MAX_WIDTH, MIN_TEMPERATURE, check_config,
                                      is_strength)


def test_the_defaults_pass_unchanged():
    assert check_config(DEFAULTS) == DEFAULTS


@pytest.mark.parametrize("key, value", [
    ("width", 1), ("width", MAX_WIDTH), ("epochs", 1), ("batch_size", 1), ("crop", 1),
    ("bank_size", 1), ("bank_size", MAX_BANK_SIZE), ("neighbors", 1), ("patience", 1),
    ("plateau", 0), ("lr", 1e-12), ("bin_step", 1e-12), ("ema_decay", 0.0),
    ("ema_decay", 0.999), ("rebalance", 0.0), ("rebalance", 1.0),
    ("temperature", MIN_TEMPERATURE), ("temperature", MAX_TEMPERATURE), ("saturation", 0.0),
    ("saturation", MAX_SATURATION), ("refine", 0.0), ("refine", MAX_STRENGTH),
    ("propagate", 0.0), ("propagate", MAX_STRENGTH), ("propagate", "auto"), ("rows", 1),
    ("prior", 0)])
def test_the_ends_of_every_range_are_allowed(key, value):
    assert check_config({**DEFAULTS, key: value})[key] == value


@pytest.mark.parametrize("key, value, fragment", [
    ("width", 0, "at least 1"), ("width", MAX_WIDTH + 1, f"at most {MAX_WIDTH}"),
    ("epochs", 0, "at least 1"), ("batch_size", 0, "at least 1"), ("crop", 0, "at least 1"),
    ("bank_size", 0, "at least 1"), ("bank_size", MAX_BANK_SIZE + 1, f"at most {MAX_BANK_SIZE}"),
    ("neighbors", 0, "at least 1"), ("patience", 0, "at least 1"), ("plateau", -1, "at least 0"),
    ("lr", 0.0, "positive"), ("bin_step", 0.0, "positive"), ("lr", float("inf"), "finite"),
    ("rebalance", float("nan"), "finite"), ("ema_decay", 1.0, "lie in"),
    ("rebalance", 1.001, "lie in"), ("rebalance", -0.001, "lie in"),
    ("temperature", MIN_TEMPERATURE * 0.999, "lie in"),
    ("temperature", MAX_TEMPERATURE * 1.001, "lie in"), ("saturation", -0.001, "lie in"),
    ("saturation", MAX_SATURATION * 1.001, "lie in"), ("refine", -0.001, "lie in"),
    ("refine", MAX_STRENGTH * 1.001, "lie in"), ("propagate", -0.001, "'auto' or a number"),
    ("propagate", MAX_STRENGTH * 1.001, "'auto' or a number"),
    ("propagate", True, "'auto' or a number"), ("propagate", "100", "'auto' or a number"),
    ("rows", 2, "true or false"), ("prior", 0.5, "true or false")])
def test_values_just_beyond_every_range_are_refused(key, value, fragment):
    with pytest.raises(ValueError, match=f"{key} must .*{fragment}"):
        check_config({**DEFAULTS, key: value})


def test_numpy_and_integer_values_come_back_as_plain_python_values():
    cfg = check_config({**DEFAULTS, "epochs": np.int64(3), "lr": np.float32(0.5), "refine": 2,
                        "rows": np.bool_(True), "prior": 0, "propagate": np.int32(100)})
    assert [type(cfg[key]) for key in ("epochs", "lr", "refine", "rows", "prior", "propagate")] == [
        int, float, float, bool, bool, float]
    assert cfg["propagate"] == 100.0 and cfg["prior"] is False


def test_a_strength_is_a_real_number_from_0_to_the_largest():
    assert is_strength(0) and is_strength(np.float32(5)) and is_strength(MAX_STRENGTH)
    for value in (-1e-9, MAX_STRENGTH * 1.001, float("nan"), True, "5", None):
        assert not is_strength(value), value
