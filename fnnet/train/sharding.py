"""Data parallelism with JAX's own sharding: a ``Mesh``, the batch split over it, params replicated.

Under ``jit``, arrays carry shardings and XLA's SPMD partitioner inserts the collectives: each
device computes the delta rule on its slice of the mini-batch and the parameter gradient
(a sum over patterns) is all-reduced, so every device applies the same update. Nothing here is a
home-made collective.

Single host::

    mesh = make_mesh()                      # all local devices on one "data" axis
    result = fit(..., mesh=mesh)            # batch_size must be a multiple of mesh.size

Several hosts (one process per host, same program)::

    jax.distributed.initialize()            # coordinator address / process ids from the env
    mesh = make_mesh()                      # jax.devices() now lists every host's devices
    # each host passes the same full arrays (or build global arrays with
    # jax.make_array_from_process_local_data for datasets too large for one host).

Test on a CPU with ``XLA_FLAGS=--xla_force_host_platform_device_count=4``.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from fnnet.errors import ConfigError

DATA_AXIS = "data"


def make_mesh(n_devices: int | None = None, axis: str = DATA_AXIS) -> Mesh:
    """A 1-D mesh over the first ``n_devices`` devices (all by default)."""
    devices = jax.devices()
    n = len(devices) if n_devices is None else n_devices
    if not 1 <= n <= len(devices):
        raise ConfigError(f"make_mesh(n_devices={n_devices}): {len(devices)} device(s) available.")
    return Mesh(np.asarray(devices[:n]), (axis,))


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array (params, optimizer state, the dataset)."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh, axis: str | None = None) -> NamedSharding:
    """For ``(steps, batch, ...)`` arrays: the batch axis split across ``axis`` of the mesh."""
    return NamedSharding(mesh, PartitionSpec(None, axis or mesh.axis_names[0]))


def check_divisible(batch_size: int, mesh: Mesh) -> None:
    if batch_size % mesh.size:
        raise ConfigError(
            f"batch_size={batch_size} is not a multiple of the {mesh.size} devices of the mesh; "
            f"use a batch size divisible by {mesh.size}."
        )


def place(tree: Any, mesh: Mesh) -> Any:
    """``device_put`` every array of ``tree`` replicated on ``mesh``."""
    return jax.device_put(tree, replicated(mesh))
