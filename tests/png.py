"""Read a PNG's header and rows without an image library: enough to tell a real screenshot from a blank one.

The rows are kept as stored (each is a filter byte, then the row's bytes filtered against its left neighbour or
the row above). Undoing the filters would need a loop over every byte; comparing rows does not: a stretch of one
colour encodes to the same filtered row again and again, so a blank page has a handful of distinct rows and a
page with text and charts has hundreds.

>>> image = read_png(Path("page.png"))  # doctest: +SKIP
>>> image.width, image.height, image.distinct_rows  # doctest: +SKIP
(1280, 2600, 1210)
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Png", "PngError", "read_png"]

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # grey, RGB, palette, grey + alpha, RGBA


class PngError(ValueError):
    """The file is not a well-formed PNG."""


@dataclass(frozen=True)
class Png:
    """A PNG's size, pixel format and filtered rows."""

    width: int
    height: int
    bit_depth: int
    colour_type: int
    rows: tuple[bytes, ...]

    @property
    def distinct_rows(self) -> int:
        """Return how many different rows the image has (a blank image: 1 to 3)."""
        return len(set(self.rows))


def read_png(path: Path) -> Png:
    """Return the PNG at ``path``, its chunks' checksums verified; raise PngError if it is not one."""
    data = path.read_bytes()
    if not data.startswith(SIGNATURE):
        raise PngError(f"{path}: not a PNG (first bytes {data[:8]!r})")
    chunks: list[tuple[bytes, bytes]] = []
    offset = len(SIGNATURE)
    while offset < len(data):
        if offset + 8 > len(data):
            raise PngError(f"{path}: truncated at byte {offset}")
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length] or b"\0\0\0\0")
        if len(body) != length or zlib.crc32(kind + body) != crc:
            raise PngError(f"{path}: chunk {kind!r} at byte {offset} is truncated or corrupt")
        chunks.append((kind, body))
        offset += 12 + length
    if not chunks or chunks[0][0] != b"IHDR" or chunks[-1][0] != b"IEND":
        raise PngError(f"{path}: chunks must start with IHDR and end with IEND, got {[k for k, _ in chunks]}")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if colour not in _CHANNELS or interlace != 0:
        raise PngError(f"{path}: colour type {colour}, interlace {interlace}: only non-interlaced images are read")
    pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = 1 + (width * _CHANNELS[colour] * depth + 7) // 8
    if len(pixels) != stride * height:
        raise PngError(f"{path}: {len(pixels)} bytes of pixels for {width}x{height}, expected {stride * height}")
    rows = tuple(pixels[i : i + stride] for i in range(0, len(pixels), stride))
    return Png(width=width, height=height, bit_depth=depth, colour_type=colour, rows=rows)
