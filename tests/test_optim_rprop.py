"""Rprop: every variant against the paper transcription, the optax relation, Hinton's example."""

from __future__ import annotations

import fractions
import functools

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jax import lax
from reference.rprop_reference import reference

from fnnet.errors import ConfigError
from fnnet.optim import RPROP_VARIANTS, RpropState, rprop

T, N = 14, 5
DEFAULTS = {"eta_plus": 1.2, "eta_minus": 0.5, "step_init": 0.1, "step_min": 1e-6, "step_max": 50.0}


@functools.partial(jax.jit, static_argnames="variant")
def run_fnnet(variant, hyper, grads, errors):
    """(T, n) slopes -> (updates, step sizes), both (T, n); hyper-parameters traced."""
    tx = rprop(variant, **hyper)

    def body(state, xs):
        g, E = xs
        u, state = tx.update(g, state, value=E)
        return state, (u, state.Delta)

    _, out = lax.scan(body, tx.init(jnp.zeros_like(grads[0])), (grads, errors))
    return out


@jax.jit
def run_optax(hyper, grads):
    tx = optax.rprop(
        learning_rate=hyper["step_init"],
        eta_minus=hyper["eta_minus"],
        eta_plus=hyper["eta_plus"],
        min_step_size=hyper["step_min"],
        max_step_size=hyper["step_max"],
    )

    def body(state, g):
        u, state = tx.update(g, state)
        return state, (u, state[0].step_sizes, state[0].prev_updates)

    _, out = lax.scan(body, tx.init(jnp.zeros_like(grads[0])), grads)
    return out


slopes = hnp.arrays(
    np.float64,
    (T, N),
    elements=st.one_of(st.just(0.0), st.floats(1e-3, 1e3), st.floats(-1e3, -1e-3)),
)
errors_seq = hnp.arrays(np.float64, (T,), elements=st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0]))


@st.composite
def hyper_params(draw):
    step_min = draw(st.floats(1e-6, 1e-2))
    step_max = draw(st.floats(0.2, 50.0))
    return {
        "eta_plus": draw(st.floats(1.01, 2.0)),
        "eta_minus": draw(st.floats(0.05, 0.99)),
        "step_init": draw(st.floats(step_min, step_max)),
        "step_min": step_min,
        "step_max": step_max,
    }


def as_jnp(hyper):
    return {k: jnp.asarray(v, jnp.float64) for k, v in hyper.items()}


# Hand-made: slope signs + + + - + + from Δ0 = 0.1 (defaults). At t=3 the sign flips.
HAND_SIGNS = np.array([1.0, 1.0, 1.0, -1.0, 1.0, 1.0])
HAND_EXPECTED = {
    # rprop+: backtrack the last change (+0.144), then restart with Δ = 0.072.
    "rprop+": [-0.1, -0.12, -0.144, 0.144, -0.072, -0.0864],
    # rprop-: step with the shrunk Δ at the flip; t=4 is another flip (stored slope was -1).
    "rprop-": [-0.1, -0.12, -0.144, 0.072, -0.036, -0.0432],
    # irprop-: hold still at the flip, then continue with Δ = 0.072.
    "irprop-": [-0.1, -0.12, -0.144, 0.0, -0.072, -0.0864],
}


@pytest.mark.parametrize("variant", ["rprop+", "rprop-", "irprop-"])
def test_hand_made_sequence(variant):
    grads = jnp.asarray(HAND_SIGNS)[:, None]
    updates, _ = run_fnnet(variant, as_jnp(DEFAULTS), grads, jnp.zeros(6))
    np.testing.assert_allclose(updates[:, 0], HAND_EXPECTED[variant], rtol=1e-12, atol=1e-15)
    ref, _ = reference(variant, np.asarray(grads), **DEFAULTS)
    np.testing.assert_allclose(ref[:, 0], HAND_EXPECTED[variant], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "errors, expected",
    [
        ([5.0, 4.0, 3.0, 3.5, 3.0, 2.0], HAND_EXPECTED["rprop+"]),  # E rose at the flip: backtrack
        ([5.0, 4.0, 3.0, 2.5, 2.0, 1.0], HAND_EXPECTED["irprop-"]),  # E fell: hold still
        ([5.0, 4.0, 3.0, 3.0, 2.0, 1.0], HAND_EXPECTED["irprop-"]),  # equal is not "rose"
    ],
)
def test_hand_made_irprop_plus(errors, expected):
    grads = jnp.asarray(HAND_SIGNS)[:, None]
    updates, _ = run_fnnet("irprop+", as_jnp(DEFAULTS), grads, jnp.asarray(errors))
    np.testing.assert_allclose(updates[:, 0], expected, rtol=1e-12, atol=1e-15)
    ref, _ = reference("irprop+", np.asarray(grads), np.asarray(errors), **DEFAULTS)
    np.testing.assert_allclose(ref[:, 0], expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("variant", RPROP_VARIANTS)
@given(grads=slopes, errors=errors_seq, hyper=hyper_params())
def test_matches_paper_transcription(variant, grads, errors, hyper):
    updates, steps = run_fnnet(variant, as_jnp(hyper), jnp.asarray(grads), jnp.asarray(errors))
    ref_updates, ref_steps = reference(variant, grads, errors, **hyper)
    # Same IEEE operations in the same order: float64 results are bit-identical.
    np.testing.assert_array_equal(np.asarray(steps), ref_steps)
    np.testing.assert_array_equal(np.asarray(updates), ref_updates)


def test_optax_rprop_is_one_step_late_on_anchor_example():
    # anchors.md 2.5: optax.scale_by_rprop gives [0, 0.1, 0.12, 0, 0, 0.072] on these signs.
    grads = jnp.asarray(HAND_SIGNS)[:, None]
    optax_updates, _, _ = run_optax(as_jnp(DEFAULTS), grads)
    np.testing.assert_allclose(
        -optax_updates[:, 0], [0.0, 0.1, 0.12, 0.0, 0.0, 0.072], rtol=1e-12, atol=1e-15
    )


@given(grads=slopes, hyper=hyper_params())
def test_optax_rprop_relation(grads, hyper):
    """optax.rprop(t+1) == fnnet irprop-(t), except 0 where irprop- sees a sign change at t+1.

    optax 0.2.8's scale_by_rprop computes iRprop-'s update but returns the one stored at the
    previous call (google-deepmind/optax pull 1725). With learning_rate = Δ0 and matching factors
    and bounds, its step sizes equal fnnet's exactly and its stored `prev_updates` is minus
    fnnet's update; its first update is zero.
    """
    grads = jnp.asarray(grads)
    fn_updates, fn_steps = run_fnnet("irprop-", as_jnp(hyper), grads, jnp.zeros(T))
    ox_updates, ox_steps, ox_prev = map(np.asarray, run_optax(as_jnp(hyper), grads))
    fn_updates, fn_steps = np.asarray(fn_updates), np.asarray(fn_steps)
    # irprop- leaves a weight still at step t only at a sign change or a zero slope (Δ >= Δmin > 0)
    flip = (fn_updates == 0) & (np.asarray(grads) != 0)
    assert np.all(ox_updates[0] == 0)
    expected = np.where(flip[1:], 0.0, fn_updates[:-1])
    np.testing.assert_array_equal(ox_updates[1:], expected)
    np.testing.assert_array_equal(ox_steps, fn_steps)
    np.testing.assert_array_equal(-ox_prev, fn_updates)


def hinton_minibatch_slopes(epochs):
    # Hinton (Coursera NN lecture 6e, quoted in the seed notes): a weight gets +0.1 on nine
    # mini-batches and -0.9 on the tenth; "rprop would increment the weight nine times and
    # decrement it once". His numbers are the weight-change directions, so as slopes dE/dw they
    # are -0.1 (nine times) and +0.9.
    return np.tile(np.array([-0.1] * 9 + [0.9]), epochs)


@pytest.mark.parametrize("variant", RPROP_VARIANTS)
def test_hinton_minibatch_example(variant):
    epochs, w0 = 10, 0.0
    mini = jnp.asarray(hinton_minibatch_slopes(epochs))[:, None]
    updates, _ = run_fnnet(variant, as_jnp(DEFAULTS), mini, jnp.zeros(len(mini)))
    w_per_epoch = w0 + np.cumsum(np.asarray(updates[:, 0]))[9::10]
    # Mini-batch Rprop: the weight grows a lot, epoch after epoch.
    assert np.all(np.diff(w_per_epoch) > 0)
    assert w_per_epoch[-1] - w0 > 20.0
    # Full batch: the epoch's slope is the exact sum of the ten, zero, so Rprop never moves it.
    exact_sum = sum(fractions.Fraction(str(g)) for g in hinton_minibatch_slopes(1))
    assert exact_sum == 0
    full = jnp.full((epochs, 1), float(exact_sum))
    full_updates, _ = run_fnnet(variant, as_jnp(DEFAULTS), full, jnp.zeros(epochs))
    assert np.all(np.asarray(full_updates) == 0.0)
    # Plain SGD on the same mini-batches comes back to where it started after every epoch.
    w_sgd = w0 - 0.1 * np.cumsum(hinton_minibatch_slopes(epochs))
    np.testing.assert_allclose(w_sgd[9::10], w0, atol=1e-12)


def test_float_sum_of_hinton_slopes_is_not_zero():
    # A caveat worth knowing: accumulated pattern by pattern in float64 (left to right, as a
    # training loop sums slopes) the ten slopes leave a 1.1e-16 residue (NumPy's pairwise np.sum
    # happens to give exactly 0), and a sign-only rule takes a full Δ0 step on that residue.
    residue = sum(hinton_minibatch_slopes(1).tolist())
    assert residue != 0 and abs(residue) < 1e-15
    updates, _ = run_fnnet("irprop-", as_jnp(DEFAULTS), jnp.full((1, 1), residue), jnp.zeros(1))
    assert abs(float(updates[0, 0])) == pytest.approx(0.1)


def test_tiny_float32_slopes_still_flip():
    # 1e-30 * -1e-30 underflows to -0 in float32; the sign test must still see the flip.
    tx = rprop("irprop-")
    state = tx.init(jnp.zeros(1, jnp.float32))
    u, state = tx.update(jnp.full(1, 1e-30, jnp.float32), state)
    assert float(u[0]) == pytest.approx(-0.1)
    u, state = tx.update(jnp.full(1, -1e-30, jnp.float32), state)
    assert float(u[0]) == 0.0 and float(state.Delta[0]) == pytest.approx(0.05)


def test_step_size_bounds():
    tx = rprop("rprop-", step_init=0.1, step_min=0.01, step_max=0.2)
    state = tx.init(jnp.zeros(2))
    for g in ([1.0, 1.0], [1.0, -1.0], [1.0, 1.0], [1.0, -1.0], [1.0, 1.0], [1.0, -1.0]):
        _, state = tx.update(jnp.asarray(g), state)
    np.testing.assert_allclose(state.Delta, [0.2, 0.01])


def test_irprop_plus_needs_value():
    tx = rprop("irprop+")
    state = tx.init({"w": jnp.zeros(3)})
    with pytest.raises(ConfigError, match="value="):
        tx.update({"w": jnp.ones(3)}, state)
    _, state = tx.update({"w": jnp.ones(3)}, state, value=jnp.asarray(1.0))
    assert float(state.E_prev) == 1.0


def test_value_optional_for_other_variants_and_state_type():
    tx = rprop("rprop+")
    assert isinstance(tx, optax.GradientTransformationExtraArgs)
    state = tx.init(jnp.zeros(2))
    # "no previous error" is the largest finite value (so a checkpoint of the state is finite)
    assert isinstance(state, RpropState) and float(state.E_prev) == np.finfo(state.E_prev.dtype).max
    _, state = tx.update(jnp.ones(2), state)
    assert float(state.E_prev) == np.finfo(state.E_prev.dtype).max


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"eta_plus": 1.0}, "eta_plus > 1"),
        ({"eta_minus": 1.0}, "eta_minus < 1"),
        ({"eta_minus": 0.0}, "eta_minus < 1"),
        ({"step_min": 0.0}, "step_min > 0"),
        ({"step_init": 1e-7}, "step_min <= step_init"),
        ({"step_init": 60.0}, "step_init <= step_max"),
        ({"step_min": 2.0, "step_init": 2.0, "step_max": 1.0}, "step_max"),
        ({"eta_plus": jnp.ones(2)}, "real scalar"),
        ({"eta_plus": "1.2"}, "real scalar"),
    ],
)
def test_hyper_parameter_validation(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        rprop(**kwargs)


def test_unknown_variant_lists_valid_and_closest():
    with pytest.raises(ConfigError) as info:
        rprop("irpop-")
    message = str(info.value)
    assert "did you mean 'irprop-'" in message
    for name in RPROP_VARIANTS:
        assert name in message


def test_torch_rprop_is_irprop_minus_note():
    # torch.optim.Rprop (not installed here) zeroes the stored gradient at a sign change and does
    # not move the weight there: iRprop-. fnnet's default variant is the same rule.
    import inspect

    assert inspect.signature(rprop).parameters["variant"].default == "irprop-"


@pytest.mark.parametrize("variant", RPROP_VARIANTS)
def test_only_the_backtracking_variants_store_the_last_change(variant):
    """rprop+ / irprop+ read Δw(t-1) and keep it; rprop- / irprop- never read it and leave the
    field at zero (so the update is not written twice)."""
    opt = rprop(variant)
    params = {"w": jnp.array([1.0, -2.0, 3.0])}
    state = opt.init(params)
    for g in ([0.5, -0.5, 0.1], [0.4, 0.5, 0.2], [0.3, 0.1, -0.2]):
        updates, state = opt.update({"w": jnp.array(g)}, state, params, value=jnp.array(1.0))
        params = optax.apply_updates(params, updates)
        if variant in ("rprop+", "irprop+"):
            np.testing.assert_array_equal(state.delta_w_prev["w"], updates["w"])
        else:
            np.testing.assert_array_equal(state.delta_w_prev["w"], jnp.zeros(3))
