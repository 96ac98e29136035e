from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fnnet import initializers as I
from fnnet.errors import ConfigError

KEY = jax.random.PRNGKey(0)


@pytest.mark.parametrize(
    "init,shape,std",
    [
        (I.normal(0.1), (400, 300), 0.1),
        (I.glorot_normal(), (400, 300), math.sqrt(2 / 700)),
        (I.glorot_uniform(), (400, 300), math.sqrt(2 / 700)),
        (I.he_normal(), (400, 300), math.sqrt(2 / 400)),
        (I.he_uniform(), (400, 300), math.sqrt(2 / 400)),
        (I.nielsen(), (400, 300), 1.0),
        (I.nielsen_scaled(), (400, 300), 1 / 20),
        (I.he_normal(), (3, 3, 16, 32), math.sqrt(2 / (9 * 16))),  # conv: receptive field counts
    ],
)
def test_standard_deviation_and_mean(init, shape, std):
    w = np.asarray(init(KEY, shape, jnp.float32))
    assert w.shape == shape and w.dtype == np.float32
    # 120k samples: the sample std is within ~0.5% of the true one (4 sigma ~ 1.2%)
    assert np.std(w) == pytest.approx(std, rel=0.02)
    assert abs(np.mean(w)) < 4 * std / math.sqrt(w.size)


def test_uniform_bounds_dtype_and_determinism():
    a = math.sqrt(6 / 30)
    w = I.glorot_uniform()(KEY, (10, 20), jnp.float64)
    assert w.dtype == jnp.float64 and float(jnp.max(jnp.abs(w))) <= a
    np.testing.assert_array_equal(w, I.glorot_uniform()(KEY, (10, 20), jnp.float64))
    assert not np.array_equal(w, I.glorot_uniform()(jax.random.PRNGKey(1), (10, 20), jnp.float64))


def test_registry_and_errors():
    assert float(I.get("constant", value=0.5)(KEY, (2,))[0]) == 0.5
    with pytest.raises(ConfigError, match="Did you mean 'he_normal'"):
        I.get("he_norml")
    with pytest.raises(ConfigError, match="stddev must be >= 0"):
        I.normal(-1.0)
