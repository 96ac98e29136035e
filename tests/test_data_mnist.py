"""MNIST loading from small fake IDX files, its errors, and the downloader (no network used)."""

from __future__ import annotations

import hashlib
import importlib
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from fnnet.data import download_mnist, mnist, read_idx, write_idx
from fnnet.errors import DataError

# The package exports the function ``mnist``, which shadows the module of the same name.
mnist_module = importlib.import_module("fnnet.data.mnist")

N_TRAIN, N_TEST = 30, 10


def fake_images(n: int, offset: int) -> np.ndarray:
    """(n, 28, 28) uint8; image i has pixel (0, 0) = offset + i, so it can be identified."""
    rng = np.random.default_rng(offset)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    images[:, 0, 0] = offset + np.arange(n)
    return images


def fake_labels(n: int) -> np.ndarray:
    return (np.arange(n) % 10).astype(np.uint8)


def write_fake(folder, *, compress: bool, n_train=N_TRAIN, n_test=N_TEST, **override):
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": fake_images(n_train, 0),
        "train-labels-idx1-ubyte": fake_labels(n_train),
        "t10k-images-idx3-ubyte": fake_images(n_test, 100),
        "t10k-labels-idx1-ubyte": fake_labels(n_test),
    }
    arrays.update(override)
    for name, array in arrays.items():
        write_idx(folder / (name + (".gz" if compress else "")), array, gzip=compress)
    return arrays


@pytest.mark.parametrize("compress", [False, True])
def test_loads_scales_and_splits(tmp_path, compress):
    arrays = write_fake(tmp_path, compress=compress)
    ds = mnist(tmp_path, val_size=5)
    assert (ds.n_train, ds.n_val, ds.n_test) == (25, 5, 10)
    assert ds.input_shape == (784,) and ds.num_classes == 10
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    images, labels = arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"]
    # Identify each example by its pixel (0, 0): train + val is a partition of the 30 images.
    ids = np.round(np.concatenate([ds.x_train, ds.x_val])[:, 0] * 255).astype(int)
    np.testing.assert_array_equal(np.sort(ids), np.arange(N_TRAIN))
    np.testing.assert_array_equal(np.concatenate([ds.y_train, ds.y_val]), labels[ids])
    np.testing.assert_array_equal(
        np.concatenate([ds.x_train, ds.x_val]), images[ids].reshape(-1, 784) / np.float32(255)
    )
    np.testing.assert_array_equal(
        ds.x_test, arrays["t10k-images-idx3-ubyte"].reshape(-1, 784) / np.float32(255)
    )
    np.testing.assert_array_equal(ds.y_test, np.arange(N_TEST) % 10)


def test_seed_none_is_the_file_order_split(tmp_path):
    write_fake(tmp_path, compress=False)
    ds = mnist(tmp_path, val_size=10, seed=None)
    np.testing.assert_array_equal(np.round(ds.x_train[:, 0] * 255), np.arange(20))
    np.testing.assert_array_equal(np.round(ds.x_val[:, 0] * 255), np.arange(20, 30))


def test_seeded_split_is_reproducible_and_fraction_accepted(tmp_path):
    write_fake(tmp_path, compress=True)
    a, b = mnist(tmp_path, val_size=0.2, seed=3), mnist(tmp_path, val_size=0.2, seed=3)
    assert a.n_val == 6
    np.testing.assert_array_equal(a.x_val, b.x_val)
    assert not np.array_equal(a.x_val, mnist(tmp_path, val_size=0.2, seed=4).x_val)
    assert mnist(tmp_path, val_size=0).n_val == 0


def test_nhwc(tmp_path):
    write_fake(tmp_path, compress=False)
    ds = mnist(tmp_path, val_size=5, flatten=False)
    assert ds.input_shape == (28, 28, 1) and ds.x_test.shape == (10, 28, 28, 1)


def test_missing_folder_and_file_say_how_to_get_them(tmp_path):
    with pytest.raises(DataError, match="does not exist") as err:
        mnist(tmp_path / "absent")
    assert "fnnet data mnist --dir" in str(err.value)
    write_fake(tmp_path, compress=True)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="'t10k-labels-idx1-ubyte'.*missing") as err:
        mnist(tmp_path, val_size=5)
    assert "fnnet data mnist --dir" in str(err.value) and "copy" in str(err.value)


def test_label_count_mismatch_names_both_counts(tmp_path):
    write_fake(tmp_path, compress=False, **{"train-labels-idx1-ubyte": fake_labels(29)})
    with pytest.raises(DataError, match="30 images.*29 labels"):
        mnist(tmp_path, val_size=5)


def test_labels_out_of_range(tmp_path):
    labels = fake_labels(N_TEST)
    labels[7] = 10
    write_fake(tmp_path, compress=False, **{"t10k-labels-idx1-ubyte": labels})
    with pytest.raises(DataError, match=r"label\[7\] = 10.*0\.\.9"):
        mnist(tmp_path, val_size=5)


def test_images_must_be_28x28_uint8(tmp_path):
    write_fake(
        tmp_path, compress=False, **{"train-images-idx3-ubyte": np.zeros((30, 27, 28), np.uint8)}
    )
    with pytest.raises(DataError, match=r"\(30, 27, 28\).*\(n, 28, 28\) uint8"):
        mnist(tmp_path, val_size=5)
    write_fake(
        tmp_path, compress=False, **{"train-images-idx3-ubyte": np.zeros((30, 28, 28), np.float32)}
    )
    with pytest.raises(DataError, match="float32"):
        mnist(tmp_path, val_size=5)


def test_corrupt_file_is_a_data_error(tmp_path):
    write_fake(tmp_path, compress=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated"):
        mnist(tmp_path, val_size=5)


@pytest.mark.parametrize("val_size", [30, 1.0, -1, "5"])
def test_bad_val_size(tmp_path, val_size):
    write_fake(tmp_path, compress=False)
    with pytest.raises(DataError, match="val_size"):
        mnist(tmp_path, val_size=val_size)


# ---------------------------------------------------------------------- download


def test_download_fails_fast_and_clearly_without_network(tmp_path, monkeypatch):
    calls = []

    def offline(url, timeout):
        calls.append(url)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    start = time.perf_counter()
    with pytest.raises(DataError, match="No mirror could be reached") as err:
        download_mnist(tmp_path / "mnist")
    assert time.perf_counter() - start < 1.0
    assert len(calls) == len(mnist_module.MIRRORS)  # stops after the first file
    msg = str(err.value)
    assert "train-images-idx3-ubyte.gz" in msg and "copy" in msg and "name resolution" in msg


def _serve_fakes(tmp_path, monkeypatch):
    """A file:// mirror holding small fake .gz files, with FILES patched to their digests."""
    mirror = tmp_path / "mirror"
    arrays = write_fake(mirror, compress=True)
    files = tuple(
        f._replace(
            md5=hashlib.md5((mirror / f"{f.name}.gz").read_bytes()).hexdigest(),
            shape=arrays[f.name].shape,
        )
        for f in mnist_module.FILES
    )
    monkeypatch.setattr(mnist_module, "FILES", files)
    return mirror.as_uri() + "/"


def test_download_verifies_and_installs(tmp_path, monkeypatch):
    mirror = _serve_fakes(tmp_path, monkeypatch)
    target = download_mnist(tmp_path / "data", mirrors=["file:///nonexistent/", mirror])
    assert sorted(p.name for p in target.iterdir()) == sorted(
        f"{f.name}.gz" for f in mnist_module.FILES
    )
    assert mnist(target, val_size=5).n_test == N_TEST
    # A second call keeps the verified files and fetches nothing.
    assert download_mnist(target, mirrors=["file:///nonexistent/"]) == target


def test_download_rejects_a_bad_checksum(tmp_path, monkeypatch):
    mirror = _serve_fakes(tmp_path, monkeypatch)
    files = list(mnist_module.FILES)
    files[0] = files[0]._replace(md5="0" * 32)
    monkeypatch.setattr(mnist_module, "FILES", tuple(files))
    with pytest.raises(DataError, match="MD5 .* does not match") as err:
        download_mnist(tmp_path / "data", mirrors=[mirror])
    assert "passed verification" in str(err.value)
    assert not list((tmp_path / "data").iterdir())  # nothing half-written left behind


def test_published_checksums_and_shapes():
    table = {f.name: (f.md5, f.shape) for f in mnist_module.FILES}
    assert table["train-images-idx3-ubyte"] == ("f68b3c2dcbeaaa9fbdd348bbdeb94873", (60000, 28, 28))
    assert table["t10k-labels-idx1-ubyte"] == ("ec29112dd5afa0611ce80d1b7f02629c", (10000,))


def test_read_idx_reads_fake_files(tmp_path):
    write_fake(tmp_path, compress=True)
    assert read_idx(tmp_path / "train-images-idx3-ubyte.gz").shape == (30, 28, 28)
