"""The peers: the same multi-layer-perceptron training written with raw JAX + optax, Flax (linen),
Equinox, PyTorch (eager) and NumPy. Peers never import fnnet.

Every peer trains an :class:`MLPTask` -- same initial parameters (``params0``), same mini-batches
(``order``), same loss and update rule -- so its final loss equals fnnet's up to float rounding.
A "unit of work" is ``task.steps`` updates: an epoch (W1), N steps (W2) or N full-batch
iterations (W3).

Loop-style peers (jit step in a Python loop, Flax, Equinox) gather the epoch's shuffled
mini-batches once per epoch inside a jitted function and index the i-th batch inside the jitted
step with a step counter carried on the device: one dispatch per step, no host round trip.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import numpy as np

from benchmarks.common import Canonical, Runner, Skip, block, need, torch_device


@dataclasses.dataclass
class MLPTask:
    """sizes: (in, h1, ..., out); act: hidden activation; out_act: output activation or None;
    loss: 'quadratic' (one-hot float targets) or 'softmax_ce' (integer labels);
    opt: ('sgd', lr) | ('momentum', lr, alpha) | ('irprop-', step_init, step_min, step_max);
    order: pattern indices, length steps * batch (None with full_batch);
    perm_key: if set, the raw-JAX scan draws the permutation in-graph from this seed, as fnnet does."""

    sizes: tuple[int, ...]
    act: str
    out_act: str | None
    loss: str
    opt: tuple
    x: np.ndarray
    labels: np.ndarray
    batch: int
    steps: int
    params0: Canonical
    order: np.ndarray | None = None
    full_batch: bool = False
    perm_key: int | None = None
    torch_threads: int | None = None  # None: torch's default (one per core)

    @property
    def targets(self) -> np.ndarray:
        if self.loss == "quadratic":
            return np.eye(self.sizes[-1], dtype=np.float32)[self.labels]
        return self.labels

    @property
    def n(self) -> int:
        return self.x.shape[0]


# --------------------------------------------------------------------------------------------
# Raw JAX pieces (shared by the raw-JAX peers, Flax and Equinox for the loss and optimizer)


def _jax_act(name: str | None):
    import jax
    import jax.numpy as jnp

    return {None: lambda z: z, "sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh, "relu": jax.nn.relu}[
        name
    ]


def _jax_loss(kind: str):
    import jax.numpy as jnp
    import optax

    if kind == "quadratic":
        return lambda y, t: jnp.sum((y - t) ** 2) / (2 * y.shape[0])
    if kind == "softmax_ce":
        return lambda y, t: jnp.mean(optax.softmax_cross_entropy_with_integer_labels(y, t))
    raise ValueError(kind)


class IRpropMinusState(NamedTuple):
    step_size: Any
    prev_grad: Any


def irprop_minus(
    step_init: float,
    step_min: float,
    step_max: float,
    eta_minus: float = 0.5,
    eta_plus: float = 1.2,
):
    """iRprop- (Igel & Huesken 2000) as a plain optax transformation, written for this benchmark.

    Same rule as torch.optim.Rprop. (optax.rprop is not used: it returns each update one step
    late, google-deepmind/optax pull 1725, so its losses would not match.)
    """
    import jax
    import jax.numpy as jnp
    import optax

    def init_fn(params):
        return IRpropMinusState(
            jax.tree.map(lambda p: jnp.full_like(p, step_init), params),
            jax.tree.map(jnp.zeros_like, params),
        )

    def update_fn(grads, state, params=None):
        del params

        def leaf(g, s, gp):
            prod = jnp.sign(g) * jnp.sign(gp)
            s = jnp.where(
                prod > 0,
                jnp.minimum(s * eta_plus, step_max),
                jnp.where(prod < 0, jnp.maximum(s * eta_minus, step_min), s),
            )
            g = jnp.where(prod < 0, 0.0, g)
            return -jnp.sign(g) * s, s, g

        out = jax.tree.map(leaf, grads, state.step_size, state.prev_grad)
        pick = lambda i: jax.tree.map(lambda _, o: o[i], grads, out)
        return pick(0), IRpropMinusState(pick(1), pick(2))

    return optax.GradientTransformation(init_fn, update_fn)


def optax_opt(spec: tuple):
    import optax

    kind = spec[0]
    if kind == "sgd":
        return optax.sgd(spec[1])
    if kind == "momentum":
        return optax.sgd(spec[1], momentum=spec[2])
    if kind == "irprop-":
        return irprop_minus(*spec[1:])
    raise ValueError(kind)


def _jax_data(task: MLPTask):
    import jax.numpy as jnp

    x, t = jnp.asarray(task.x), jnp.asarray(task.targets)
    order = (
        None if task.full_batch else jnp.asarray(task.order[: task.steps * task.batch], jnp.int32)
    )
    return x, t, order


def _gather_fn(task: MLPTask):
    """jitted (x, t, order) -> (xs, ts) of shape (steps, batch, ...): one gather per epoch."""
    import jax
    import jax.numpy as jnp

    def gather(x, t, order):
        idx = order.reshape(task.steps, task.batch)
        return jnp.take(x, idx, axis=0), jnp.take(t, idx, axis=0)

    return jax.jit(gather)


def _canonical_list(params) -> Canonical:
    return [(np.asarray(W), np.asarray(b)) for W, b in params]


def raw_jax_params(task: MLPTask):
    import jax.numpy as jnp

    return [(jnp.asarray(W), jnp.asarray(b)) for W, b in task.params0]


def raw_jax_forward(task: MLPTask):
    act, out_act = _jax_act(task.act), _jax_act(task.out_act)

    def forward(params, x):
        for i, (W, b) in enumerate(params):
            x = x @ W + b
            x = act(x) if i < len(params) - 1 else out_act(x)
        return x

    return forward


def jax_scan(task: MLPTask) -> Runner:
    """Raw JAX + optax, the unit of work as one jitted ``lax.scan`` (the strongest JAX baseline)."""
    import jax
    import jax.numpy as jnp

    forward, loss = raw_jax_forward(task), _jax_loss(task.loss)
    opt = optax_opt(task.opt)
    x, t, order = _jax_data(task)

    def objective(params, xb, tb):
        return loss(forward(params, xb), tb)

    def body(carry, batch):
        params, s = carry
        xb, tb = batch
        value, g = jax.value_and_grad(objective)(params, xb, tb)
        u, s = opt.update(g, s, params)
        params = jax.tree.map(lambda p, d: p + d, params, u)
        return (params, s), value

    def unit(params, s, x, t, order, key):
        if task.full_batch:
            (params, s), losses = jax.lax.scan(
                lambda c, _: body(c, (x, t)), (params, s), None, length=task.steps
            )
        else:
            if (
                key is not None
            ):  # the same in-graph shuffle fnnet's epoch does (same key -> same order)
                order = jax.random.permutation(key, task.n)[: task.steps * task.batch]
            idx = order.reshape(task.steps, task.batch)
            (params, s), losses = jax.lax.scan(
                body, (params, s), (jnp.take(x, idx, axis=0), jnp.take(t, idx, axis=0))
            )
        return params, s, losses[-1]

    key = None
    if task.perm_key is not None:
        _, k_data = jax.random.split(jax.random.PRNGKey(task.perm_key))
        key = jax.random.split(k_data)[1]
    f = jax.jit(unit)
    params0 = raw_jax_params(task)
    s0 = opt.init(params0)
    what = "epoch" if not task.full_batch else "iterations"
    return Runner(
        "raw jax+optax, lax.scan",
        run=lambda: block(f(params0, s0, x, t, order, key)),
        canonical=lambda out: _canonical_list(out[0]),
        note=f"all {what} in one jitted lax.scan"
        + ("; in-graph shuffle" if key is not None else ""),
        group="peer",
        hlo=lambda: f.lower(params0, s0, x, t, order, key).compile().as_text(),
    )


def _loop_runner(name: str, task: MLPTask, step, params0, s0, note: str) -> Runner:
    """Python loop over a jitted ``step(params, s, xs, ts, i) -> (params, s, i + 1)``."""
    import jax.numpy as jnp

    x, t, order = _jax_data(task)
    gather = None if task.full_batch else _gather_fn(task)
    i0 = jnp.zeros((), jnp.int32)

    def run():
        xs, ts = (x, t) if task.full_batch else gather(x, t, order)
        params, s, i = params0, s0, i0
        for _ in range(task.steps):
            params, s, i = step(params, s, xs, ts, i)
        return block((params, s))

    return Runner(name, run=run, note=note, group="peer")


def _pick(task: MLPTask, xs, ts, i):
    import jax

    if task.full_batch:
        return xs, ts
    return jax.lax.dynamic_index_in_dim(xs, i, keepdims=False), jax.lax.dynamic_index_in_dim(
        ts, i, keepdims=False
    )


def jax_loop(task: MLPTask) -> Runner:
    """Raw JAX + optax, one jitted step per mini-batch in a Python loop."""
    import jax

    forward, loss = raw_jax_forward(task), _jax_loss(task.loss)
    opt = optax_opt(task.opt)

    @jax.jit
    def step(params, s, xs, ts, i):
        xb, tb = _pick(task, xs, ts, i)
        g = jax.grad(lambda p: loss(forward(p, xb), tb))(params)
        u, s = opt.update(g, s, params)
        return jax.tree.map(lambda p, d: p + d, params, u), s, i + 1

    params0 = raw_jax_params(task)
    r = _loop_runner(
        "raw jax+optax, jit step in Python loop",
        task,
        step,
        params0,
        opt.init(params0),
        "one dispatch per step",
    )
    r.canonical = lambda out: _canonical_list(out[0])
    return r


def flax_loop(task: MLPTask) -> Runner:
    """flax.linen Module + flax TrainState + optax, jitted step in a Python loop (Flax examples' style)."""
    need("flax")
    import flax.linen as nn
    import jax
    import jax.numpy as jnp
    from flax.training import train_state

    act, out_act = _jax_act(task.act), _jax_act(task.out_act)
    widths = task.sizes[1:]

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            for i, w in enumerate(widths):
                x = nn.Dense(w)(x)
                x = act(x) if i < len(widths) - 1 else out_act(x)
            return x

    model = MLP()
    params = {
        "params": {
            f"Dense_{i}": {"kernel": jnp.asarray(W), "bias": jnp.asarray(b)}
            for i, (W, b) in enumerate(task.params0)
        }
    }
    shapes = jax.tree.map(
        jnp.shape, model.init(jax.random.PRNGKey(0), jnp.zeros((1, task.sizes[0]), jnp.float32))
    )
    if shapes != jax.tree.map(jnp.shape, params):
        raise RuntimeError(f"flax params layout changed: {shapes}")
    state0 = train_state.TrainState.create(
        apply_fn=model.apply, params=params, tx=optax_opt(task.opt)
    )
    loss = _jax_loss(task.loss)

    @jax.jit
    def step(state, _, xs, ts, i):
        xb, tb = _pick(task, xs, ts, i)
        g = jax.grad(lambda p: loss(state.apply_fn(p, xb), tb))(state.params)
        return state.apply_gradients(grads=g), None, i + 1

    r = _loop_runner(
        f"flax.linen {_version('flax')}, jit step loop",
        task,
        step,
        state0,
        None,
        "TrainState.apply_gradients",
    )
    r.canonical = lambda out: [
        (
            np.asarray(out[0].params["params"][f"Dense_{i}"]["kernel"]),
            np.asarray(out[0].params["params"][f"Dense_{i}"]["bias"]),
        )
        for i in range(len(widths))
    ]
    return r


def equinox_loop(task: MLPTask) -> Runner:
    """equinox.nn.MLP (vmapped over the batch, the Equinox idiom) + optax, eqx.filter_jit step loop."""
    eqx = need("equinox")
    import jax
    import jax.numpy as jnp

    hidden = task.sizes[1:-1]
    if len(set(hidden)) != 1:
        raise Skip("equinox.nn.MLP needs equal hidden widths")
    model = eqx.nn.MLP(
        task.sizes[0],
        task.sizes[-1],
        hidden[0],
        len(hidden),
        activation=_jax_act(task.act),
        final_activation=_jax_act(task.out_act),
        key=jax.random.PRNGKey(0),
    )
    leaves = [jnp.asarray(W.T) for W, _ in task.params0] + [jnp.asarray(b) for _, b in task.params0]
    model = eqx.tree_at(
        lambda m: [lyr.weight for lyr in m.layers] + [lyr.bias for lyr in m.layers], model, leaves
    )
    opt = optax_opt(task.opt)
    s0 = opt.init(eqx.filter(model, eqx.is_array))
    loss = _jax_loss(task.loss)

    @eqx.filter_jit
    def step(model, s, xs, ts, i):
        xb, tb = _pick(task, xs, ts, i)
        g = eqx.filter_grad(lambda m: loss(jax.vmap(m)(xb), tb))(model)
        u, s = opt.update(g, s, eqx.filter(model, eqx.is_array))
        return eqx.apply_updates(model, u), s, i + 1

    r = _loop_runner(
        f"equinox {_version('equinox')}, filter_jit step loop",
        task,
        step,
        model,
        s0,
        "nn.MLP vmapped over the batch",
    )
    r.canonical = lambda out: [
        (np.asarray(lyr.weight).T, np.asarray(lyr.bias)) for lyr in out[0].layers
    ]
    return r


def torch_eager(task: MLPTask) -> Runner:
    """PyTorch eager: nn.Sequential, torch.optim (SGD / SGD momentum / Rprop), zero_grad-backward-step."""
    torch = need("torch")
    dev = torch_device()
    acts = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}
    mods = []
    for i, (a, b) in enumerate(zip(task.sizes[:-1], task.sizes[1:])):
        mods.append(torch.nn.Linear(a, b))
        act = task.act if i < len(task.sizes) - 2 else task.out_act
        if act is not None:
            mods.append(acts[act]())
    net = torch.nn.Sequential(*mods).to(dev)
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    x = torch.from_numpy(task.x).to(dev)
    if task.loss == "quadratic":
        t = torch.from_numpy(task.targets).to(dev)
        loss_fn = lambda y, tb: ((y - tb) ** 2).sum() / (2 * y.shape[0])
    else:
        t = torch.from_numpy(task.labels.astype(np.int64)).to(dev)
        loss_fn = torch.nn.functional.cross_entropy
    order = (
        None
        if task.full_batch
        else torch.from_numpy(task.order[: task.steps * task.batch].astype(np.int64)).to(dev)
    )
    holder: dict[str, Any] = {}

    def make_opt():
        kind = task.opt[0]
        if kind == "sgd":
            return torch.optim.SGD(net.parameters(), lr=task.opt[1])
        if kind == "momentum":
            return torch.optim.SGD(net.parameters(), lr=task.opt[1], momentum=task.opt[2])
        if kind == "irprop-":
            return torch.optim.Rprop(
                net.parameters(),
                lr=task.opt[1],
                etas=(0.5, 1.2),
                step_sizes=(task.opt[2], task.opt[3]),
            )
        raise ValueError(kind)

    def reset():
        with torch.no_grad():
            for lin, (W, b) in zip(linears, task.params0):
                lin.weight.copy_(torch.from_numpy(np.array(W.T, np.float32)))
                lin.bias.copy_(torch.from_numpy(np.array(b, np.float32)))
        holder["opt"] = make_opt()
        if dev == "cuda":
            torch.cuda.synchronize()

    def run():
        opt = holder["opt"]
        b = task.batch
        threads = torch.get_num_threads()
        if task.torch_threads is not None and dev == "cpu":
            torch.set_num_threads(task.torch_threads)
        try:
            _epoch(opt, b)
        finally:
            torch.set_num_threads(threads)
        if dev == "cuda":
            torch.cuda.synchronize()

    def _epoch(opt, b):
        if task.full_batch:
            xs, ts = x, t
        else:
            xs, ts = x[order], t[order]
        for i in range(task.steps):
            xb, tb = (
                (xs, ts) if task.full_batch else (xs[i * b : (i + 1) * b], ts[i * b : (i + 1) * b])
            )
            opt.zero_grad(set_to_none=True)
            loss_fn(net(xb), tb).backward()
            opt.step()

    def canonical(_):
        return [
            (lin.weight.detach().cpu().numpy().T.copy(), lin.bias.detach().cpu().numpy().copy())
            for lin in linears
        ]

    return Runner(
        f"torch {torch.__version__} eager ({dev})",
        run=run,
        reset=reset,
        canonical=canonical,
        note=f"{task.torch_threads or torch.get_num_threads()} intra-op thread(s)"
        if dev == "cpu"
        else "cuda",
        group="peer",
    )


def numpy_nielsen(task: MLPTask) -> Runner:
    """NumPy, Nielsen's network.py backprop vectorised over each mini-batch (matrix form), float32."""
    if (
        task.opt[0] != "sgd"
        or task.act != "sigmoid"
        or task.out_act != "sigmoid"
        or task.loss != "quadratic"
    ):
        raise Skip("the NumPy peer implements Nielsen's sigmoid + quadratic + SGD only")
    eta = np.float32(task.opt[1])
    x, t = task.x, task.targets
    order = task.order[: task.steps * task.batch]
    holder: dict[str, Any] = {}

    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    def reset():
        holder["params"] = [(W.copy(), b.copy()) for W, b in task.params0]

    def run():
        params = holder["params"]
        xs, ts = x[order], t[order]
        b = task.batch
        for i in range(task.steps):
            a = [xs[i * b : (i + 1) * b]]
            for W, bias in params:
                a.append(sigmoid(a[-1] @ W + bias))
            delta = (
                (a[-1] - ts[i * b : (i + 1) * b]) * a[-1] * (1 - a[-1]) / b
            )  # quadratic cost, mean
            for l in range(len(params) - 1, -1, -1):
                W, bias = params[l]
                gW, gb = a[l].T @ delta, delta.sum(axis=0)
                if l:
                    delta = (delta @ W.T) * a[l] * (1 - a[l])
                W -= eta * gW
                bias -= eta * gb
        return params

    return Runner(
        "numpy (Nielsen, vectorised mini-batch)",
        run=run,
        reset=reset,
        canonical=lambda p: p,
        note="CPU, float32",
        group="peer",
    )


def _version(mod: str) -> str:
    try:
        return need(mod).__version__
    except Skip:
        return "?"


PEERS = {
    "jax_scan": jax_scan,
    "jax_loop": jax_loop,
    "flax": flax_loop,
    "equinox": equinox_loop,
    "torch": torch_eager,
    "numpy": numpy_nielsen,
}
