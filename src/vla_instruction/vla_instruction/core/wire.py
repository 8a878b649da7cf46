"""std_msgs/String as it arrives on the wire (serialized CDR), decoded strictly (pure).

Why not let rclpy deserialize it: rclpy cuts a string at its first NUL byte ("컵까지 가\\x00지 마"
arrives as "컵까지 가": the prohibition after the NUL is silently lost) and replaces invalid
UTF-8 with U+FFFD. A text bridge that sends either must get a refusal that says so, so
`instruction_node` subscribes to the serialized message and decodes it here.

Layout (OMG DDS-XTypes / CDR, a final struct with one string): a 4-byte encapsulation header
(0x00 0x00 or 0x00 0x06 big endian, 0x00 0x01 or 0x00 0x07 little endian; then 2 option bytes),
a uint32 length that counts the terminating NUL, the bytes, the NUL.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_ENDIAN = {b'\x00\x00': '>', b'\x00\x06': '>', b'\x00\x01': '<', b'\x00\x07': '<'}


class UnknownEncoding(ValueError):
    """Not a CDR encapsulation this decoder knows (the caller may fall back to rclpy)."""


@dataclass(frozen=True)
class WireText:
    """A decoded string: `text` (invalid bytes as U+FFFD, so it can be shown) and, when the
    bytes were not clean UTF-8 text, what was wrong (`problem`; '' when fine)."""

    text: str
    problem: str = ''


def decode_string_message(data: bytes) -> WireText:
    """Decode a serialized std_msgs/String. Raises UnknownEncoding for an unknown header."""
    data = bytes(data)
    if len(data) < 8:
        raise UnknownEncoding(f'{len(data)} bytes: too short for a CDR string')
    endian = _ENDIAN.get(data[:2])
    if endian is None:
        raise UnknownEncoding(f'unknown CDR encapsulation {data[:2].hex()}')
    (length,) = struct.unpack(endian + 'I', data[4:8])
    raw = data[8:8 + length]
    problem = ''
    if length == 0 or len(raw) < length:
        problem = f'truncated message (length {length}, {len(raw)} bytes present)'
    elif raw[-1:] != b'\x00':
        problem = 'string not NUL-terminated'
    else:
        raw = raw[:-1]
    nul = raw.find(b'\x00')
    if nul >= 0 and not problem:
        problem = f'NUL byte at byte {nul} (text after it would be lost)'
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError as exc:
        text = raw.decode('utf-8', errors='replace')
        problem = problem or f'invalid UTF-8 at byte {exc.start}'
    return WireText(text, problem)


def printable(text: str, limit: int = 200) -> str:
    """`text` safe to log and to publish: at most `limit` characters, and anything that is not
    printable (control characters, which rclpy would cut at a NUL; lone surrogates, which
    cannot be encoded as UTF-8 at all) written as an escape such as \\x00."""
    out = [ch if ch.isprintable() else
           (f'\\x{ord(ch):02x}' if ord(ch) < 0x100 else f'\\u{ord(ch):04x}')
           for ch in text[:limit]]
    return ''.join(out) + ('…' if len(text) > limit else '')
