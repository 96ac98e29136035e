"""MNIST from the four standard IDX files in a folder, and a checksum-verified downloader.

The files (raw or ``.gz``; gzip is recognised by content, not by name)::

    train-images-idx3-ubyte   (60000, 28, 28) uint8     train-labels-idx1-ubyte   (60000,) uint8
    t10k-images-idx3-ubyte    (10000, 28, 28) uint8     t10k-labels-idx1-ubyte    (10000,) uint8

``mnist`` holds out ``val_size`` of the 60,000 training images as the validation split (Nielsen's
``mnist_loader`` uses the last 10,000, leaving 50,000 for training; ``seed=None`` reproduces that)
and keeps the 10,000 t10k images as the test split. Pixels are scaled to [0, 1] float32.

``download_mnist`` fetches the gzip files with ``urllib`` from a list of mirrors and verifies each
one twice: against the published MD5 of the original files (the same digests torchvision and most
loaders check) and by parsing it with fnnet's IDX reader and checking its shape. Without a network
it fails fast with a message saying how to place the files by hand.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import NamedTuple

import numpy as np

from fnnet.data.checks import check_int
from fnnet.data.dataset import Dataset
from fnnet.data.idx import read_idx
from fnnet.data.splits import split_counts
from fnnet.errors import DataError


class MnistFile(NamedTuple):
    """One of the four MNIST files: its role, its name (without ``.gz``), the MD5 of the
    published ``.gz`` file, and the shape it must parse to."""

    role: str
    name: str
    md5: str
    shape: tuple[int, ...]


FILES: tuple[MnistFile, ...] = (
    MnistFile(
        "train_images",
        "train-images-idx3-ubyte",
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        (60000, 28, 28),
    ),
    MnistFile(
        "train_labels", "train-labels-idx1-ubyte", "d53e105ee54ea40749a09fcbcd1e9432", (60000,)
    ),
    MnistFile(
        "test_images", "t10k-images-idx3-ubyte", "9fb629c4189551a2d022fa330f9573f3", (10000, 28, 28)
    ),
    MnistFile(
        "test_labels", "t10k-labels-idx1-ubyte", "ec29112dd5afa0611ce80d1b7f02629c", (10000,)
    ),
)

MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
IMAGE_SIDE = 28
_MAX_DOWNLOAD = 64 << 20  # the largest file is 9.9 MB; refuse a mirror that sends more


def _how_to_get(data_dir: Path) -> str:
    names = ", ".join(f"{f.name}.gz" for f in FILES)
    return (
        f"Get them with `fnnet data mnist --dir {data_dir}` (fnnet.data.download_mnist), or, "
        f"without network access, copy the four files ({names}; raw or gzip) into {data_dir} "
        f"from a machine that has them, e.g. from {MIRRORS[0]}."
    )


def find_files(data_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Map each role (``train_images``, ...) to its file in ``data_dir``, raw preferred over .gz.

    Raises :class:`DataError` naming the first missing file and how to get it.
    """
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise DataError(
            f"MNIST folder {str(root)!r} does not exist; it should hold the four MNIST files. "
            f"{_how_to_get(root)}"
        )
    found: dict[str, Path] = {}
    for f in FILES:
        for candidate in (root / f.name, root / f"{f.name}.gz"):
            if candidate.is_file():
                found[f.role] = candidate
                break
        else:
            raise DataError(
                f"MNIST file {f.name!r} (or {f.name + '.gz'!r}) is missing from {str(root)!r}. "
                f"{_how_to_get(root)}"
            )
    return found


def _load_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataError(
            f"MNIST images {str(images_path)!r} have shape {images.shape} dtype {images.dtype}; "
            f"expected (n, 28, 28) uint8. Is this the right file?"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(
            f"MNIST labels {str(labels_path)!r} have shape {labels.shape} dtype {labels.dtype}; "
            f"expected (n,) uint8. Is this the right file?"
        )
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"MNIST image and label counts differ: {str(images_path)!r} holds "
            f"{images.shape[0]} images but {str(labels_path)!r} holds {labels.shape[0]} labels. "
            f"The files come from different sets or one is damaged; download them again."
        )
    if labels.size and labels.max() > 9:
        index = int(np.argmax(labels > 9))
        raise DataError(
            f"MNIST labels {str(labels_path)!r}: label[{index}] = {int(labels[index])} is outside "
            f"the digit range 0..9. The file is damaged; download it again."
        )
    return images, labels.astype(np.int32)


def mnist(
    data_dir: str | os.PathLike[str],
    *,
    val_size: int | float = 10_000,  # noqa: PYI041 (an int count or a float fraction)
    seed: int | None = 0,
    flatten: bool = True,
) -> Dataset:
    """MNIST from the IDX files in ``data_dir``: train/val from the 60k, test = the 10k.

    Args:
      data_dir: folder holding the four files (raw or ``.gz``).
      val_size: validation examples taken from the training file: an int count, or a float
        fraction in (0, 1). 0 leaves the validation split empty. Default 10,000 (50k/10k).
      seed: ``None`` takes the *last* ``val_size`` training images as validation, in file order
        (Nielsen's / LISA's ``mnist.pkl.gz`` split); an int draws a seeded stratified split,
        identical for the same seed.
      flatten: ``True`` -> ``x: (n, 784)``; ``False`` -> NHWC ``x: (n, 28, 28, 1)``.

    Returns:
      A classification :class:`Dataset` named ``"mnist"``: ``x`` float32 in [0, 1] (pixel/255),
      ``y`` int32 in 0..9, ``num_classes=10``.

    Raises:
      DataError: a missing folder or file (the message says how to get them), corrupt IDX,
        images that are not 28x28, image/label count mismatch, labels outside 0..9, or a
        ``val_size`` that leaves no training data.
    """
    where = "mnist"
    if not isinstance(flatten, bool):
        raise DataError(f"{where}: flatten must be True or False, got {flatten!r}.")
    files = find_files(data_dir)
    x_all, y_all = _load_pair(files["train_images"], files["train_labels"])
    x_test, y_test = _load_pair(files["test_images"], files["test_labels"])
    n = x_all.shape[0]

    if isinstance(val_size, float):
        if not 0.0 <= val_size < 1.0:
            raise DataError(f"{where}: a fractional val_size must be in [0, 1), got {val_size}.")
        n_val = round(val_size * n)
    else:
        n_val = check_int("val_size", val_size, low=0, where=where)
    if n_val >= n:
        raise DataError(
            f"{where}: val_size={val_size} asks for {n_val} validation images but the training "
            f"file holds {n}; leave some for training (e.g. val_size=0.1)."
        )
    if seed is None:
        train_idx, val_idx = np.arange(n - n_val), np.arange(n - n_val, n)
    else:
        train_idx, val_idx, _ = split_counts(n, y_all, n_val=n_val, n_test=0, seed=seed)

    shape: tuple[int, ...] = (IMAGE_SIDE * IMAGE_SIDE,) if flatten else (IMAGE_SIDE, IMAGE_SIDE, 1)

    def scaled(images: np.ndarray) -> np.ndarray:
        return (images.reshape((-1, *shape)).astype(np.float32)) / np.float32(255.0)

    return Dataset(
        name="mnist",
        x_train=scaled(x_all[train_idx]),
        y_train=y_all[train_idx],
        x_val=scaled(x_all[val_idx]),
        y_val=y_all[val_idx],
        x_test=scaled(x_test),
        y_test=y_test,
        num_classes=10,
        input_shape=shape,
        task="classification",
        metadata={
            "source": str(Path(data_dir).expanduser()),
            "files": {role: p.name for role, p in files.items()},
            "val_size": n_val,
            "seed": seed,
        },
    )


# ---------------------------------------------------------------------- download


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _fetch(url: str, timeout: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        data = response.read(_MAX_DOWNLOAD + 1)
    if len(data) > _MAX_DOWNLOAD:
        raise DataError(f"{url} sent more than {_MAX_DOWNLOAD:,} bytes; not an MNIST file.")
    return data


def _verify(f: MnistFile, path: Path) -> None:
    """Check one downloaded file: MD5 of the bytes, then its parsed shape."""
    digest = _md5(path.read_bytes())
    if digest != f.md5:
        raise DataError(
            f"{path.name}: MD5 {digest} does not match the published {f.md5}; the file is "
            f"damaged or not the original MNIST file."
        )
    array = read_idx(path)
    if array.shape != f.shape or array.dtype != np.uint8:
        raise DataError(
            f"{path.name} parses to shape {array.shape} dtype {array.dtype}; expected {f.shape} "
            f"uint8."
        )


def download_mnist(
    data_dir: str | os.PathLike[str],
    *,
    mirrors: tuple[str, ...] | list[str] = MIRRORS,
    timeout: float = 10.0,
    force: bool = False,
) -> Path:
    """Download the four MNIST ``.gz`` files into ``data_dir`` and verify them; return the folder.

    Each file is tried on each mirror in turn (``mirror + name + ".gz"``), checked against its
    published MD5 and parsed with :func:`~fnnet.data.idx.read_idx` to the expected shape
    (60000/10000 images of 28x28, 60000/10000 labels), then moved into place atomically. Files
    already present and valid are kept unless ``force``.

    Raises:
      DataError: no mirror was reachable (it stops at the first file every mirror failed to
        serve, so an offline machine fails within ``len(mirrors) * timeout`` seconds at most),
        or a mirror served a file that fails verification. The message lists each attempt and
        how to place the files by hand.
    """
    root = Path(data_dir).expanduser()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"download_mnist: cannot create folder {str(root)!r}: {err}.") from None
    if not mirrors:
        raise DataError("download_mnist: the list of mirrors is empty.")

    for f in FILES:
        target = root / f"{f.name}.gz"
        if target.is_file() and not force:
            try:
                _verify(f, target)
                continue
            except DataError:
                pass  # damaged or partial: fetch it again
        attempts: list[str] = []
        unreachable = True
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + f"{f.name}.gz"
            try:
                data = _fetch(url, timeout)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                reason = getattr(err, "reason", err)
                attempts.append(f"{url}: {type(err).__name__}: {reason}")
                continue
            except (OSError, ValueError) as err:
                attempts.append(f"{url}: {type(err).__name__}: {err}")
                continue
            unreachable = False
            partial = target.with_name(target.name + ".part")
            partial.write_bytes(data)
            try:
                _verify(f, partial)
            except DataError as err:
                partial.unlink(missing_ok=True)
                attempts.append(f"{url}: {err}")
                continue
            os.replace(partial, target)
            break
        else:
            tried = "\n  ".join(attempts)
            cause = (
                "No mirror could be reached (is this machine offline?)."
                if unreachable
                else "No mirror served a file that passed verification."
            )
            raise DataError(
                f"download_mnist: could not get {f.name}.gz. {cause} Tried:\n  {tried}\n"
                f"To install MNIST by hand, copy {', '.join(g.name + '.gz' for g in FILES)} "
                f"(raw or gzip) into {str(root)!r}; fnnet.data.mnist({str(root)!r}) reads them "
                f"from there."
            )
    return root
