"""Data parallelism over a Mesh gives the single-device trajectory; run on 4 fake CPU devices."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import jax, jax.numpy as jnp, numpy as np
    from fnnet import data, losses, optim
    from fnnet import layers as L
    from fnnet.train import fit, make_epochs, init_state, sharding
    assert len(jax.devices()) == 4, jax.devices()
    d = data.digits()
    model = L.serial(L.Dense(32), L.Tanh(), L.Dense(10))
    for opt in (optim.momentum(0.1, 0.9), optim.rprop("irprop-")):
        kw = dict(key=0, epochs=3, batch_size=64)
        one = fit(model, losses.softmax_cross_entropy, opt, (d.x_train, d.y_train), **kw)
        four = fit(model, losses.softmax_cross_entropy, opt, (d.x_train, d.y_train), mesh=sharding.make_mesh(), **kw)
        for a, b in zip(jax.tree_util.tree_leaves(one.state.params), jax.tree_util.tree_leaves(four.state.params)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
            assert len(b.sharding.device_set) == 4
    # The compiled program really splits the batch: the gradient sum is an all-reduce.
    mesh = sharding.make_mesh()
    opt = optim.sgd(0.1)
    run = make_epochs(model, losses.softmax_cross_entropy, opt, n_train=256, batch_size=64, batch_sharding=sharding.batch_sharding(mesh))
    state = sharding.place(init_state(model, opt, jax.random.PRNGKey(0), (-1, 64)), mesh)
    x, t = sharding.place((jnp.asarray(d.x_train[:256]), jnp.asarray(d.y_train[:256])), mesh)
    hlo = jax.jit(run, static_argnames="n_epochs").lower(state, jnp.array(False), x, t, None, None, n_epochs=1).compile().as_text()
    assert "all-reduce" in hlo
    try:
        fit(model, losses.softmax_cross_entropy, opt, (d.x_train, d.y_train), mesh=mesh, batch_size=30)
    except ValueError as e:
        assert "not a multiple of the 4 devices" in str(e)
    else:
        raise AssertionError("expected an error")
    print("OK")
    """
)


def test_data_parallel_equals_single_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "OK" in out.stdout
