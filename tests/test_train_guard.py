"""The two NaN/Inf guards of ``make_epochs`` and fit's replay between them.

``guard="detect"`` (what fit runs) must train exactly as ``guard="step"`` while everything is
finite, flag a chunk that met NaN/Inf, and fit must then report the same step and the same last
good state as the per-step guard does. ``step_metrics`` trims the per-step record without
changing the trajectory.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fnnet import data, losses, optim
from fnnet import layers as L
from fnnet.errors import ConfigError, NonFiniteError
from fnnet.train import fit, init_state, make_epochs

DIGITS = data.digits()
MLP = L.serial(L.Dense(16), L.Tanh(), L.Dense(10))
X, Y = DIGITS.x_train[:256], DIGITS.y_train[:256]


def _run(guard, opt, x=X, t=Y, *, epochs=3, batch_size=32, loss=losses.softmax_cross_entropy, **kw):
    run = make_epochs(MLP, loss, opt, n_train=x.shape[0], batch_size=batch_size, guard=guard, **kw)
    state = init_state(MLP, opt, jax.random.PRNGKey(0), (-1, 64))
    fn = jax.jit(run, static_argnames="n_epochs")
    return fn(state, jnp.array(False), x, t, None, None, n_epochs=epochs)


def _leaves_equal(a, b):
    for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


@pytest.mark.parametrize("opt", [optim.momentum(0.1, 0.9), optim.rprop("irprop+")], ids=["momentum", "irprop+"])
@pytest.mark.parametrize("grad", ["manual", "autodiff"])
def test_detect_trains_exactly_as_the_per_step_guard(opt, grad):
    s_step, d_step, m_step = _run("step", opt, grad=grad)
    s_det, d_det, m_det = _run("detect", opt, grad=grad)
    _leaves_equal(s_step, s_det)
    assert not bool(d_step) and not bool(d_det)
    for k in ("loss", "accuracy", "grad_norm", "train_loss", "active"):
        np.testing.assert_array_equal(m_step[k], m_det[k])
    assert m_step["finite"].shape == (3, 256 // 32) and m_det["finite"].shape == (3,)
    assert bool(np.all(m_step["finite"])) and bool(np.all(m_det["finite"]))


def test_detect_flags_a_chunk_with_nan_and_step_guard_keeps_the_last_good_state():
    x = np.array(X)
    x[100] = np.nan  # one bad pattern: the step whose batch holds it is non-finite
    x = jnp.asarray(x)
    opt = optim.sgd(0.1)
    _, done, m = _run("detect", opt, x=x, shuffle=False)
    assert bool(done) and not bool(np.any(m["finite"]))
    state, done, m = _run("step", opt, x=x, shuffle=False)
    finite = np.asarray(m["finite"])
    assert bool(done) and finite[0].tolist() == [True, True, True, False, True, True, True, True][:8]
    assert int(state.step) == 3  # three good updates (batches 0-2), then the guard held the state
    assert all(np.isfinite(np.asarray(p)).all() for p in jax.tree_util.tree_leaves(state.params))


@pytest.mark.parametrize("step_metrics", [("loss", "accuracy", "grad_norm"), ("loss",)])
def test_fit_replays_a_non_finite_chunk_and_reports_the_step(step_metrics):
    x = np.array(X)
    x[100] = np.nan
    opt = optim.sgd(0.1)
    kw = {"key": 0, "epochs": 4, "batch_size": 32, "shuffle": False, "epochs_per_call": 2}
    with pytest.raises(NonFiniteError, match=r"epoch 1, step 4 of 8 \(update 4\)") as info:
        fit(MLP, losses.softmax_cross_entropy, opt, (x, Y), step_metrics=step_metrics, **kw)
    good = fit(MLP, losses.softmax_cross_entropy, opt, (X[:96], Y[:96]), key=0, epochs=1, batch_size=32, shuffle=False)
    _leaves_equal(info.value.state.params, good.state.params)  # the three updates before the NaN
    assert info.value.history == []


def test_non_finite_in_a_later_chunk_keeps_the_history_before_it():
    opt = optim.sgd(1e8)  # diverges within a few epochs
    t = jax.nn.one_hot(DIGITS.y_train, 10)
    with pytest.raises(NonFiniteError) as info:
        fit(MLP, losses.sse, opt, (DIGITS.x_train, t), key=0, epochs=50, batch_size=64, epochs_per_call=1)
    err = info.value
    assert all(np.isfinite(np.asarray(p)).all() for p in jax.tree_util.tree_leaves(err.state.params))
    assert all(np.isfinite(h["loss"]) for h in err.history)


def test_step_metrics_trim_the_record_not_the_trajectory():
    opt = optim.momentum(0.1, 0.9)
    kw = {"key": 0, "epochs": 3, "batch_size": 32}
    full = fit(MLP, losses.softmax_cross_entropy, opt, (X, Y), **kw)
    lean = fit(MLP, losses.softmax_cross_entropy, opt, (X, Y), step_metrics=("loss",), **kw)
    _leaves_equal(full.state, lean.state)
    assert {"loss", "accuracy", "grad_norm"} <= set(full.history[0])
    assert "accuracy" not in lean.history[0] and "grad_norm" not in lean.history[0]
    assert [h["loss"] for h in full.history] == [h["loss"] for h in lean.history]
    reg = fit(MLP, losses.mse, opt, (X, jax.nn.one_hot(Y, 10)), **kw)
    assert "accuracy" not in reg.history[0]  # a regression loss has no accuracy to record


@pytest.mark.parametrize("unroll", [2, 3])
def test_unrolled_loop_trains_as_the_plain_one(unroll):
    """unroll=3 does not divide the 8 steps: the remainder runs too. float32 params: an unrolled
    body may fuse (round) differently, ~1 ulp per step, so 24 steps agree to ~1e-6 relative."""
    opt = optim.sgd(0.1)
    plain = _run("detect", opt)
    unrolled = _run("detect", opt, unroll=unroll)
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=1e-6),
        plain[0],
        unrolled[0],
    )


def test_bad_guard_metrics_and_unroll_are_refused():
    opt = optim.sgd(0.1)
    with pytest.raises(ConfigError, match="guard='always'"):
        make_epochs(MLP, losses.sse, opt, n_train=8, batch_size=4, guard="always")
    with pytest.raises(ConfigError, match="step_metrics=.*'loss'"):
        make_epochs(MLP, losses.sse, opt, n_train=8, batch_size=4, step_metrics=("accuracy",))
    with pytest.raises(ConfigError, match="step_metrics"):
        fit(MLP, losses.sse, opt, (X, jax.nn.one_hot(Y, 10)), step_metrics=("loss", "acc"))
    with pytest.raises(ConfigError, match="unroll=0"):
        make_epochs(MLP, losses.sse, opt, n_train=8, batch_size=4, unroll=0)


def test_no_key_is_used_without_shuffling():
    """shuffle=False draws no permutation: the state's key is the one it started with."""
    opt = optim.sgd(0.1)
    state = init_state(MLP, opt, jax.random.PRNGKey(3), (-1, 64))
    res = fit(MLP, losses.softmax_cross_entropy, opt, (X, Y), state=state, epochs=2, batch_size=64, shuffle=False)
    np.testing.assert_array_equal(np.asarray(res.state.rng), np.asarray(state.rng))
    shuffled = fit(MLP, losses.softmax_cross_entropy, opt, (X, Y), state=state, epochs=2, batch_size=64)
    assert not np.array_equal(np.asarray(shuffled.state.rng), np.asarray(state.rng))


def test_population_with_a_diverging_member_holds_it_at_its_last_good_state():
    """One member's learning rate blows up: the population is replayed with the per-step guard;
    that member is flagged and frozen before its first NaN, the others train as on their own."""
    from fnnet.train import train_population

    t = jax.nn.one_hot(Y, 10)
    lrs = jnp.array([0.5, 1e20, 1.0])
    keys = jnp.stack([jax.random.PRNGKey(1)] * 3)
    kw = {"epochs": 3, "batch_size": 32}
    pop = train_population(MLP, losses.mse, lambda learning_rate: optim.sgd(learning_rate), (X, t), keys=keys,
                           hparams={"learning_rate": lrs}, **kw)
    assert pop.history["diverged"].tolist() == [False, True, False]
    bad = jax.tree_util.tree_map(lambda a: a[1], pop.states.params)
    assert all(np.isfinite(np.asarray(p)).all() for p in jax.tree_util.tree_leaves(bad))
    for i in (0, 2):
        single = fit(MLP, losses.mse, optim.sgd(float(lrs[i])), (X, t), key=keys[i], **kw)
        jax.tree_util.tree_map(
            lambda a, b, i=i: np.testing.assert_allclose(np.asarray(a[i]), np.asarray(b), rtol=1e-5, atol=1e-6),
            pop.states.params, single.state.params,
        )


@pytest.mark.parametrize("shuffle", [True, False])
def test_gathering_per_step_or_per_epoch_gives_the_same_training(shuffle):
    """Same batches; float32 params, and the two programs may fuse (round) differently: ~1 ulp
    per step, so 24 momentum steps agree to ~1e-6 relative."""
    opt = optim.momentum(0.1, 0.9)
    runs = [_run("detect", opt, shuffle=shuffle, gather=g) for g in ("epoch", "step", "auto")]
    for other in runs[1:]:
        jax.tree_util.tree_map(
            lambda a, b: np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=1e-6),
            runs[0][0].params, other[0].params,
        )
        np.testing.assert_allclose(runs[0][2]["loss"], other[2]["loss"], rtol=1e-5)
    with pytest.raises(ConfigError, match="gather='rows'"):
        make_epochs(MLP, losses.sse, opt, n_train=8, batch_size=4, gather="rows")
