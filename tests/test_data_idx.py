"""The IDX reader and writer: round trips, every corruption path, and fuzzing (only DataError)."""

from __future__ import annotations

import gzip
import struct
import time
import tracemalloc

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fnnet.data.idx import IDX_DTYPES, encode_idx, read_idx, write_idx
from fnnet.errors import DataError

NATIVE = {code: dt.newbyteorder("=") for code, dt in IDX_DTYPES.items()}


def header(code: int, dims: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}i", *dims)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


# ---------------------------------------------------------------------- round trips


@given(
    data=st.data(),
    code=st.sampled_from(sorted(IDX_DTYPES)),
    shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
    compress=st.booleans(),
)
def test_round_trip_every_type_code_and_shape(data, code, shape, compress):
    array = data.draw(hnp.arrays(NATIVE[code], shape))
    raw = encode_idx(array)
    assert raw[:4] == bytes([0, 0, code, len(shape)])
    blob = gzip.compress(raw) if compress else raw
    back = read_idx(blob)
    assert same_bits(back, array)  # bit-exact, NaN payloads and -0.0 included
    assert back.dtype.isnative and back.flags.writeable


@pytest.mark.parametrize("code", sorted(IDX_DTYPES))
@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_through_files(tmp_path, code, compress):
    rng = np.random.default_rng(code)
    array = (rng.standard_normal((3, 4, 5)) * 50).astype(NATIVE[code])
    path = write_idx(tmp_path / "a.idx", array, gzip=compress)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    assert same_bits(read_idx(path), array)
    assert same_bits(read_idx(str(path)), array)


def test_big_endian_layout_on_disk():
    blob = encode_idx(np.array([1, 256], dtype=np.int16))
    assert blob == bytes([0, 0, 0x0B, 1, 0, 0, 0, 2, 0x00, 0x01, 0x01, 0x00])


def test_gzip_detected_by_content_not_name(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    (tmp_path / "raw.gz").write_bytes(encode_idx(array))  # raw bytes, .gz name
    (tmp_path / "packed").write_bytes(gzip.compress(encode_idx(array)))  # gzip, no suffix
    assert same_bits(read_idx(tmp_path / "raw.gz"), array)
    assert same_bits(read_idx(tmp_path / "packed"), array)


def test_gzip_output_is_deterministic(tmp_path):
    array = np.arange(100, dtype=np.float32)
    a = write_idx(tmp_path / "a", array, gzip=True).read_bytes()
    time.sleep(0.01)
    b = write_idx(tmp_path / "b", array, gzip=True).read_bytes()
    assert a == b


def test_empty_dimension_round_trips():
    array = np.zeros((0, 28, 28), dtype=np.uint8)
    assert read_idx(encode_idx(array)).shape == (0, 28, 28)


@pytest.mark.parametrize(
    "array",
    [
        np.arange(3, dtype=np.int64),
        np.ones(2, dtype=bool),
        np.float16([1.0]),
        np.array(5, np.uint8),
    ],
    ids=["int64", "bool", "float16", "0-d"],
)
def test_write_refuses_what_idx_cannot_store(tmp_path, array):
    with pytest.raises(DataError, match="IDX"):
        write_idx(tmp_path / "x", array)


# ---------------------------------------------------------------------- corrupt files


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_data_names_expected_and_actual_bytes(compress):
    raw = encode_idx(np.arange(24, dtype=np.float32).reshape(2, 3, 4))  # 16 + 96 bytes
    blob = raw[:-5]
    with pytest.raises(DataError, match="truncated") as err:
        read_idx(gzip.compress(blob) if compress else blob)
    assert "96 data bytes" in str(err.value) and "91" in str(err.value)


@pytest.mark.parametrize("compress", [False, True])
def test_trailing_bytes_are_refused(compress):
    blob = encode_idx(np.arange(6, dtype=np.uint8)) + b"\x00"
    with pytest.raises(DataError, match="trailing") as err:
        read_idx(gzip.compress(blob) if compress else blob)
    assert "6 data bytes" in str(err.value)


def test_truncated_header():
    with pytest.raises(DataError, match="inside its header"):
        read_idx(header(0x08, (5, 5))[:9])
    with pytest.raises(DataError, match="too short"):
        read_idx(b"\x00\x00")


def test_bad_magic_shows_the_bytes():
    with pytest.raises(DataError, match="magic") as err:
        read_idx(b"\x01\x00\x08\x01\x00\x00\x00\x01\x07")
    assert "01 00 08 01" in str(err.value)
    with pytest.raises(DataError, match="magic"):
        read_idx(b"PK\x03\x04 a zip file")


def test_unknown_type_code_and_zero_dims():
    with pytest.raises(DataError, match="0x0A"):
        read_idx(bytes([0, 0, 0x0A, 1, 0, 0, 0, 1, 7]))
    with pytest.raises(DataError, match="0 dimensions"):
        read_idx(bytes([0, 0, 0x08, 0]))


def test_negative_dimension():
    with pytest.raises(DataError, match="negative"):
        read_idx(header(0x08, (-1, 4)))


def test_corrupt_gzip_stream():
    packed = bytearray(gzip.compress(encode_idx(np.arange(1000, dtype=np.int32))))
    packed[len(packed) // 2] ^= 0xFF
    with pytest.raises(DataError):
        read_idx(bytes(packed))
    with pytest.raises(DataError, match="gzip"):
        read_idx(b"\x1f\x8bnot really gzip")


def test_max_bytes_limit():
    blob = encode_idx(np.zeros(1000, dtype=np.uint8))
    with pytest.raises(DataError, match="max_bytes"):
        read_idx(blob, max_bytes=999)
    assert read_idx(blob, max_bytes=1000).shape == (1000,)


@pytest.mark.parametrize("compress", [False, True])
def test_absurd_header_is_refused_before_allocating(tmp_path, compress):
    # 10^12 ubyte items claimed by a 12-byte header with no data behind it. max_bytes is raised
    # out of the way, so the refusal must come from comparing with what the file can hold.
    blob = header(0x08, (1_000_000, 1_000_000))
    blob = gzip.compress(blob) if compress else blob
    path = tmp_path / "absurd"
    path.write_bytes(blob)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(DataError, match="1,000,000,000,000") as err:
            read_idx(path, max_bytes=10**15)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 1 << 20  # well under a megabyte
    assert ("decompresses to at most" if compress else "truncated") in str(err.value)


def test_missing_file_directory_and_wrong_type(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_idx(tmp_path / "nope")
    with pytest.raises(DataError, match="cannot be opened"):
        read_idx(tmp_path)
    with pytest.raises(DataError, match="path or the file's bytes"):
        read_idx(12345)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- fuzzing


def _read_or_data_error(blob: bytes) -> None:
    """The reader's whole contract on hostile input: an array or a DataError, quickly."""
    start = time.perf_counter()
    try:
        out = read_idx(blob)
    except DataError:
        pass
    else:
        assert isinstance(out, np.ndarray)
        assert out.nbytes <= 1032 * len(blob)
    assert time.perf_counter() - start < 2.0


@given(blob=st.binary(max_size=300))
def test_fuzz_random_bytes(blob):
    _read_or_data_error(blob)
    _read_or_data_error(b"\x00\x00" + blob)  # past the magic check
    _read_or_data_error(gzip.compress(blob))  # past the gzip layer


@given(
    data=st.data(),
    code=st.sampled_from(sorted(IDX_DTYPES)),
    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4),
    compress=st.booleans(),
)
def test_fuzz_mutated_valid_files(data, code, shape, compress):
    array = np.arange(int(np.prod(shape)), dtype=NATIVE[code]).reshape(shape)
    blob = bytearray(encode_idx(array))
    if compress:
        blob = bytearray(gzip.compress(bytes(blob)))
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
        at = data.draw(st.integers(0, max(len(blob) - 1, 0)))
        if action == "flip" and blob:
            blob[at] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "set" and blob:
            blob[at] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del blob[at:]
        elif action == "insert":
            blob[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        elif action == "delete" and blob:
            del blob[at]
    _read_or_data_error(bytes(blob))


@given(
    dims=st.lists(st.integers(0, 2**31 - 1), min_size=1, max_size=6),
    code=st.sampled_from(sorted(IDX_DTYPES)),
)
def test_fuzz_headers_with_huge_dims(dims, code):
    blob = header(code, tuple(dims)) + b"\x00" * 64
    _read_or_data_error(blob)
    _read_or_data_error(gzip.compress(blob))
