"""Datasets: the ``Dataset`` record, the loaders, and the ``load(name, **kwargs)`` registry.

Every loader returns a validated :class:`Dataset` of NumPy arrays (``x`` float32, ``y`` int32
class ids or float32 targets). Configs name a dataset and its keyword arguments::

    ds = load("digits", seed=1, flatten=False)
    ds = load("mnist", data_dir="~/data/mnist")
    ds = load("parity", n_bits=4)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from fnnet.data.checks import one_hot
from fnnet.data.dataset import Dataset, Task
from fnnet.data.digits import digits
from fnnet.data.idx import encode_idx, read_idx, write_idx
from fnnet.data.mnist import download_mnist, mnist
from fnnet.data.mnist1d import mnist1d
from fnnet.data.splits import split, split_counts, split_indices
from fnnet.data.synthetic import TARGETS, encoder, parity, regression_1d, two_spirals, xor
from fnnet.errors import DataError, closest_name

LOADERS: dict[str, Callable[..., Dataset]] = {
    "digits": digits,
    "mnist": mnist,
    "mnist1d": mnist1d,
    "xor": xor,
    "parity": parity,
    "encoder": encoder,
    "two_spirals": two_spirals,
    "regression_1d": regression_1d,
}


def names() -> tuple[str, ...]:
    """The dataset names :func:`load` accepts, in registry order."""
    return tuple(LOADERS)


def keywords(name: str) -> tuple[str, ...]:
    """The keyword arguments the loader ``name`` accepts."""
    return tuple(inspect.signature(_loader(name)).parameters)


def _loader(name: str) -> Callable[..., Dataset]:
    if not isinstance(name, str) or name not in LOADERS:
        close = closest_name(name, LOADERS)
        hint = f" Did you mean {close!r}?" if close else ""
        raise DataError(f"Unknown dataset {name!r}.{hint} Valid names: {', '.join(LOADERS)}.")
    return LOADERS[name]


def load(name: str, **kwargs: Any) -> Dataset:
    """Build the dataset ``name`` with the loader's keyword arguments (all passed by keyword).

    Raises:
      DataError: an unknown name (listing the valid ones and the closest match), a keyword the
        loader does not accept (listing those it does), a required keyword left out, or any
        error of the loader itself.
    """
    loader = _loader(name)
    params = inspect.signature(loader).parameters
    accepted = tuple(params)
    unknown = [k for k in kwargs if k not in params]
    if unknown:
        hints = []
        for k in unknown:
            close = closest_name(k, accepted)
            hints.append(f"{k!r}" + (f" (did you mean {close!r}?)" if close else ""))
        raise DataError(
            f"Dataset {name!r} does not accept the keyword(s) {', '.join(hints)}; it accepts: "
            f"{', '.join(accepted) or '(none)'}."
        )
    missing = [
        k for k, p in params.items() if p.default is inspect.Parameter.empty and k not in kwargs
    ]
    if missing:
        raise DataError(
            f"Dataset {name!r} needs the keyword(s) {', '.join(missing)}, e.g. "
            f"load({name!r}, {missing[0]}=...)."
        )
    return loader(**kwargs)


__all__ = [
    "LOADERS",
    "TARGETS",
    "Dataset",
    "Task",
    "digits",
    "download_mnist",
    "encode_idx",
    "encoder",
    "keywords",
    "load",
    "mnist",
    "mnist1d",
    "names",
    "one_hot",
    "parity",
    "read_idx",
    "regression_1d",
    "split",
    "split_counts",
    "split_indices",
    "two_spirals",
    "write_idx",
    "xor",
]
