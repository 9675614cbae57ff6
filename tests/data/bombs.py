"""Files whose headers promise far more data than they hold or than a loader should ever decode."""

import gzip
import struct
import zlib


def png_claiming(width: int, height: int) -> bytes:
    """A few hundred bytes of valid-looking PNG (greyscale, 8 bit) whose header says width x height pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * (min(width, 1 << 16) + 1) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def idx_gzip_bomb(count: int, rows: int, cols: int, body_bytes: int) -> bytes:
    """A gzipped IDX image file declaring (count, rows, cols) uint8 whose stream inflates to body_bytes of zeros
    (compressed chunk by chunk, so making it needs little memory)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    out = [comp.compress(struct.pack(">HBB3I", 0, 0x08, 3, count, rows, cols))]
    block = b"\0" * (1 << 20)
    for start in range(0, body_bytes, len(block)):
        out.append(comp.compress(block[: min(len(block), body_bytes - start)]))
    out.append(comp.flush())
    return b"".join(out)
