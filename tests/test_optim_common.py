"""Cross-cutting properties of every rule, driven by one registry of cases.

jit == eager, scan == loop, vmap == loop (over params/states and over hyper-parameters),
optax.chain with clipping, dtype preservation, nested pytrees, convergence on a quadratic,
optax.inject_hyperparams, one compilation, and ``get`` by name.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax import lax

from fnnet.errors import ConfigError
from fnnet.optim import NAMES, get, momentum, nesterov, quickprop, rprop, sgd

CASES = {
    "sgd": lambda: sgd(0.05),
    "momentum": lambda: momentum(0.05, 0.9),
    "nesterov": lambda: nesterov(0.05, 0.9),
    "rprop+": lambda: rprop("rprop+"),
    "rprop-": lambda: rprop("rprop-"),
    "irprop+": lambda: rprop("irprop+"),
    "irprop-": lambda: rprop("irprop-"),
    "quickprop": lambda: quickprop(0.05),
    "quickprop-decay": lambda: quickprop(0.05, decay=1e-3),
}
STEPS = 3
# The four Rprop variants and the two Quickprop forms differ only in a static branch of the
# update, checked for each under jit/scan/dtypes; the vmap and chain sweeps take one of each.
SWEEP = ("sgd", "momentum", "nesterov", "rprop+", "irprop+", "irprop-", "quickprop-decay")


def make_params(dtype=jnp.float64, key=0):
    """Nested dict/tuple params, with leaf-free () and {} subtrees and a 0-d leaf."""
    values = np.random.default_rng(key).normal(size=9)
    return {
        "dense": {"W": jnp.asarray(values[:6].reshape(3, 2), dtype)},
        "act": (),
        "out": ({"b": jnp.asarray(values[6:8], dtype)}, {}),
        "scale": jnp.asarray(values[8], dtype),
    }


def loss_fn(params):
    # A coupled quadratic in every leaf, so slopes change sign and magnitude along the way.
    flat = jnp.concatenate([jnp.ravel(leaf) for leaf in jax.tree.leaves(params)])
    target = jnp.linspace(-1.0, 1.0, flat.size, dtype=flat.dtype)
    return jnp.sum((flat - target) ** 2) + 0.5 * jnp.sum(flat[1:] * flat[:-1])


def step(tx, params, state):
    """One training step; every rule is called the same way (value= is ignored where unused)."""
    value, grads = jax.value_and_grad(loss_fn)(params)
    updates, state = optax.with_extra_args_support(tx).update(grads, state, params, value=value)
    return optax.apply_updates(params, updates), state, updates


def run_scan(tx, params, steps=STEPS):
    """(params, state, stacked updates) after `steps` steps, as one lax.scan."""

    def body(carry, _):
        p, s, u = step(tx, *carry)
        return (p, s), u

    (p, s), updates = lax.scan(body, (params, tx.init(params)), None, length=steps)
    return p, s, updates


@functools.cache
def eager(name):
    """The plain eager Python loop: the referee for jit, scan and vmap (computed once)."""
    tx, params = CASES[name](), make_params()
    state, history = tx.init(params), []
    for _ in range(STEPS):
        params, state, updates = step(tx, params, state)
        history.append(updates)
    return params, state, jax.tree.map(lambda *u: jnp.stack(u), *history)


@functools.cache
def scanned(name):
    """A jitted run_scan for the case, shared by the tests so each compiles once per dtype."""
    tx = CASES[name]()
    return jax.jit(lambda p: run_scan(tx, p))


def assert_trees_close(a, b, rtol=1e-12):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        assert x.shape == y.shape and x.dtype == y.dtype
        np.testing.assert_allclose(x, y, rtol=rtol, atol=1e-14)


def member(tree, i):
    return jax.tree.map(lambda x: x[i], tree)


@pytest.mark.parametrize("name", CASES)
def test_jit_and_scan_equal_eager(name):
    # params, every state field, and every step's updates of a jitted lax.scan equal the plain
    # eager Python loop's (test_compiles_once covers a jitted single step).
    assert_trees_close(scanned(name)(make_params()), eager(name))


@pytest.mark.parametrize("name", SWEEP)
def test_vmap_over_params_and_states_equals_loop(name):
    tx = CASES[name]()
    members = [make_params(key=0), make_params(key=1)]
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *members)
    batched = jax.jit(jax.vmap(lambda p: run_scan(tx, p)))(stacked)
    assert_trees_close(member(batched, 0), eager(name))
    assert_trees_close(member(batched, 1), scanned(name)(members[1]))


@pytest.mark.parametrize("name", SWEEP)
def test_chain_with_clip(name):
    tx = CASES[name]()
    chained = optax.chain(optax.clip(1.0), tx)
    plain = optax.with_extra_args_support(tx)

    def body(carry, _):
        p, s_chain, s_plain = carry
        value, grads = jax.value_and_grad(loss_fn)(p)
        u_chain, s_chain = chained.update(grads, s_chain, p, value=value)
        clipped = jax.tree.map(lambda g: jnp.clip(g, -1.0, 1.0), grads)
        u_plain, _ = plain.update(clipped, s_plain, p, value=value)
        return (optax.apply_updates(p, u_chain), s_chain, s_chain[1]), (u_chain, u_plain, grads)

    @jax.jit
    def run(p):
        return lax.scan(body, (p, chained.init(p), tx.init(p)), None, length=STEPS)[1]

    u_chain, u_plain, grads = run(make_params())
    assert_trees_close(u_chain, u_plain)
    assert max(float(jnp.max(jnp.abs(g))) for g in jax.tree.leaves(grads)) > 1.0  # clip bites


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("name", CASES)
def test_dtypes_follow_params(name, dtype):
    out = eager(name) if dtype == jnp.float64 else scanned(name)(make_params(dtype))
    for leaf in jax.tree.leaves(out):  # params, every state leaf, every update
        assert leaf.dtype == dtype, (name, leaf.dtype)


@pytest.mark.parametrize("name", ["momentum", "irprop+", "quickprop-decay"])
def test_mixed_dtype_tree_keeps_each_leafs_dtype(name):
    params = {"a": jnp.ones(3, jnp.float32), "b": jnp.ones(2, jnp.float64)}
    p, s, u = scanned(name)(params)
    for tree in (p, u):
        assert tree["a"].dtype == jnp.float32 and tree["b"].dtype == jnp.float64
    for field in s:
        if isinstance(field, dict):
            assert field["a"].dtype == jnp.float32 and field["b"].dtype == jnp.float64


QUADRATIC_A = np.random.default_rng(7).normal(size=(6, 3))
QUADRATIC_B = np.arange(6.0)


@pytest.mark.parametrize("name", SWEEP)
def test_converges_on_a_quadratic(name):
    A, b = jnp.asarray(QUADRATIC_A), jnp.asarray(QUADRATIC_B)

    def loss(w):
        return jnp.sum((A @ w - b) ** 2)

    w_star = jnp.linalg.lstsq(A, b)[0]
    lam_max = float(jnp.linalg.eigvalsh(2 * A.T @ A).max())
    tx = {
        "sgd": sgd(1.0 / lam_max),
        "momentum": momentum(0.5 / lam_max, 0.9),
        "nesterov": nesterov(0.5 / lam_max, 0.9),
        "quickprop-decay": quickprop(0.5 / lam_max, decay=1e-4),
    }.get(name) or CASES[name]()
    tx = optax.with_extra_args_support(tx)

    def body(carry, _):
        w, s = carry
        value, g = jax.value_and_grad(loss)(w)
        u, s = tx.update(g, s, w, value=value)
        return (optax.apply_updates(w, u), s), value

    (w, _), values = jax.jit(lambda w: lax.scan(body, (w, tx.init(w)), None, length=300))(
        jnp.zeros(3)
    )
    excess = float(loss(w) - loss(w_star))
    assert excess < 1e-6 * float(values[0] - loss(w_star))


POPULATIONS = {
    "momentum(lr, alpha)": (lambda lr, a: momentum(lr, a), [(0.01, 0.5), (0.05, 0.9)]),
    "rprop(step_init, eta_plus, eta_minus)": (
        lambda d, ep, em: rprop("irprop+", eta_plus=ep, eta_minus=em, step_init=d),
        [(0.1, 1.2, 0.5), (0.01, 1.5, 0.3)],
    ),
    "quickprop(lr, mu, decay)": (
        lambda lr, mu, d: quickprop(lr, mu, d),
        [(0.05, 1.75, 0.0), (0.01, 2.0, 1e-3)],
    ),
}


@pytest.mark.parametrize("name", POPULATIONS)
def test_vmap_over_hyper_parameters(name):
    # The factories accept traced hyper-parameters (range checks skipped), so a population of
    # rules vmaps; each member equals the rule built from Python floats and run alone.
    build, members = POPULATIONS[name]
    columns = tuple(jnp.asarray(col) for col in zip(*members, strict=True))
    params = make_params()

    def run(*h):
        return run_scan(build(*h), params)

    batched = jax.jit(jax.vmap(run))(*columns)
    for i, hyper in enumerate(members):
        tx = build(*hyper)
        alone = jax.jit(lambda p, tx=tx: run_scan(tx, p))(params)
        assert_trees_close(member(batched, i), alone, rtol=1e-10)


def test_inject_hyperparams_population():
    tx = optax.inject_hyperparams(momentum)(learning_rate=0.1, alpha=0.9)
    params = make_params()
    lrs = jnp.array([0.01, 0.1])

    def init(lr):
        state = tx.init(params)
        state.hyperparams["learning_rate"] = lr
        return state

    def body(carry, _):
        p, state, _ = step(tx, *carry)
        return (p, state), None

    train = jax.jit(jax.vmap(lambda s: lax.scan(body, (params, s), None, length=STEPS)[0][0]))
    batched = train(jax.vmap(init)(lrs))
    for i, lr in enumerate([0.01, 0.1]):
        expected = jax.jit(lambda p, lr=lr: run_scan(momentum(lr, 0.9), p))(params)[0]
        assert_trees_close(member(batched, i), expected, rtol=1e-10)


def test_inject_hyperparams_rprop_schedule_and_value():
    # A schedule on Rprop's eta_plus, the variant passed through as a static string, value=
    # forwarded to irprop+, float32 params kept float32.
    schedule = optax.linear_schedule(1.5, 1.1, transition_steps=4)
    tx = optax.inject_hyperparams(rprop)(variant="irprop+", eta_plus=schedule)
    p, state, updates = jax.jit(lambda p: run_scan(tx, p, steps=4))(make_params(jnp.float32))
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves((p, updates)))
    # the state records the value used at the last (4th, count 3) update: 1.5 - 3 * 0.1
    assert float(state.hyperparams["eta_plus"]) == pytest.approx(1.2, rel=1e-6)


def test_compiles_once():
    traces = []
    tx = rprop("irprop+")

    @jax.jit
    def jitted(p, s):
        traces.append(1)
        return step(tx, p, s)

    p = make_params()
    s = tx.init(p)
    for _ in range(4):
        p, s, _ = jitted(p, s)
    assert len(traces) == 1


def first_update(tx):
    params = {"w": jnp.array([0.5, -1.0])}
    grads = {"w": jnp.array([1.0, -2.0])}
    state = tx.init(params)
    updates, state = optax.with_extra_args_support(tx).update(
        grads, state, params, value=jnp.asarray(1.0)
    )
    updates, _ = optax.with_extra_args_support(tx).update(
        grads, state, params, value=jnp.asarray(2.0)
    )
    return updates


@pytest.mark.parametrize(
    "name, kwargs, expected",
    [
        ("sgd", {"learning_rate": 0.1}, lambda: sgd(0.1)),
        ("momentum", {"learning_rate": 0.1}, lambda: momentum(0.1)),
        ("Nesterov", {"learning_rate": 0.1}, lambda: nesterov(0.1)),
        ("rprop", {"variant": "rprop+"}, lambda: rprop("rprop+")),
        ("irprop+", {}, lambda: rprop("irprop+")),
        ("iRprop-", {"step_init": 0.05}, lambda: rprop("irprop-", step_init=0.05)),
        ("rprop-", {"variant": "rprop-"}, lambda: rprop("rprop-")),
        ("quickprop", {"learning_rate": 0.05}, lambda: quickprop(0.05)),
        ("adam", {"learning_rate": 1e-3}, lambda: optax.adam(1e-3)),
        ("optax.sgd", {"learning_rate": 0.05}, lambda: sgd(0.05)),
    ],
)
def test_get_builds_rules(name, kwargs, expected):
    tx = get(name, **kwargs)
    assert isinstance(tx, optax.GradientTransformation)
    assert_trees_close(first_update(tx), first_update(expected()))


def test_get_names():
    assert set(NAMES) >= {"sgd", "momentum", "nesterov", "rprop", "quickprop", "lbfgs"}
    assert isinstance(get("lbfgs"), optax.GradientTransformationExtraArgs)


@pytest.mark.parametrize(
    "name, kwargs, match",
    [
        ("irprop", {}, "did you mean 'irprop"),
        ("adamm", {}, "did you mean 'adam'"),
        ("quickprob", {"learning_rate": 0.1}, "did you mean 'quickprop'"),
        ("_private", {}, "unknown optimizer"),
        ("irprop+", {"variant": "rprop-"}, "already names the Rprop variant"),
        ("momentum", {"lr": 0.1}, r"signature is momentum\(learning_rate"),
        ("l2_loss", {"predictions": jnp.ones(2)}, "not an optimizer factory"),
        ("rprop", {"eta_plus": 0.9}, "eta_plus > 1"),
        (3, {}, "must be a string"),
    ],
)
def test_get_errors(name, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        get(name, **kwargs)
