"""fnnet's own reader and writer for the IDX format of the MNIST files.

The format (LeCun, Cortes & Burges, http://yann.lecun.com/exdb/mnist/)::

    byte 0, 1   00 00       magic: two zero bytes
    byte 2      type code   08 ubyte, 09 byte, 0B short, 0C int, 0D float, 0E double
    byte 3      ndim        number of dimensions
    4 * ndim    dims        big-endian int32 sizes, slowest-varying first
    rest        data        prod(dims) items, big-endian, C (row-major) order

``read_idx`` accepts a raw or gzip-compressed file, detecting gzip by its magic bytes ``1f 8b``
and never by the file name. It checks the magic number, the type code and the dimension count,
and that the data is *exactly* ``prod(dims) * itemsize`` bytes: a truncated file or trailing bytes
raise :class:`~fnnet.errors.DataError` with the expected and actual byte counts.

Nothing is allocated from the header's word alone. The size the header claims is compared first
with ``max_bytes`` and with what the file can hold: for a raw file its actual size, for a gzip file
the most that deflate can expand it to (1032:1), and decompression reads at most ``expected + 1``
bytes in bounded chunks. A 12-byte file claiming 10^12 items is refused in microseconds. Nothing
here uses pickle or eval.
"""

from __future__ import annotations

import gzip as _gzip
import io
import math
import os
import struct
import zlib
from pathlib import Path
from typing import IO, Union

import numpy as np

from fnnet.errors import DataError

# type code -> big-endian dtype of the stored items
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_NAMES = {
    0x08: "ubyte",
    0x09: "byte",
    0x0B: "short",
    0x0C: "int",
    0x0D: "float",
    0x0E: "double",
}
# (kind, itemsize) of a native dtype -> type code, for writing
_CODES = {(dt.kind, dt.itemsize): code for code, dt in IDX_DTYPES.items()}

GZIP_MAGIC = b"\x1f\x8b"
DEFAULT_MAX_BYTES = 1 << 32  # 4 GiB of data; the MNIST training images are 47 MB
_DEFLATE_MAX_RATIO = 1032  # deflate cannot expand its input by more than this factor
_CHUNK = 1 << 20

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]


def _describe_codes() -> str:
    return ", ".join(f"0x{c:02X} ({n})" for c, n in _CODE_NAMES.items())


def read_idx(source: Source, *, max_bytes: int = DEFAULT_MAX_BYTES) -> np.ndarray:
    """Read one IDX array from a path or from the file's bytes, raw or gzip-compressed.

    Args:
      source: a path (``str`` / ``os.PathLike``) or the file's contents (``bytes``-like).
      max_bytes: refuse headers whose data would exceed this many bytes (default 4 GiB).

    Returns:
      An array of shape ``dims`` in native byte order: uint8, int8, int16, int32, float32 or
      float64 for type codes 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E. It is writable and owns no
      reference to the file.

    Raises:
      DataError: the file is missing, not IDX, truncated, has trailing bytes, a corrupt gzip
        stream, or a header claiming more data than the file can hold or than ``max_bytes``.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        return _read_stream(io.BytesIO(data), len(data), "<bytes>", max_bytes)
    if not isinstance(source, (str, os.PathLike)):
        raise DataError(f"read_idx needs a path or the file's bytes, got {type(source).__name__}.")
    path = Path(source)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise DataError(f"IDX file {str(path)!r} does not exist.") from None
    except OSError as err:
        raise DataError(f"IDX file {str(path)!r} cannot be opened: {err}.") from None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        return _read_stream(handle, size, repr(str(path)), max_bytes)


def _read_stream(handle: IO[bytes], size: int, label: str, max_bytes: int) -> np.ndarray:
    compressed = handle.read(2) == GZIP_MAGIC
    handle.seek(0)
    if not compressed:
        return _parse(handle, size, label, max_bytes, compressed_size=None)
    try:
        with _gzip.GzipFile(fileobj=handle, mode="rb") as stream:
            return _parse(stream, None, label, max_bytes, compressed_size=size)
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(
            f"IDX file {label} starts with the gzip magic bytes 1f 8b but is not a valid gzip "
            f"stream ({type(err).__name__}: {err}). Download it again or decompress it by hand."
        ) from None


def _read_upto(stream: IO[bytes], n: int) -> bytearray:
    """Read up to ``n`` bytes in bounded chunks; fewer only at end of stream."""
    out = bytearray()
    while len(out) < n:
        chunk = stream.read(min(_CHUNK, n - len(out)))
        if not chunk:
            break
        out += chunk
    return out


def _parse(
    stream: IO[bytes],
    size: int | None,
    label: str,
    max_bytes: int,
    *,
    compressed_size: int | None,
) -> np.ndarray:
    """Parse the header, check the claimed size against what exists, then read the data.

    ``size`` is the raw file's byte count (None for gzip, whose decompressed size is unknown
    until read); ``compressed_size`` is the gzip file's byte count (None for raw).
    """
    kind = "decompressed IDX data" if compressed_size is not None else "IDX file"
    head = _read_upto(stream, 4)
    if len(head) < 4:
        raise DataError(
            f"{kind} {label} is {len(head)} bytes long, too short for the 4-byte IDX header "
            f"(00 00 <type> <ndim>)."
        )
    if head[0] != 0 or head[1] != 0:
        raise DataError(
            f"{kind} {label} does not start with the IDX magic 00 00: its first bytes are "
            f"{head.hex(' ')}. It is not an IDX file (MNIST files are named like "
            f"train-images-idx3-ubyte[.gz])."
        )
    code, ndim = head[2], head[3]
    if code not in IDX_DTYPES:
        raise DataError(
            f"{kind} {label} has IDX type code 0x{code:02X}; valid codes are {_describe_codes()}."
        )
    if ndim == 0:
        raise DataError(f"{kind} {label} declares 0 dimensions; an IDX array needs at least 1.")
    header_len = 4 + 4 * ndim
    raw_dims = _read_upto(stream, 4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DataError(
            f"{kind} {label} is truncated inside its header: {ndim} dimensions need "
            f"{header_len} header bytes, only {4 + len(raw_dims)} are present."
        )
    dims = struct.unpack(f">{ndim}i", bytes(raw_dims))
    if any(d < 0 for d in dims):
        raise DataError(f"{kind} {label} has a negative dimension in its header: dims {dims}.")
    dtype = IDX_DTYPES[code]
    expected = math.prod(dims) * dtype.itemsize  # Python ints: no overflow
    claim = (
        f"its header claims dims {dims} of type 0x{code:02X} ({_CODE_NAMES[code]}), "
        f"i.e. {expected:,} data bytes"
    )
    # Compare the claim with what exists before allocating anything.
    if size is not None:
        actual = size - header_len
        if actual != expected:
            what = "truncated" if actual < expected else "followed by trailing bytes"
            raise DataError(
                f"IDX file {label} is {what}: {claim} after the {header_len}-byte header, but the "
                f"file holds {actual:,} data bytes ({size:,} in all). Download or copy it again."
            )
    else:
        assert compressed_size is not None
        bound = compressed_size * _DEFLATE_MAX_RATIO
        if expected > bound:
            raise DataError(
                f"gzip IDX file {label}: {claim}, but a {compressed_size:,}-byte gzip file "
                f"decompresses to at most {bound:,} bytes. The header is corrupt."
            )
    if expected > max_bytes:
        raise DataError(
            f"{kind} {label}: {claim}, more than max_bytes={max_bytes:,}. Pass a larger "
            f"max_bytes= if the file really is that large."
        )
    if size is not None:
        buf = bytearray(expected)
        got = stream.readinto(buf) if expected else 0  # type: ignore[attr-defined]
        if got != expected:  # the file changed under us
            raise DataError(f"IDX file {label}: read {got:,} of {expected:,} data bytes.")
    else:
        buf = _read_upto(stream, expected + 1)
        if len(buf) != expected:
            what = "truncated" if len(buf) < expected else "followed by trailing bytes"
            found = f"{len(buf):,}" if len(buf) <= expected else f"at least {len(buf):,}"
            raise DataError(
                f"gzip IDX file {label} is {what}: {claim} after the {header_len}-byte header, "
                f"but the decompressed stream holds {found} data bytes. Download it again."
            )
    array = np.frombuffer(buf, dtype=dtype).reshape(dims)
    if dtype.itemsize > 1:
        array = array.astype(dtype.newbyteorder("="))
    return array


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes of ``array`` (uint8, int8, int16, int32, float32 or float64; ndim 1..255)."""
    a = np.asarray(array)
    code = _CODES.get((a.dtype.kind, a.dtype.itemsize))
    if code is None or a.dtype.kind == "b":
        raise DataError(
            f"IDX cannot store dtype {a.dtype}; it holds uint8, int8, int16, int32, float32 and "
            f"float64. Cast first, e.g. array.astype(np.int32)."
        )
    if not 1 <= a.ndim <= 255:
        raise DataError(
            f"IDX stores arrays of 1 to 255 dimensions, got shape {a.shape}; reshape a scalar "
            f"to (1,)."
        )
    if any(d >= 2**31 for d in a.shape):
        raise DataError(f"IDX dimensions are int32; shape {a.shape} does not fit.")
    header = bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}i", *a.shape)
    return header + np.ascontiguousarray(a, dtype=IDX_DTYPES[code]).tobytes()


def write_idx(path: str | os.PathLike[str], array: np.ndarray, *, gzip: bool = False) -> Path:
    """Write ``array`` as an IDX file at ``path`` (gzip-compressed when ``gzip``); return the path.

    The gzip header carries mtime 0, so equal arrays give byte-identical files.
    """
    data = encode_idx(array)
    if gzip:
        data = _gzip.compress(data, compresslevel=6, mtime=0)
    path = Path(path)
    path.write_bytes(data)
    return path
