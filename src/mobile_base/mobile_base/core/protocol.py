"""Framed serial protocol between the host (base_driver) and the motor-controller board.

The full specification is in src/mobile_base/docs/serial_protocol.md; in short (little-endian):

    0xA5 0x5A | TYPE u8 | SEQ u8 | LEN u8 | PAYLOAD (LEN <= 64 bytes) | CRC16 u16

CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor) over TYPE, SEQ, LEN
and PAYLOAD. Wheel order FL, FR, RL, RR; wheel speeds in mrad/s (int16).

  host -> board   0x01 WHEEL_VELOCITY  4 x int16 wheel speed (mrad/s)
                  0x02 STOP            (empty) brake all wheels now
                  0x03 CLEAR_FAULT     (empty) clear latched board faults
  board -> host   0x81 ENCODER_REPORT  u32 board time (us), 4 x int32 ticks, 4 x int16 mrad/s
                  0x82 ERROR_REPORT    u8 code, u8 wheel (0xFF = none), u16 detail

The decoder is a byte-stream state machine: it resynchronises after garbage, rejects frames
with a bad length or checksum (reporting each as an error event) and never loses a valid frame
that follows a corrupted one.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import List, Sequence, Tuple, Union

SYNC = b'\xa5\x5a'
HEADER_SIZE = 5          # sync (2) + type + seq + len
CRC_SIZE = 2
MAX_PAYLOAD = 64
MRAD = 1000.0            # wheel speeds travel as integer mrad/s
INT16_MAX = 32767


class MsgType(IntEnum):
    WHEEL_VELOCITY = 0x01
    STOP = 0x02
    CLEAR_FAULT = 0x03
    ENCODER_REPORT = 0x81
    ERROR_REPORT = 0x82


class ErrorCode(IntEnum):
    """Error codes of ERROR_REPORT (board -> host)."""

    OVERCURRENT = 1          # detail: current in mA
    DRIVER_FAULT = 2         # motor driver chip fault flag; detail: raw status
    UNDERVOLTAGE = 3         # detail: battery voltage in mV
    COMMAND_TIMEOUT = 4      # board watchdog: no command for its timeout, wheels braked
    ENCODER_FAULT = 5        # encoder signal lost on `wheel`
    BAD_FRAME = 6            # board received a corrupted frame from the host; detail: count
    ESTOP_BUTTON = 7         # hardware e-stop pressed on the base


PAYLOAD_SIZES = {
    MsgType.WHEEL_VELOCITY: 8,
    MsgType.STOP: 0,
    MsgType.CLEAR_FAULT: 0,
    MsgType.ENCODER_REPORT: 28,
    MsgType.ERROR_REPORT: 4,
}

_WHEEL_FMT = '<4h'
_ENCODER_FMT = '<I4i4h'
_ERROR_FMT = '<BBH'
NO_WHEEL = 0xFF


def crc16_ccitt(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE of `data` (check value of b'123456789' is 0x29B1)."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


# --- Messages --------------------------------------------------------------------------------

@dataclass(frozen=True)
class WheelVelocityCommand:
    """Wheel speed set-points in rad/s (FL, FR, RL, RR)."""

    speeds: Tuple[float, float, float, float]


@dataclass(frozen=True)
class StopCommand:
    """Brake all wheels immediately."""


@dataclass(frozen=True)
class ClearFaultCommand:
    """Clear latched faults on the board."""


@dataclass(frozen=True)
class EncoderReport:
    """Board time (s), cumulative encoder ticks and measured wheel speeds (rad/s)."""

    board_time: float
    ticks: Tuple[int, int, int, int]
    speeds: Tuple[float, float, float, float]


@dataclass(frozen=True)
class ErrorReport:
    """A fault reported by the board."""

    code: int
    wheel: int = NO_WHEEL
    detail: int = 0

    @property
    def name(self) -> str:
        try:
            return ErrorCode(self.code).name
        except ValueError:
            return f'UNKNOWN_{self.code}'


Message = Union[WheelVelocityCommand, StopCommand, ClearFaultCommand, EncoderReport, ErrorReport]


@dataclass(frozen=True)
class Frame:
    """A frame whose length and checksum were valid."""

    msg_type: int
    seq: int
    payload: bytes


@dataclass(frozen=True)
class FrameError:
    """Something in the byte stream that is not a valid frame."""

    kind: str         # 'checksum', 'length', 'garbage', 'payload', 'unknown_type'
    detail: str


# --- Encoding --------------------------------------------------------------------------------

def encode_frame(msg_type: int, payload: bytes = b'', seq: int = 0) -> bytes:
    """Build one frame: sync, header, payload, CRC."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f'payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}')
    body = bytes((int(msg_type) & 0xFF, seq & 0xFF, len(payload))) + payload
    return SYNC + body + struct.pack('<H', crc16_ccitt(body))


def _to_mrad(value: float) -> int:
    scaled = int(round(value * MRAD))
    return max(-INT16_MAX, min(INT16_MAX, scaled))


def encode_message(msg: Message, seq: int = 0) -> bytes:
    """Encode any protocol message as a frame."""
    if isinstance(msg, WheelVelocityCommand):
        if len(msg.speeds) != 4:
            raise ValueError('WheelVelocityCommand needs 4 speeds')
        payload = struct.pack(_WHEEL_FMT, *(_to_mrad(s) for s in msg.speeds))
        return encode_frame(MsgType.WHEEL_VELOCITY, payload, seq)
    if isinstance(msg, StopCommand):
        return encode_frame(MsgType.STOP, b'', seq)
    if isinstance(msg, ClearFaultCommand):
        return encode_frame(MsgType.CLEAR_FAULT, b'', seq)
    if isinstance(msg, EncoderReport):
        t_us = int(round(msg.board_time * 1e6)) & 0xFFFFFFFF
        ticks = [((int(t) + 2 ** 31) % 2 ** 32) - 2 ** 31 for t in msg.ticks]
        payload = struct.pack(_ENCODER_FMT, t_us, *ticks, *(_to_mrad(s) for s in msg.speeds))
        return encode_frame(MsgType.ENCODER_REPORT, payload, seq)
    if isinstance(msg, ErrorReport):
        payload = struct.pack(_ERROR_FMT, msg.code & 0xFF, msg.wheel & 0xFF, msg.detail & 0xFFFF)
        return encode_frame(MsgType.ERROR_REPORT, payload, seq)
    raise TypeError(f'not a protocol message: {msg!r}')


def wheel_command(speeds: Sequence[float], seq: int = 0) -> bytes:
    """Shortcut: a WHEEL_VELOCITY frame from four speeds in rad/s."""
    fl, fr, rl, rr = (float(s) for s in speeds)
    return encode_message(WheelVelocityCommand((fl, fr, rl, rr)), seq)


# --- Decoding --------------------------------------------------------------------------------

def decode_message(frame: Frame) -> Union[Message, FrameError]:
    """Interpret a valid frame's payload; a FrameError if the type or size is wrong."""
    try:
        msg_type = MsgType(frame.msg_type)
    except ValueError:
        return FrameError('unknown_type', f'type 0x{frame.msg_type:02x}')
    expected = PAYLOAD_SIZES[msg_type]
    if len(frame.payload) != expected:
        return FrameError('payload', f'{msg_type.name} payload is {len(frame.payload)} bytes, '
                                     f'expected {expected}')
    p = frame.payload
    if msg_type == MsgType.WHEEL_VELOCITY:
        fl, fr, rl, rr = (v / MRAD for v in struct.unpack(_WHEEL_FMT, p))
        return WheelVelocityCommand((fl, fr, rl, rr))
    if msg_type == MsgType.STOP:
        return StopCommand()
    if msg_type == MsgType.CLEAR_FAULT:
        return ClearFaultCommand()
    if msg_type == MsgType.ENCODER_REPORT:
        values = struct.unpack(_ENCODER_FMT, p)
        t0, t1, t2, t3 = values[1:5]
        s0, s1, s2, s3 = (v / MRAD for v in values[5:9])
        return EncoderReport(values[0] * 1e-6, (t0, t1, t2, t3), (s0, s1, s2, s3))
    code, wheel, detail = struct.unpack(_ERROR_FMT, p)
    return ErrorReport(code, wheel, detail)


class FrameDecoder:
    """Incremental decoder: feed bytes as they arrive, get frames and errors in order."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.frames = 0
        self.errors = 0

    def pending(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> List[Union[Frame, FrameError]]:
        self._buf.extend(data)
        out: List[Union[Frame, FrameError]] = []
        buf = self._buf
        while True:
            start = buf.find(SYNC)
            if start < 0:
                # Keep a trailing first sync byte: its partner may be in the next read.
                keep = 1 if buf[-1:] == SYNC[:1] else 0
                dropped = len(buf) - keep
                if dropped:
                    out.append(FrameError('garbage', f'{dropped} byte(s) without sync'))
                    del buf[:dropped]
                break
            if start > 0:
                out.append(FrameError('garbage', f'{start} byte(s) before sync'))
                del buf[:start]
            if len(buf) < HEADER_SIZE:
                break
            length = buf[4]
            if length > MAX_PAYLOAD:
                out.append(FrameError('length', f'declared payload {length} > {MAX_PAYLOAD}'))
                del buf[:1]      # resync from the next byte
                continue
            total = HEADER_SIZE + length + CRC_SIZE
            if len(buf) < total:
                break
            body = bytes(buf[2:HEADER_SIZE + length])
            (crc,) = struct.unpack_from('<H', buf, HEADER_SIZE + length)
            if crc != crc16_ccitt(body):
                out.append(FrameError('checksum', f'type 0x{buf[2]:02x} seq {buf[3]}: '
                                                  f'crc 0x{crc:04x} != 0x{crc16_ccitt(body):04x}'))
                del buf[:1]      # the real frame may start inside the corrupted one
                continue
            out.append(Frame(buf[2], buf[3], bytes(buf[HEADER_SIZE:HEADER_SIZE + length])))
            del buf[:total]
        self.frames += sum(1 for e in out if isinstance(e, Frame))
        self.errors += sum(1 for e in out if isinstance(e, FrameError))
        return out

    def feed_messages(self, data: bytes) -> List[Union[Message, FrameError]]:
        """Like `feed`, with valid frames already interpreted by `decode_message`."""
        return [decode_message(e) if isinstance(e, Frame) else e for e in self.feed(data)]
