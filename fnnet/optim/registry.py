"""Update rules by name, for configs: ``get("irprop+")``, ``get("sgd", learning_rate=0.1)``."""

from __future__ import annotations

import functools
import inspect
from typing import Any

import optax

from fnnet.errors import ConfigError
from fnnet.optim._common import closest
from fnnet.optim.quickprop import quickprop
from fnnet.optim.rprop import RPROP_VARIANTS, rprop
from fnnet.optim.second_order import lbfgs
from fnnet.optim.sgd import momentum, nesterov, sgd

_FACTORIES = {
    "sgd": sgd,
    "momentum": momentum,
    "nesterov": nesterov,
    "rprop": rprop,
    "quickprop": quickprop,
    "lbfgs": lbfgs,
    **{variant: functools.partial(rprop, variant) for variant in RPROP_VARIANTS},
}

#: fnnet's own rule names; any other name is looked up in optax.
NAMES: tuple[str, ...] = tuple(_FACTORIES)

_OPTAX_PREFIX = "optax."


def _optax_names() -> list[str]:
    return [n for n in getattr(optax, "__all__", ()) if n.islower() and not n.startswith("_")]


def _build(label: str, factory, kwargs: dict[str, Any]) -> optax.GradientTransformation:
    try:
        return factory(**kwargs)
    except TypeError as err:
        target = factory.func if isinstance(factory, functools.partial) else factory
        raise ConfigError(
            f"get({label!r}): {err}; its signature is {target.__name__}{inspect.signature(target)}"
        ) from err


def get(name: str, **kwargs: Any) -> optax.GradientTransformation:
    """The update rule called ``name``, built with ``kwargs``.

    fnnet names (:data:`NAMES`): ``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"rprop"``, the
    variant shorthands ``"rprop+"``, ``"rprop-"``, ``"irprop+"``, ``"irprop-"`` (=
    ``rprop(variant=name, ...)``), ``"quickprop"``, ``"lbfgs"`` (optax's). Any other name, or a
    name written ``"optax.<name>"``, is passed through to the optax factory of that name
    (``get("adam", learning_rate=1e-3)`` is ``optax.adam(learning_rate=1e-3)``). Names are
    case-insensitive.

    Args:
      name: the rule's name.
      **kwargs: the factory's arguments.

    Returns:
      An ``optax.GradientTransformation`` (``GradientTransformationExtraArgs`` for Rprop and
      L-BFGS).

    Raises:
      ConfigError: unknown name (with the closest valid one), bad arguments (with the factory's
        signature), a variant shorthand given a different ``variant=``, or an optax attribute that
        is not an optimizer factory.
    """
    if not isinstance(name, str):
        raise ConfigError(f"optimizer name must be a string, got {name!r}")
    key = name.strip().lower()
    if key in RPROP_VARIANTS and kwargs.get("variant", key) != key:
        raise ConfigError(
            f"get({name!r}) already names the Rprop variant, but variant={kwargs['variant']!r} "
            f"was also given; use get('rprop', variant=...) or drop variant="
        )
    if key in RPROP_VARIANTS:
        kwargs = {k: v for k, v in kwargs.items() if k != "variant"}
    if key in _FACTORIES:
        return _build(name, _FACTORIES[key], kwargs)
    optax_key = key.removeprefix(_OPTAX_PREFIX)
    factory = getattr(optax, optax_key, None) if not optax_key.startswith("_") else None
    if factory is None or not callable(factory) or inspect.isclass(factory):
        valid = list(NAMES) + _optax_names()
        raise ConfigError(
            f"unknown optimizer {name!r}{closest(key, valid)}; fnnet provides "
            f"{', '.join(NAMES)}, and any optax optimizer can be named (e.g. 'adam')"
        )
    tx = _build(name, factory, kwargs)
    if not isinstance(tx, optax.GradientTransformation):
        raise ConfigError(
            f"get({name!r}): optax.{optax_key} is not an optimizer factory (it returned "
            f"{type(tx).__name__}, not an optax.GradientTransformation)"
        )
    return tx
