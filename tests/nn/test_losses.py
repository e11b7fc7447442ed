"""Loss values and gradients against hand values, loop references and, when importable,
PyTorch."""

import numpy as np
import pytest

import nn
from nn.gradcheck import check_loss
from tests.nn.reference import cross_entropy_loops


def test_regression_losses_by_hand():
    pred = np.array([[1.0, 2.0], [3.0, -1.0]], np.float32)
    target = np.array([[0.0, 2.0], [1.0, 0.5]], np.float32)
    d = pred - target
    mse = nn.MSELoss()
    assert float(mse(pred, target)) == pytest.approx(np.mean(d ** 2))
    np.testing.assert_allclose(mse.backward(), 2 * d / 4)
    l1 = nn.L1Loss()
    assert float(l1(pred, target)) == pytest.approx(np.mean(np.abs(d)))
    np.testing.assert_allclose(l1.backward(), np.sign(d) / 4)
    sl1 = nn.SmoothL1Loss(beta=1.0)
    per = np.where(np.abs(d) < 1, 0.5 * d ** 2, np.abs(d) - 0.5)
    assert float(sl1(pred, target)) == pytest.approx(per.mean())
    assert mse.backward().dtype == np.float32 and mse(pred, target).dtype == np.float32


def test_cross_entropy_integer_targets_by_hand():
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]])
    target = np.array([0, 2])
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    loss = nn.SoftmaxCrossEntropyLoss()
    assert float(loss(logits, target)) == pytest.approx(-np.log(p[[0, 1], [0, 2]]).mean())
    onehot = np.eye(3)[target]
    np.testing.assert_allclose(loss.backward(), (p - onehot) / 2)


def test_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1e4, -1e4, 0.0]], np.float32)
    loss = nn.SoftmaxCrossEntropyLoss()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert float(loss(logits, np.array([1]))) == pytest.approx(2e4)


def test_cross_entropy_rejects_bad_targets():
    loss = nn.SoftmaxCrossEntropyLoss()
    with pytest.raises(ValueError, match="class indices"):
        loss(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="targets must be"):
        loss(np.zeros((2, 3, 4, 4)), np.zeros((2, 4), int))
    with pytest.raises(ValueError, match="must be integers"):
        loss(np.zeros((2, 3)), np.array([0.0, 1.7]))
    with pytest.raises(ValueError, match="class weights"):
        nn.SoftmaxCrossEntropyLoss(weights=[1.0, 2.0])(np.zeros((2, 3)), np.array([0, 1]))


def _cross_entropy_case(shape, weighted, soft):
    """Logits of ``shape`` (N, C, H, W), class weights or None, and integer or soft targets."""
    rng = np.random.default_rng(3)
    n, c, h, w = shape
    logits = rng.standard_normal(shape)
    weights = rng.uniform(0.2, 3.0, c) if weighted else None
    if soft:
        target = rng.random(shape)
        target /= target.sum(axis=1, keepdims=True)
    else:
        target = rng.integers(0, c, size=(n, h, w))
    return logits, weights, target


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("soft", [False, True])
def test_cross_entropy_matches_the_loop_reference(weighted, soft):
    logits, weights, target = _cross_entropy_case((2, 4, 3, 5), weighted, soft)
    loss = nn.SoftmaxCrossEntropyLoss(weights)
    assert float(loss(logits, target)) == pytest.approx(cross_entropy_loops(logits, target, weights),
                                                        rel=1e-12)
    assert check_loss(loss, logits, target) < 1e-7


def _dense(index, prob, classes):
    """(N, K, ...) sparse targets -> (N, C, ...) dense ones, repeated classes added up."""
    dense = np.zeros((index.shape[0], classes) + index.shape[2:])
    for slot in range(index.shape[1]):
        np.put_along_axis(dense, index[:, slot:slot + 1],
                          np.take_along_axis(dense, index[:, slot:slot + 1], axis=1)
                          + prob[:, slot:slot + 1], axis=1)
    return dense


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(3, 6, 4, 5), (7, 6)], ids=["images", "vectors"])
def test_sparse_soft_targets_are_the_dense_ones(shape, weighted):
    rng = np.random.default_rng(5)
    logits = rng.standard_normal(shape)
    c = shape[1]
    weights = rng.uniform(0.2, 3.0, c) if weighted else None
    # three slots per pixel: two distinct classes, then a repeat of any class (padding-like,
    # but here with weight, so that repeats must add up)
    first = np.argsort(rng.random((shape[0], c) + shape[2:]), axis=1)[:, :2]
    index = np.concatenate([first, rng.integers(0, c, size=first[:, :1].shape)], axis=1)
    prob = rng.random(index.shape)
    prob /= prob.sum(axis=1, keepdims=True)
    dense = nn.SoftmaxCrossEntropyLoss(weights)
    sparse = nn.SoftmaxCrossEntropyLoss(weights)
    expected = float(dense(logits, _dense(index, prob, c)))
    if len(shape) == 4:  # the loop reference takes (N, C, H, W)
        reference = cross_entropy_loops(logits, _dense(index, prob, c), weights)
        assert expected == pytest.approx(reference, rel=1e-12)
    assert float(sparse(logits, (index, prob))) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(sparse.backward(), dense.backward(), rtol=1e-12, atol=1e-15)
    assert check_loss(nn.SoftmaxCrossEntropyLoss(weights), logits, (index, prob)) < 1e-7


def test_sparse_soft_targets_take_logits_in_any_memory_layout():
    rng = np.random.default_rng(6)
    nhwc = rng.standard_normal((2, 3, 4, 5))
    logits = nhwc.transpose(0, 3, 1, 2)  # (N, C, H, W) view, not C-contiguous
    index, prob = rng.integers(0, 5, size=(2, 2, 3, 4)), rng.random((2, 2, 3, 4))
    loss, contiguous = nn.SoftmaxCrossEntropyLoss(), nn.SoftmaxCrossEntropyLoss()
    assert float(loss(logits, (index, prob))) == pytest.approx(
        float(contiguous(np.ascontiguousarray(logits), (index, prob))), rel=1e-12)
    np.testing.assert_allclose(loss.backward(), contiguous.backward(), rtol=1e-12, atol=1e-15)


def test_sparse_soft_targets_are_checked():
    loss = nn.SoftmaxCrossEntropyLoss()
    logits = np.zeros((2, 4, 3, 3))
    index, prob = np.zeros((2, 2, 3, 3), np.int64), np.full((2, 2, 3, 3), 0.5)
    assert float(loss(logits, (index, prob))) == pytest.approx(np.log(4))
    with pytest.raises(ValueError, match="a pair"):
        loss(logits, (index, prob, prob))
    with pytest.raises(ValueError, match="two arrays"):
        loss(logits, (index[:, :1], prob))
    with pytest.raises(ValueError, match="two arrays"):
        loss(logits, (index[..., :2], prob[..., :2]))
    with pytest.raises(ValueError, match="must be integers"):
        loss(logits, (prob, prob))
    with pytest.raises(ValueError, match=r"must lie in \[0, 4\)"):
        loss(logits, (index + 4, prob))


@pytest.mark.parametrize("beta", [0.5, 2.0])
def test_smooth_l1_by_hand_for_other_betas(beta):
    d = np.array([-3.0, -0.4, 0.0, 0.3, 1.0, 2.5])
    loss = nn.SmoothL1Loss(beta)
    per = np.where(np.abs(d) < beta, 0.5 * d ** 2 / beta, np.abs(d) - 0.5 * beta)
    assert float(loss(d, np.zeros_like(d))) == pytest.approx(per.mean())
    np.testing.assert_allclose(loss.backward(), np.clip(d / beta, -1, 1) / d.size)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("soft", [False, True])
def test_cross_entropy_matches_torch(weighted, soft):
    torch = pytest.importorskip("torch")
    logits, weights, target = _cross_entropy_case((3, 4, 5, 6), weighted, soft)
    t_ref = torch.from_numpy(target)
    ours = nn.SoftmaxCrossEntropyLoss(weights)
    value = float(ours(logits, target))
    grad = ours.backward()
    x = torch.from_numpy(logits).requires_grad_()
    w = None if weights is None else torch.from_numpy(weights)
    ref = torch.nn.functional.cross_entropy(x, t_ref, weight=w)
    ref.backward()
    assert value == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(grad, x.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("beta", [0.0, 0.5, 2.0])
def test_smooth_l1_matches_torch(beta):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    pred, target = rng.standard_normal((4, 5)) * 2, rng.standard_normal((4, 5))
    ours = nn.SmoothL1Loss(beta)
    value = float(ours(pred, target))
    x = torch.from_numpy(pred).requires_grad_()
    ref = torch.nn.functional.smooth_l1_loss(x, torch.from_numpy(target), beta=beta)
    ref.backward()
    assert value == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(ours.backward(), x.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("loss", [nn.MSELoss(), nn.L1Loss(), nn.SmoothL1Loss(),
                                  nn.SoftmaxCrossEntropyLoss()], ids=lambda v: type(v).__name__)
def test_loss_backward_before_forward_says_so(loss):
    with pytest.raises(RuntimeError, match=f"{type(loss).__name__}.backward was called before forward"):
        loss.backward()


def test_targets_may_be_lists():
    logits = np.zeros((4, 3), np.float32)
    assert np.isclose(float(nn.SoftmaxCrossEntropyLoss().forward(logits, [0, 1, 2, 0])), np.log(3))
    assert float(nn.MSELoss().forward(np.ones(3, np.float32), [1, 1, 3])) == pytest.approx(4 / 3)


@pytest.mark.parametrize("loss", [nn.MSELoss(), nn.L1Loss(), nn.SmoothL1Loss(),
                                  nn.SoftmaxCrossEntropyLoss()], ids=lambda v: type(v).__name__)
def test_an_empty_batch_is_refused_rather_than_averaged_to_nan(loss):
    empty = np.zeros((0, 3), np.float32)
    with pytest.raises(ValueError, match="the prediction is empty"):
        loss.forward(empty, empty)


def test_integer_logits_and_predictions_are_made_floating():
    # uint8 logits - max would wrap around, and the count cast to uint8 could overflow
    ce = nn.SoftmaxCrossEntropyLoss()
    ours = float(ce.forward(np.array([[0, 1, 2]], np.uint8), np.array([2])))
    assert ours == pytest.approx(np.log(np.exp([0.0, 1.0, 2.0]).sum()) - 2.0, rel=1e-6)
    assert ce.backward().dtype == np.float32
    pred = np.array([0, 255], np.uint8)  # pred - target would wrap around in uint8
    assert float(nn.MSELoss().forward(pred, [1, 1])) == pytest.approx((1 + 254 ** 2) / 2)
    assert float(nn.L1Loss().forward(pred, [1, 1])) == pytest.approx((1 + 254) / 2)
    assert float(nn.SmoothL1Loss().forward(pred, [1, 1])) == pytest.approx((0.5 + 253.5) / 2)


def test_negative_class_indices_are_refused_for_integer_and_sparse_targets():
    # a negative index would wrap around (integer targets) or land on another class's or
    # sample's score (sparse targets, whose flat positions are computed) without an error
    loss = nn.SoftmaxCrossEntropyLoss()
    with pytest.raises(ValueError, match=r"must lie in \[0, 3\)"):
        loss(np.zeros((2, 3)), np.array([0, -1]))
    index, prob = np.zeros((2, 2, 3, 3), np.int64), np.full((2, 2, 3, 3), 0.5)
    index[1, 0, 2, 2] = -1
    with pytest.raises(ValueError, match=r"must lie in \[0, 4\)"):
        loss(np.zeros((2, 4, 3, 3)), (index, prob))


@pytest.mark.parametrize("target", [np.array([0, 2]), np.eye(3)[[0, 2]],
                                    (np.array([[0], [2]]), np.ones((2, 1)))],
                         ids=["integer", "soft", "sparse"])
def test_cross_entropy_shifts_each_sample_by_its_own_maximum(target):
    # one sample's logits far above another's: a shift by the batch's maximum would
    # underflow the second sample's exponentials to 0 and its loss to infinity
    logits = np.array([[300.0, 0.0, -10.0], [0.5, 0.1, -0.2]], np.float32)
    ref = logits.astype(np.float64)
    logp = ref - ref.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    expected = -(logp[0, 0] + logp[1, 2]) / 2
    loss = nn.SoftmaxCrossEntropyLoss()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert float(loss(logits, target)) == pytest.approx(expected, rel=1e-5)
        grad = loss.backward()
    p = np.exp(logp)
    np.testing.assert_allclose(grad, (p - np.eye(3)[[0, 2]]) / 2, rtol=1e-5, atol=1e-7)
