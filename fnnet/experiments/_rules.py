"""The learning rules the optimizer studies compare, each trained as one population over a grid.

:data:`RULES` names them (plain gradient descent, momentum, the four Rprop variants, Quickprop);
:func:`rule_factory` gives each one's optimizer constructor and the hyper-parameter it is tuned
over; :func:`rule_population` trains every seed at every grid value in one compiled program and
picks the fastest setting; :func:`hparam_label` names a setting in tables and plot legends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnnet.experiments._numbers import Stopwatch, fmt, summarize_population

RULES: tuple[str, ...] = ("sgd", "momentum", "rprop+", "rprop-", "irprop+", "irprop-", "quickprop")


def rule_factory(rule: str, alpha: float = 0.9) -> tuple[Callable[..., Any], str]:
    """(make_optimizer, name of its tuned hyper-parameter) for one of :data:`RULES`.

    sgd / momentum (with ``alpha``) / quickprop: ``make_optimizer(learning_rate=...)``. The Rprop
    variants have no learning rate; their grid, if any, is over ``step_max`` (Δ_max), all other
    parameters at their defaults.
    """
    from fnnet import optim

    if rule == "sgd":
        return (lambda learning_rate: optim.sgd(learning_rate)), "learning_rate"
    if rule == "momentum":
        return (lambda learning_rate: optim.momentum(learning_rate, alpha)), "learning_rate"
    if rule == "quickprop":
        return (lambda learning_rate: optim.quickprop(learning_rate)), "learning_rate"
    if rule in optim.RPROP_VARIANTS:
        return (
            lambda step_max=None: (
                optim.rprop(rule) if step_max is None else optim.rprop(rule, step_max=step_max)
            )
        ), "step_max"
    raise ValueError(f"unknown rule {rule!r}; choose from {RULES}")


def rule_population(
    model: Any,
    loss: Any,
    rule: str,
    grid: Sequence[float],
    train: tuple[Any, Any],
    keys: Any,
    *,
    epochs: int,
    target_loss: float,
    alpha: float = 0.9,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Train ``len(keys)`` seeds x each value in ``grid`` of the rule's hyper-parameter (see
    :func:`rule_factory`; an empty grid = the rule's defaults, Rprop only) with
    ``train_population`` -- one compiled program -- until ``target_loss``.

    Returns ``{"hparam": name, "grid": [summary per value], "best": the summary with the smallest
    median epochs (failures inf; ties by success rate), "seconds": wall time}``. Every grid point
    trains the same keys, so rules and values are compared on the same initialisations.
    """
    import jax.numpy as jnp

    from fnnet.train import train_population

    make_opt, hp_name = rule_factory(rule, alpha)
    values = list(grid) or [None]
    if values == [None] and hp_name == "learning_rate":
        raise ValueError(f"{rule} needs a learning-rate grid")
    k = keys.shape[0]
    hparams = (
        None if values == [None] else {hp_name: jnp.repeat(jnp.asarray(values, jnp.float32), k)}
    )
    with Stopwatch() as sw:
        pop = train_population(
            model,
            loss,
            make_opt,
            train,
            keys=jnp.tile(keys, (len(values), 1)),
            hparams=hparams,
            epochs=epochs,
            target_loss=target_loss,
            batch_size=batch_size,
        )
    final = np.asarray(pop.history["train_loss"])[:, -1]
    summaries = []
    for i, value in enumerate(values):
        sl = slice(i * k, (i + 1) * k)
        s = summarize_population(pop.epochs_to_target[sl], epochs)
        s.update(
            hparam=hp_name if value is not None else None,
            value=value,
            final_loss_median=float(np.median(final[sl])),
            final_loss_min=float(final[sl].min()),
        )
        summaries.append(s)
    chosen = min(
        summaries,
        key=lambda s: (s["median_epochs"], -s["success_rate"], s["median_epochs_successful"]),
    )
    return {"hparam": hp_name, "grid": summaries, "best": chosen, "seconds": sw.seconds}


def hparam_label(summary: dict) -> str:
    """'lr=4', 'step_max=1' or 'defaults' for a population summary."""
    if summary.get("value") is None:
        return "defaults"
    short = {"learning_rate": "lr"}.get(summary["hparam"], summary["hparam"])
    return f"{short}={fmt(summary['value'])}"
