"""One registry of layer and loss cases that drives the cross-cutting tests.

Each layer case is a hypothesis strategy producing ``(layer, input_shape)`` with a concrete batch
size, so every test over the registry covers every layer with random sizes and hyper-parameters.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import strategies as st

from fnnet import layers as L
from fnnet import losses

batch = st.integers(1, 64)
small_batch = st.integers(1, 8)
width = st.integers(1, 12)


@st.composite
def dense_case(draw):
    return L.Dense(draw(width)), (draw(batch), draw(width))


@st.composite
def elementwise_case(draw):
    layer = draw(
        st.sampled_from(
            [
                L.Sigmoid(),
                L.Sigmoid(gain=0.5),
                L.Sigmoid(gain=2.0),
                L.Tanh(),
                L.ReLU(),
                L.LeakyReLU(0.1),
                L.Identity(),
                L.Softmax(),
            ]
        )
    )
    return layer, (draw(batch), draw(width))


@st.composite
def conv_case(draw):
    k = draw(st.integers(1, 3))
    s = draw(st.integers(1, 3))
    padding = draw(st.sampled_from(["VALID", "SAME", ((1, 0), (0, 2))]))
    hw = draw(st.integers(k, 7))
    return (
        L.Conv2D(draw(st.integers(1, 4)), kernel=(k, draw(st.integers(1, 3))), strides=(s, draw(st.integers(1, 2))), padding=padding),
        (draw(small_batch), hw, hw + draw(st.integers(0, 2)), draw(st.integers(1, 3))),
    )


@st.composite
def pool_case(draw):
    k = draw(st.integers(1, 3))
    s = draw(st.integers(1, 3))
    padding = draw(st.sampled_from(["VALID", "SAME"]))
    kind = draw(st.sampled_from([L.MaxPool2D, L.AvgPool2D]))
    hw = draw(st.integers(k, 7))
    return kind(k, s, padding), (draw(small_batch), hw, hw + draw(st.integers(0, 2)), draw(st.integers(1, 3)))


@st.composite
def reshape_case(draw):
    shape = (draw(small_batch), draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 3)))
    layer = draw(st.sampled_from([L.Flatten(), L.Reshape((shape[1] * shape[2], shape[3]))]))
    return layer, shape


layer_cases = st.one_of(dense_case(), elementwise_case(), conv_case(), pool_case(), reshape_case())

dtypes = st.sampled_from([np.float32, np.float64])

LOSSES = {
    "sse": losses.sse,
    "mse": losses.mse,
    "quadratic": losses.quadratic,
    "softmax_cross_entropy": losses.softmax_cross_entropy,
    "categorical_cross_entropy": losses.categorical_cross_entropy,
    "sigmoid_binary_cross_entropy": losses.sigmoid_binary_cross_entropy,
}


def random_target(loss, key, y_shape, dtype, *, integer_labels=False):
    """A valid target for ``loss`` given outputs of ``y_shape``."""
    if loss.classification:
        if integer_labels:
            return jax.random.randint(key, y_shape[:-1], 0, y_shape[-1])
        return jax.random.dirichlet(key, jnp.ones(y_shape[-1]), y_shape[:-1]).astype(dtype)
    if loss is losses.sigmoid_binary_cross_entropy:
        return jax.random.uniform(key, y_shape, dtype)
    return jax.random.normal(key, y_shape, dtype)


def cast(tree, dtype):
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype), tree)
