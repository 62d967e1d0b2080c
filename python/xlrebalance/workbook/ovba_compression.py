"""MS-OVBA 2.4.1 compression (the LZ77 variant VBA stores module source in).

ms-ovba 0.0.1 builds the VBA project's streams but its compressor (ms_ovba_compression 1.0.1)
corrupts text past a few hundred bytes -- its own decompressor rejects the output. This is a
plain greedy implementation of the spec, used in its place while the project is compiled.
"""

from __future__ import annotations

CHUNK = 4096


def compress(data: bytes) -> bytes:
    out = bytearray(b"\x01")
    for start in range(0, len(data), CHUNK):
        chunk = data[start : start + CHUNK]
        body = _compress_chunk(chunk)
        if len(body) + 2 > CHUNK + 2 and len(chunk) == CHUNK:
            # Incompressible full chunk: stored raw (flag 0), size field 4095.
            out += (0x3000 | (CHUNK + 2 - 3)).to_bytes(2, "little") + chunk
        else:
            out += (0xB000 | (len(body) + 2 - 3)).to_bytes(2, "little") + body
    return bytes(out)


def _compress_chunk(chunk: bytes) -> bytes:
    out = bytearray()
    heads: dict[bytes, list[int]] = {}
    pos = 0
    while pos < len(chunk):
        flag_at = len(out)
        out.append(0)
        flags = 0
        for bit in range(8):
            if pos >= len(chunk):
                break
            offset, length = _longest_match(chunk, pos, heads)
            if length >= 3:
                bit_count = max(4, (pos - 1).bit_length())
                max_length = (0xFFFF >> bit_count) + 3
                length = min(length, max_length)
                token = ((offset - 1) << (16 - bit_count)) | (length - 3)
                out += token.to_bytes(2, "little")
                flags |= 1 << bit
                step = length
            else:
                out.append(chunk[pos])
                step = 1
            for p in range(pos, pos + step):
                heads.setdefault(chunk[p : p + 3], []).append(p)
            pos += step
        out[flag_at] = flags
    return bytes(out)


def _longest_match(chunk: bytes, pos: int, heads: dict[bytes, list[int]]) -> tuple[int, int]:
    best_offset, best_length = 0, 0
    limit = len(chunk) - pos
    for candidate in reversed(heads.get(chunk[pos : pos + 3], ())):
        length = 0
        while length < limit and chunk[candidate + length] == chunk[pos + length]:
            length += 1
        if length > best_length:
            best_offset, best_length = pos - candidate, length
            if length == limit:
                break
    return best_offset, best_length
