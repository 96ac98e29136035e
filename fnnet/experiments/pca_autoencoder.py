"""A linear autoencoder finds PCA's subspace; non-linear ones beside it.

The notes: an n-M-n network with linear hidden and output units trained by backprop on the
reconstruction error ("PCA by MLP, inefficiently") has M hidden units that "span the same space as
the first M components found by PCA". On the 8x8 digits (centred with the training mean):

- PCA: the top-M right singular vectors V_M of the centred training matrix (SVD).
- Linear autoencoder 64-M-64 (Dense, Identity, Dense, Identity), E = sse, trained full-batch with
  L-BFGS (``optim.minimize_lbfgs``) on gradients from the hand-derived backward pass
  (``backprop.as_custom_vjp``). Principal angles between its decoder's column space (the rows of
  W_dec, the directions the code is written along) and V_M: ``scipy.linalg.subspace_angles`` when
  scipy is installed, else the arccos of the singular values of Q1^T Q2. The hidden units are
  compared the same way: the span of their activations over the training set, X W_enc (n x M),
  against the PCA scores X V_M. (The encoder's own columns are not: components along pixels that
  are always 0, or along directions of tiny variance, barely touch the loss, so nothing trains
  them to V_M -- their angle is reported for completeness.)
- Non-linear autoencoders, same optimiser: 64-M-64 with a tanh bottleneck, and a deep
  64-32-M-32-64 tanh net. Test reconstruction error against PCA's at the same M.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from fnnet import backprop, data, losses, optim
from fnnet import layers as L
from fnnet.experiments import _common

NAME = "pca_autoencoder"


@dataclasses.dataclass(frozen=True)
class Config:
    codes: tuple[int, ...] = (2, 4, 8, 16)
    linear_iters: int = 2000
    nonlinear_iters: int = 2000
    deep_hidden: int = 32  # 0: no deep autoencoder
    tol: float = 1e-6
    seed: int = 0

    @classmethod
    def smoke(cls) -> Config:
        return cls(codes=(4,), linear_iters=500, nonlinear_iters=200, deep_hidden=0)


def principal_angles(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Principal angles (degrees, ascending) between the column spaces of A (n, p) and B (n, q)."""
    try:
        from scipy.linalg import subspace_angles
    except ImportError:  # pragma: no cover - scipy ships with scikit-learn
        return principal_angles_svd(A, B)
    return np.sort(np.degrees(subspace_angles(A, B)))


def principal_angles_svd(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """The same by hand: orthonormal bases Q1, Q2 (QR), then arccos of the singular values of
    Q1^T Q2 (Björck & Golub 1973). Less accurate than scipy's for tiny angles (cos ~ 1)."""
    q1, _ = np.linalg.qr(np.asarray(A, np.float64))
    q2, _ = np.linalg.qr(np.asarray(B, np.float64))
    s = np.linalg.svd(q1.T @ q2, compute_uv=False)
    return np.sort(np.degrees(np.arccos(np.clip(s, -1.0, 1.0))))


def train_lbfgs(model, x, key, max_iter: int, tol: float):
    """Minimise E = sse(model(x), x) with L-BFGS on the manual-backprop gradient."""
    apply = backprop.as_custom_vjp(model)
    _, params = model.init(key, (-1, x.shape[1]))

    def loss_fn(p):
        return losses.sse(apply(p, x), x)

    params, E, steps = jax.jit(
        lambda p: optim.minimize_lbfgs(loss_fn, p, max_iter=max_iter, tol=tol)
    )(params)
    return params, float(E), int(steps)


def per_pattern_error(model, params, x) -> float:
    """E_TOTAL / n = mean over patterns of 1/2 ||x_hat - x||^2."""
    return float(losses.sse(model.apply(params, x), x)) / x.shape[0]


def run(cfg: Config) -> dict:
    ds = data.digits(seed=cfg.seed)
    mean = ds.x_train.mean(axis=0)
    x_np, xt_np = (ds.x_train - mean).astype(np.float32), (ds.x_test - mean).astype(np.float32)
    x, xt = jnp.asarray(x_np), jnp.asarray(xt_np)
    _, s, vt = np.linalg.svd(x_np.astype(np.float64), full_matrices=False)
    rank = int(np.sum(s > s[0] * 1e-6))
    key = jax.random.PRNGKey(cfg.seed)
    per_m = []
    for M in cfg.codes:
        V = vt[:M].T
        pca = {
            "train": 0.5 * float(np.sum(s[M:] ** 2)) / x_np.shape[0],
            "test": 0.5 * float(np.sum((xt_np - xt_np @ V @ V.T) ** 2)) / xt_np.shape[0],
        }
        row = {"M": M, "pca": pca}
        lin = L.serial(L.Dense(M), L.Identity(), L.Dense(64), L.Identity())
        with _common.Stopwatch() as sw:
            p, E, steps = train_lbfgs(lin, x, key, cfg.linear_iters, cfg.tol)
        W_enc, W_dec = np.asarray(p[0]["W"], np.float64), np.asarray(p[2]["W"], np.float64)
        dec = principal_angles(W_dec.T, V)
        hid = principal_angles(x_np @ W_enc, x_np @ V)
        row["linear"] = {
            "train": E / x_np.shape[0],
            "test": per_pattern_error(lin, p, xt),
            "lbfgs_steps": steps,
            "decoder_angles_deg": dec.tolist(),
            "decoder_angles_svd_deg": principal_angles_svd(W_dec.T, V).tolist(),
            "hidden_angles_deg": hid.tolist(),
            "encoder_columns_max_angle_deg": float(principal_angles(W_enc, V).max()),
            "seconds": sw.seconds,
        }
        nonlinear = {"tanh": L.serial(L.Dense(M), L.Tanh(), L.Dense(64))}
        if cfg.deep_hidden:
            h = cfg.deep_hidden
            nonlinear["deep tanh"] = L.serial(
                L.Dense(h), L.Tanh(), L.Dense(M), L.Tanh(), L.Dense(h), L.Tanh(), L.Dense(64)
            )
        for name, model in nonlinear.items():
            with _common.Stopwatch() as sw:
                p, E, steps = train_lbfgs(model, x, key, cfg.nonlinear_iters, cfg.tol)
            row[name] = {
                "model": repr(model),
                "train": E / x_np.shape[0],
                "test": per_pattern_error(model, p, xt),
                "lbfgs_steps": steps,
                "seconds": sw.seconds,
            }
        print(
            f"  M={M:3d}: PCA test {pca['test']:.4f}, linear AE {row['linear']['test']:.4f} (decoder max angle "
            f"{dec.max():.3g} deg), " + ", ".join(f"{n} {row[n]['test']:.4f}" for n in nonlinear),
            flush=True,
        )
        per_m.append(row)
    return {
        "n_train": ds.n_train,
        "n_test": ds.n_test,
        "data_rank": rank,
        "per_code_size": per_m,
        "summary": {
            "max_decoder_angle_deg": max(max(r["linear"]["decoder_angles_deg"]) for r in per_m),
            "max_hidden_angle_deg": max(max(r["linear"]["hidden_angles_deg"]) for r in per_m),
            "linear_over_pca_test_error": [r["linear"]["test"] / r["pca"]["test"] for r in per_m],
            "tanh_over_pca_test_error": [r["tanh"]["test"] / r["pca"]["test"] for r in per_m],
            "deep_over_pca_test_error": [
                r["deep tanh"]["test"] / r["pca"]["test"] for r in per_m if "deep tanh" in r
            ],
        },
    }


def plot(results: dict, out: Path) -> list[Path]:
    plt = _common.pyplot()
    rows = results["per_code_size"]
    Ms = [r["M"] for r in rows]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    a1.plot(Ms, [r["pca"]["test"] for r in rows], "k-", lw=2, label="PCA (top-M subspace)")
    a1.plot(Ms, [r["linear"]["test"] for r in rows], "o--", label="linear AE (L-BFGS)")
    for name in ("tanh", "deep tanh"):
        if name in rows[0]:
            a1.plot(Ms, [r[name]["test"] for r in rows], "s-", ms=4, label=f"{name} AE")
    a1.set(
        xlabel="code size M",
        ylabel="test error, 1/2 ||x_hat - x||^2 per image",
        xscale="log",
        yscale="log",
        title="reconstruction on held-out digits",
    )
    a1.set_xticks(Ms, [str(m) for m in Ms])
    a1.set_xticks([], minor=True)
    a1.legend(fontsize=8)
    a2.semilogy(
        Ms,
        [max(r["linear"]["decoder_angles_deg"]) for r in rows],
        "o-",
        label="decoder, largest angle",
    )
    a2.semilogy(
        Ms,
        [min(r["linear"]["decoder_angles_deg"]) for r in rows],
        "o:",
        label="decoder, smallest angle",
    )
    a2.semilogy(
        Ms,
        [max(r["linear"]["hidden_angles_deg"]) for r in rows],
        "s-",
        label="hidden activations, largest",
    )
    a2.semilogy(
        Ms,
        [r["linear"]["encoder_columns_max_angle_deg"] for r in rows],
        "^:",
        label="encoder columns, largest",
    )
    a2.set(
        xlabel="code size M",
        ylabel="principal angle to PCA subspace (deg)",
        xscale="log",
        title="linear AE subspace vs PCA's top M",
    )
    a2.set_xticks(Ms, [str(m) for m in Ms])
    a2.set_xticks([], minor=True)
    a2.legend(fontsize=8, loc="center right")
    return [_common.save_figure(fig, Path(out) / "pca_autoencoder.png")]


def table(results: dict) -> str:
    rows = []
    for r in results["per_code_size"]:
        lin = r["linear"]
        rows.append(
            (
                r["M"],
                r["pca"]["test"],
                lin["test"],
                max(lin["decoder_angles_deg"]),
                max(lin["hidden_angles_deg"]),
                r["tanh"]["test"],
                r["deep tanh"]["test"] if "deep tanh" in r else "-",
            )
        )
    return (
        _common.format_table(
            [
                "M",
                "PCA test err",
                "linear AE",
                "max angle dec (deg)",
                "max angle hidden (deg)",
                "tanh AE",
                "deep tanh AE",
            ],
            rows,
        )
        + f"\n(per-image test error 1/2||x_hat - x||^2 on {results['n_test']} held-out digits; data rank {results['data_rank']})"
    )


def main(argv: list[str] | None = None) -> int:
    return _common.main(NAME, Config, run, plot, table, argv, doc=__doc__)


if __name__ == "__main__":
    raise SystemExit(main())
