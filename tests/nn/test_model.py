"""Containers: names, state dicts, strict loading, save/load, summary, modes."""

import os
import stat

import numpy as np
import pytest

import nn


def _net(seed=0):
    rng = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Conv2D(1, 4, 3, padding=1, rng=rng), nn.BatchNorm2D(4), nn.ReLU(),
        nn.SkipConcat(nn.Sequential(nn.MaxPool2D(2), nn.Conv2D(4, 4, 3, padding=1, rng=rng),
                                    nn.Dropout(0.2, seed=1), nn.Upsample2D(2))),
        nn.Residual(nn.Conv2D(8, 8, 3, padding=1, rng=rng)),
        nn.Conv2D(8, 2, 1, rng=rng), nn.Tanh(),
    )


def test_parameter_names_are_dotted_paths():
    names = [name for name, _, _ in _net().parameters()]
    assert names == ["0.W", "0.b", "1.gamma", "1.beta", "3.body.1.W", "3.body.1.b",
                     "4.body.W", "4.body.b", "5.W", "5.b"]
    state = _net().state_dict()
    assert "1.running_mean" in state and "1.running_var" in state
    assert len(state) == len(names) + 2


def test_parameters_see_the_latest_gradients():
    net = _net()
    assert all(g is None for _, _, g in net.parameters())
    x = np.random.default_rng(1).standard_normal((2, 1, 8, 8)).astype(np.float32)
    net.backward(np.ones_like(net.forward(x)[:, :2]))
    grads = {name: g for name, _, g in net.parameters()}
    assert all(g is not None for g in grads.values())
    assert grads["4.body.W"] is net.layers[4].body.grads["W"]


def test_state_dict_is_a_copy():
    net = _net()
    state = net.state_dict()
    net.layers[0].params["W"] += 1
    assert not np.array_equal(state["0.W"], net.layers[0].params["W"])


def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    x = np.random.default_rng(2).standard_normal((2, 1, 8, 8)).astype(np.float32)
    a = _net(0)
    a.forward(x)  # moves the running statistics away from their initial values
    a.eval()
    path = a.save(tmp_path / "model.npz")
    b = _net(1).load(path).eval()
    np.testing.assert_array_equal(a.forward(x), b.forward(x))
    for (name, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(pa, pb, err_msg=name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_saved_model_gets_the_mode_of_an_ordinary_new_file(tmp_path):
    import os
    import stat

    old = os.umask(0o027)
    try:
        path = _net().save(tmp_path / "model.npz")
        ordinary = tmp_path / "ordinary"
        ordinary.write_bytes(b"")
    finally:
        os.umask(old)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == stat.S_IMODE(os.stat(ordinary).st_mode) == 0o640


def test_load_state_dict_is_strict():
    net = _net()
    state = net.state_dict()
    missing = dict(state)
    del missing["0.W"]
    with pytest.raises(nn.StateDictError, match="missing"):
        net.load_state_dict(missing)
    with pytest.raises(nn.StateDictError, match="unexpected"):
        net.load_state_dict({**state, "9.W": np.zeros(1, np.float32)})
    with pytest.raises(nn.StateDictError, match="shape"):
        net.load_state_dict({**state, "0.W": np.zeros((4, 1, 5, 5), np.float32)})
    with pytest.raises(nn.StateDictError, match="dtype"):
        net.load_state_dict({**state, "0.W": state["0.W"].astype(np.float64)})
    # a file of another architecture can differ in hundreds of keys: a few are named
    others = {f"{i}.W": np.zeros(1, np.float32) for i in range(10, 40)}
    with pytest.raises(nn.StateDictError, match=r"unexpected \['10.W', '11.W', '12.W', "
                                                r"'13.W'\] and 26 more$"):
        net.load_state_dict({**state, **others})


def test_load_keeps_parameter_identity_so_optimizers_keep_working():
    net = _net()
    w = net.layers[0].params["W"]
    net.load_state_dict(_net(5).state_dict())
    assert net.layers[0].params["W"] is w
    np.testing.assert_array_equal(w, _net(5).layers[0].params["W"])


def test_unreadable_model_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(nn.StateDictError, match="cannot read model file"):
        _net().load(bad)
    with pytest.raises(nn.StateDictError, match="cannot read model file"):
        _net().load(tmp_path / "missing.npz")
    with pytest.raises(nn.StateDictError, match="not an .npz archive") as info:
        _net().load(bad)
    assert "pickle" not in str(info.value)  # NumPy's advice is not for a model file
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(nn.StateDictError, match="a single .npy array"):
        _net().load(tmp_path / "one.npy")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(nn.StateDictError, match="cannot read model file"):
        _net().load(corrupt)
    state = _net().state_dict()
    first = next(iter(state))
    state[first] = state[first].tolist()
    with pytest.raises(nn.StateDictError, match=f"{first!r} is list, not an array"):
        _net().load_state_dict(state)


def test_train_eval_reach_nested_layers():
    net = _net().eval()
    assert not net.layers[3].body.layers[2].training
    net.train()
    assert net.layers[3].body.layers[2].training


def test_summary_lists_layers_shapes_and_parameters():
    net = _net()
    text = net.summary((1, 8, 8))
    assert "3: SkipConcat" in text and "(N, 8, 8, 8)" in text and "(N, 2, 8, 8)" in text
    # by hand: conv 1->4 (36 + 4), batch-norm gamma and beta (4 + 4; its running statistics
    # are buffers, not parameters), conv 4->4 (144 + 4), conv 8->8 (576 + 8), conv 8->2 1x1 (16 + 2)
    assert net.num_parameters() == 798
    assert "798" in text.splitlines()[-1]
    assert net.training  # restored
    assert "output shape" in net.summary()


def test_to_cpu_keeps_arrays_and_device_is_cpu():
    net = _net().to("cpu")
    assert net.device == "cpu"
    assert all(isinstance(p, np.ndarray) for _, p, _ in net.parameters())


def test_sequential_rejects_non_layers():
    with pytest.raises(TypeError):
        nn.Sequential(nn.ReLU(), "relu")


def test_summary_takes_a_bare_feature_count():
    model = nn.Sequential(nn.Dense(4, 3), nn.ReLU())
    assert model.summary(4) == model.summary((4,))
    assert "(N, 3)" in model.summary(4)


def test_a_layer_object_used_twice_is_refused_with_advice():
    relu, dense = nn.ReLU(), nn.Dense(4, 4)
    builds = [
        lambda: nn.Sequential(nn.Dense(4, 4), relu, nn.Dense(4, 4), relu),
        lambda: nn.Sequential(dense, nn.ReLU(), dense),
        lambda: nn.Sequential(nn.Sequential(dense, nn.ReLU()), nn.Residual(nn.Sequential(dense))),
        lambda: nn.Residual(dense, dense),
    ]
    for build in builds:
        with pytest.raises(ValueError, match=r"same (ReLU|Dense) object twice.*own instance"):
            build()
    nn.Sequential(nn.Dense(4, 4), nn.ReLU(), nn.Dense(4, 4), nn.ReLU())  # separate objects


def test_save_does_not_replace_a_pipe_or_a_folder(tmp_path):
    model = nn.Sequential(nn.Dense(2, 2))
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "folder").mkdir()
    for target in (tmp_path / "pipe", tmp_path / "folder"):
        with pytest.raises(FileExistsError, match="Not a regular file"):
            model.save(target)
    assert stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "pipe"]  # no temporary left


def test_save_into_a_missing_folder_names_that_folder(tmp_path):
    model = nn.Sequential(nn.Dense(2, 2))
    with pytest.raises(FileNotFoundError, match="No such folder") as info:
        model.save(tmp_path / "nodir" / "m.npz")
    assert info.value.filename == str(tmp_path / "nodir")  # not the hidden temporary file


def test_sequential_backward_refuses_a_dout_of_another_shape():
    model = nn.Sequential(nn.Dense(4, 3), nn.ReLU())
    x = np.ones((2, 4), np.float32)
    loss = nn.MSELoss()
    value = loss.forward(model.forward(x), np.zeros((2, 3), np.float32))
    for wrong in (value, np.ones((3,), np.float32), np.ones((1, 2, 3), np.float32)):
        with pytest.raises(ValueError, match=r"needs dout of shape \(2, 3\)"):
            model.backward(wrong)
    assert model.backward(loss.backward()).shape == x.shape


def test_an_interrupt_right_after_the_save_is_an_interrupt(tmp_path, monkeypatch):
    # the temporary file is gone once renamed; cleaning it up must not turn Ctrl-C into an
    # error about a missing file
    from nn.layers import base

    real_replace = os.replace

    def replaced_then_interrupted(src, dst):
        real_replace(src, dst)
        raise KeyboardInterrupt

    monkeypatch.setattr(base.os, "replace", replaced_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        base.save_npz(tmp_path / "m.npz", {"w": np.zeros(3)})
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_summary_between_forward_and_backward_changes_no_gradient():
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Conv2D(3, 4, 3, padding=1, rng=0), nn.BatchNorm2D(4), nn.ReLU())
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    dout = rng.standard_normal((2, 4, 8, 8)).astype(np.float32)
    model.forward(x)
    clean = model.backward(dout), model[0].grads["W"].copy()
    model.forward(x)
    model.summary((3, 16, 20))  # another shape, in eval mode
    assert model.training and model[1].training
    np.testing.assert_array_equal(model.backward(dout), clean[0])
    np.testing.assert_array_equal(model[0].grads["W"], clean[1])


def test_a_failed_forward_leaves_nothing_for_backward():
    # a backward after it would mix what the layers saved in two different calls
    model = nn.Sequential(nn.Dense(3, 2, rng=0), nn.Dense(2, 1, rng=0))
    model.forward(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError):
        model.forward(np.zeros((1, 4), np.float32))
    with pytest.raises(RuntimeError, match="before"):
        model.backward(np.zeros((1, 1), np.float32))


def test_skip_concat_takes_a_layer_only():
    with pytest.raises(TypeError):
        nn.SkipConcat("abc")


def test_summary_does_not_copy_what_forward_saved_for_backward(monkeypatch):
    import copy

    model = nn.Sequential(nn.Conv2D(1, 4, 3, padding=1, rng=0), nn.ReLU())
    model.forward(np.zeros((8, 1, 64, 64), np.float32))
    copied = []
    real_deepcopy = copy.deepcopy

    def watching(obj, memo=None):
        result = real_deepcopy(obj, memo)
        # as copied, before the probe's own forward fills them again
        copied.append((result[0]._x, result[1]._mask, result[0].params["W"]))
        return result

    monkeypatch.setattr(copy, "deepcopy", watching)
    model.summary((1, 8, 8))
    saved_x, saved_mask, weights = copied[0]
    assert saved_x is None and saved_mask is None  # the saved arrays stay behind
    assert model[0]._x.shape == (8, 1, 64, 64)
    np.testing.assert_array_equal(weights, model[0].params["W"])


def test_skip_concat_along_another_axis_splits_the_gradient_there():
    from nn.gradcheck import TOLERANCE, check_layer

    x = np.random.default_rng(2).standard_normal((2, 3, 4, 5))
    skip = nn.SkipConcat(nn.Tanh(), axis=3)
    assert skip.forward(x).shape == (2, 3, 4, 10)
    assert skip.backward(np.ones((2, 3, 4, 10))).shape == x.shape
    errors = check_layer(nn.SkipConcat(nn.Tanh(), axis=3), x)
    assert max(errors.values()) < TOLERANCE, errors


def test_summary_runs_the_probe_in_eval_mode():
    # one zero sample at 1x1: batch-norm in training mode would refuse a single value per channel
    model = nn.Sequential(nn.Conv2D(2, 3, 1), nn.BatchNorm2D(3), nn.Dropout(0.5, seed=0))
    text = model.summary((2, 1, 1))
    assert "1: BatchNorm2D" in text and "(N, 3, 1, 1)" in text
    assert all(layer.training for layer in model.layers)
