"""Train a 64-32-10 MLP on scikit-learn's bundled digits with hand-derived backprop + Rprop."""

import jax
import jax.numpy as jnp
import optax

from fnnet import backprop, data, losses, optim
from fnnet import layers as L

ds = data.digits(seed=0)
model = L.serial(L.Dense(32), L.Tanh(), L.Dense(10))
_, params = model.init(jax.random.PRNGKey(0), (-1, 64))
opt = optim.rprop("irprop-")
opt_state = opt.init(params)
value_and_grad = backprop.value_and_grad(model, losses.softmax_cross_entropy)


@jax.jit
def step(params, opt_state, x, t):
    E, g = value_and_grad(params, x, t)  # the delta rule, layer by layer
    updates, opt_state = opt.update(g, opt_state, params, value=E)
    return optax.apply_updates(params, updates), opt_state, E


for epoch in range(300):  # full-batch learning: Rprop's home ground
    params, opt_state, E = step(params, opt_state, ds.x_train, ds.y_train)
accuracy = jnp.mean(jnp.argmax(model.apply(params, ds.x_test), -1) == ds.y_test)
print(f"train loss {float(E):.4f}  test accuracy {float(accuracy):.3f}")
