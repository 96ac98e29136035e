"""Type aliases shared across fnnet."""

from __future__ import annotations

from typing import Any

import jax

Array = jax.Array
PRNGKey = jax.Array
Shape = tuple[int, ...]
Params = Any  # a pytree of arrays: dict / tuple / () nested
