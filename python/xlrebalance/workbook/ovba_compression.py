"""MS-OVBA 2.4.1 compression (the LZ77 variant VBA stores module source in).

ms-ovba 0.0.1 builds the VBA project's streams but its compressor (ms_ovba_compression 1.0.1)
corrupts text past a few hundred bytes -- its own decompressor rejects the output. This is a
plain greedy implementation of the spec, used in its place while the project is compiled.
"""

from __future__ import annotations

CHUNK = 4096
_COMPRESSED = 0xB000  # signature 0b011 and the "compressed" flag
_RAW = 0x3000 | (CHUNK - 1)  # signature 0b011, flag 0, size field 4095: 4,096 bytes follow


def compress(data: bytes) -> bytes:
    out = bytearray(b"\x01")
    for start in range(0, len(data), CHUNK):
        chunk = data[start : start + CHUNK]
        body = _compress_chunk(chunk)
        if len(body) <= CHUNK:
            # The size field holds (chunk size - 3) in 12 bits: at most 4,096 bytes of data.
            out += (_COMPRESSED | (len(body) + 2 - 3)).to_bytes(2, "little") + body
        else:
            # Incompressible (flag bytes make it grow past 4,096): stored raw (2.4.1.3.10).
            # A final chunk shorter than 4,096 bytes is stored as it is rather than padded
            # with zeros, which a decompressor would hand back as part of the text.
            out += _RAW.to_bytes(2, "little") + chunk
    return bytes(out)


def decompress(data: bytes) -> bytes:
    """The inverse (2.4.1.3.1), used to read a project back."""
    if not data or data[0] != 1:
        raise ValueError("not an MS-OVBA compressed container (signature byte is not 1)")
    out = bytearray()
    pos = 1
    while pos + 2 <= len(data):
        header = int.from_bytes(data[pos : pos + 2], "little")
        pos += 2
        if header & 0x7000 != 0x3000:
            raise ValueError(f"bad chunk signature at byte {pos - 2}")
        if not header & 0x8000:
            out += data[pos : pos + CHUNK]
            pos += CHUNK
            continue
        end = min(pos + (header & 0x0FFF) + 1, len(data))
        start = len(out)
        while pos < end:
            flags = data[pos]
            pos += 1
            for bit in range(8):
                if pos >= end:
                    break
                if not flags >> bit & 1:
                    out.append(data[pos])
                    pos += 1
                    continue
                token = int.from_bytes(data[pos : pos + 2], "little")
                pos += 2
                bit_count = max(4, (len(out) - start - 1).bit_length())
                length = (token & (0xFFFF >> bit_count)) + 3
                offset = (token >> (16 - bit_count)) + 1
                for _ in range(length):
                    out.append(out[-offset])
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
