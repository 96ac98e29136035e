"""Test configuration: JAX is strict here, so silent bugs in hand-written backward passes fail.

- ``jax_numpy_rank_promotion="raise"``: a backward pass that broadcasts (b, n) against (n,) by
  accident raises instead of summing the wrong thing.
- ``jax_enable_x64``: float64 is available as the referee dtype (finite differences, 1e-10 checks).
  Library code is dtype-preserving, so float32 tests pass float32 arrays explicitly.
"""

from __future__ import annotations

import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, Phase, settings  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")

settings.register_profile(
    "fnnet",
    deadline=None,
    max_examples=10,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
    # Each new shape costs an XLA compile: shrinking a failure would take many minutes. The failing
    # example is printed as drawn; run with FNNET_HYPOTHESIS_PROFILE=thorough to shrink it.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
settings.register_profile(
    "thorough",
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("FNNET_HYPOTHESIS_PROFILE", "fnnet"))


@pytest.fixture(scope="module")
def compilation_cache(tmp_path_factory):
    """One persistent XLA cache for the module (for tests that run the CLI, which turns it on):
    repeated programs compile once. Modules opt in with
    ``pytestmark = pytest.mark.usefixtures("compilation_cache")``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FNNET_COMPILATION_CACHE", str(tmp_path_factory.getbasetemp() / "fnnet-xla"))
        yield
