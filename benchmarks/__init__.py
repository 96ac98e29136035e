"""fnnet benchmarks: ``python -m benchmarks [--quick] [--only w1,w3] [--repeats N] [--out DIR]``.

Workloads (see benchmarks/README.md): W1 Nielsen 784-30-10 SGD epoch, W2 784-1024-1024-10
throughput (TFLOP/s, optional bf16), W3 full-batch iRprop- on digits, W4 populations (vmap) vs
sequential, W5 manual backprop vs jax.grad (with compiled-HLO kernel counts). Peers (raw JAX +
optax, Flax, Equinox, PyTorch, NumPy) are optional: a peer that cannot be imported is skipped with
the reason.
"""
