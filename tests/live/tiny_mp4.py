"""A tiny but real MP4, written here: browsers read its metadata and play it (no tool, no download).

One audio track of Opus (its header is a few fixed bytes, unlike a video codec's), each
sample a 20 ms packet of silence; ``moov`` before ``mdat``, as a web-ready MP4 has it.
"""

from __future__ import annotations

import struct

# TOC byte: CELT fullband, 20 ms, mono, one frame; then the frame's bytes (silence).
SILENT_PACKET = b"\xf8\xff\xfe"
SAMPLES_PER_PACKET = 960  # 20 ms at 48 kHz
IDENTITY_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def _box(kind: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I", 8 + len(body)) + kind + body


def _full_box(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *parts)


def _moov(packets: int, media_offset: int) -> bytes:
    duration_ms = 20 * packets
    dops = _box(b"dOps", struct.pack(">BBHIhB", 0, 1, 312, 48000, 0, 0))
    opus = _box(
        b"Opus", b"\0" * 6, struct.pack(">H", 1), b"\0" * 8, struct.pack(">HHHHI", 1, 16, 0, 0, 48000 << 16), dops
    )
    stbl = _box(
        b"stbl",
        _full_box(b"stsd", 0, 0, struct.pack(">I", 1), opus),
        _full_box(b"stts", 0, 0, struct.pack(">III", 1, packets, SAMPLES_PER_PACKET)),
        _full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, packets, 1)),
        _full_box(b"stsz", 0, 0, struct.pack(">II", len(SILENT_PACKET), packets)),
        _full_box(b"stco", 0, 0, struct.pack(">II", 1, media_offset)),
    )
    minf = _box(
        b"minf",
        _full_box(b"smhd", 0, 0, struct.pack(">hH", 0, 0)),
        _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1))),
        stbl,
    )
    mdia = _box(
        b"mdia",
        _full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, 48000, SAMPLES_PER_PACKET * packets, 0x55C4, 0)),
        _full_box(b"hdlr", 0, 0, struct.pack(">I", 0), b"soun", b"\0" * 12, b"SoundHandler\0"),
        minf,
    )
    tkhd = _full_box(
        b"tkhd",
        0,
        3,
        struct.pack(">IIIII", 0, 0, 1, 0, duration_ms),
        b"\0" * 8,
        struct.pack(">hhhH", 0, 0, 0x0100, 0),
        IDENTITY_MATRIX,
        struct.pack(">II", 0, 0),
    )
    mvhd = _full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIIIIH", 0, 0, 1000, duration_ms, 0x10000, 0x0100),
        b"\0" * 10,
        IDENTITY_MATRIX,
        b"\0" * 24,
        struct.pack(">I", 2),
    )
    return _box(b"moov", mvhd, _box(b"trak", tkhd, mdia))


def tiny_mp4(*, seconds: int = 1) -> bytes:
    """An MP4 of ``seconds`` of silence (a few hundred bytes per second)."""
    packets = seconds * 50
    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 512), b"isomiso2mp41")
    media_offset = len(ftyp) + len(_moov(packets, 0)) + 8
    return ftyp + _moov(packets, media_offset) + _box(b"mdat", SILENT_PACKET * packets)
