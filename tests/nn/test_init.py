"""nn.init: the He and Xavier draws, their bounds and spreads, the dispatch and the seeding."""

import math

import numpy as np
import pytest

from nn.init import he_normal, initialize, make_rng, xavier_uniform


def test_xavier_uniform_fills_the_whole_symmetric_range_of_fan_in_plus_fan_out():
    # a = sqrt(6 / (40 + 160)): 60,000 draws come within 1 % of both ends and never past them
    w = xavier_uniform((200, 300), fan_in=40, fan_out=160, rng=0)
    a = math.sqrt(6.0 / 200)
    assert w.dtype == np.float32
    assert np.abs(w).max() <= a * (1 + 1e-6)
    assert w.max() > 0.99 * a and w.min() < -0.99 * a
    assert abs(float(w.mean())) < 0.01 * a


def test_he_normal_has_the_variance_two_over_fan_in():
    w = he_normal((300, 200), fan_in=50, rng=1)
    assert w.dtype == np.float32
    assert float(w.std()) == pytest.approx(math.sqrt(2.0 / 50), rel=0.02)
    assert abs(float(w.mean())) < 0.01


def test_initialize_dispatches_on_the_name_and_refuses_others():
    shape = (6, 5, 3, 3)
    np.testing.assert_array_equal(initialize("xavier", shape, 45, 54, rng=3),
                                  xavier_uniform(shape, 45, 54, rng=3))
    np.testing.assert_array_equal(initialize("he", shape, 45, 54, rng=3), he_normal(shape, 45, rng=3))
    with pytest.raises(ValueError, match="unknown initializer 'glorot'"):
        initialize("glorot", shape, 45, 54)


def test_a_seed_repeats_the_draw_and_none_draws_fresh_weights():
    assert np.array_equal(he_normal((50,), 4, rng=7), he_normal((50,), 4, rng=7))
    assert not np.array_equal(he_normal((50,), 4), he_normal((50,), 4))
    assert not np.array_equal(xavier_uniform((50,), 4, 4), xavier_uniform((50,), 4, 4))
    generator = np.random.default_rng(0)
    assert make_rng(generator) is generator  # a Generator is used as it is, its state advancing
