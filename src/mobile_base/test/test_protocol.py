"""Serial protocol: CRC, encode/decode of every message, corrupted and split streams."""

import random

import pytest
from mobile_base.core.protocol import (ClearFaultCommand, crc16_ccitt, decode_message,
                                       encode_frame, encode_message, EncoderReport, ErrorCode,
                                       ErrorReport, Frame, FrameDecoder, FrameError, MsgType,
                                       StopCommand, wheel_command, WheelVelocityCommand)

MESSAGES = [
    WheelVelocityCommand((1.5, -2.25, 0.0, 10.001)),
    StopCommand(),
    ClearFaultCommand(),
    EncoderReport(12.345678, (0, -5, 2 ** 31 - 1, -2 ** 31), (0.5, -0.25, 3.0, -7.5)),
    ErrorReport(ErrorCode.OVERCURRENT, 2, 4200),
    ErrorReport(ErrorCode.COMMAND_TIMEOUT),
]


def test_crc_check_value():
    assert crc16_ccitt(b'123456789') == 0x29B1


def test_frame_layout():
    frame = encode_message(WheelVelocityCommand((1.0, -1.0, 0.5, 0.0)), seq=7)
    assert frame[:2] == b'\xa5\x5a'
    assert frame[2] == MsgType.WHEEL_VELOCITY and frame[3] == 7 and frame[4] == 8
    assert len(frame) == 5 + 8 + 2
    # 1.0 rad/s = 1000 mrad/s, little-endian int16
    assert frame[5:7] == (1000).to_bytes(2, 'little', signed=True)
    assert frame[7:9] == (-1000).to_bytes(2, 'little', signed=True)
    assert int.from_bytes(frame[-2:], 'little') == crc16_ccitt(frame[2:-2])


@pytest.mark.parametrize('msg', MESSAGES, ids=lambda m: type(m).__name__)
def test_round_trip(msg):
    out = FrameDecoder().feed_messages(encode_message(msg, seq=200))
    assert len(out) == 1
    got = out[0]
    assert type(got) is type(msg)
    if isinstance(msg, WheelVelocityCommand):
        assert got.speeds == pytest.approx(msg.speeds, abs=1e-3)
    elif isinstance(msg, EncoderReport):
        assert got.ticks == msg.ticks
        assert got.speeds == pytest.approx(msg.speeds, abs=1e-3)
        assert got.board_time == pytest.approx(msg.board_time, abs=1e-6)
    else:
        assert got == msg


def test_speeds_saturate_to_int16():
    frame = wheel_command((100.0, -100.0, 0.0, 0.0))
    (got,) = FrameDecoder().feed_messages(frame)
    assert got.speeds[:2] == pytest.approx((32.767, -32.767))


def test_byte_by_byte_and_concatenated_streams():
    stream = b''.join(encode_message(m, i) for i, m in enumerate(MESSAGES))
    dec = FrameDecoder()
    got = []
    for b in stream:
        got += dec.feed(bytes([b]))
    assert [f.seq for f in got] == list(range(len(MESSAGES)))
    assert all(isinstance(f, Frame) for f in got)
    assert dec.pending() == 0


def test_corrupted_frame_is_reported_and_the_next_one_survives():
    good1 = encode_message(EncoderReport(1.0, (1, 2, 3, 4), (0.1, 0.2, 0.3, 0.4)), 1)
    bad = bytearray(encode_message(EncoderReport(2.0, (5, 6, 7, 8), (0.5, 0.6, 0.7, 0.8)), 2))
    bad[10] ^= 0x40
    good2 = encode_message(ErrorReport(ErrorCode.UNDERVOLTAGE, 0xFF, 10900), 3)
    events = FrameDecoder().feed(good1 + bytes(bad) + good2)
    frames = [e for e in events if isinstance(e, Frame)]
    errors = [e for e in events if isinstance(e, FrameError)]
    assert [f.seq for f in frames] == [1, 3]
    assert [e.kind for e in errors if e.kind != 'garbage'] == ['checksum']


def test_corrupted_crc_bytes_and_truncated_frames():
    frame = bytearray(encode_message(StopCommand(), 9))
    frame[-1] ^= 0xFF
    dec = FrameDecoder()
    events = dec.feed(bytes(frame))
    assert any(isinstance(e, FrameError) and e.kind == 'checksum' for e in events)
    # A truncated frame waits for the rest instead of erroring.
    whole = encode_message(StopCommand(), 10)
    assert dec.feed(whole[:4]) == []
    (f,) = dec.feed(whole[4:])
    assert f.seq == 10


def test_garbage_and_bad_length_resync():
    noise = bytes([0x00, 0xA5, 0x13, 0xA5, 0x5A, 0x01, 0x00, 0xFF])  # LEN 255 > max
    good = encode_message(ClearFaultCommand(), 42)
    events = FrameDecoder().feed(noise + good)
    assert any(isinstance(e, FrameError) and e.kind == 'length' for e in events)
    assert [e.seq for e in events if isinstance(e, Frame)] == [42]


def test_valid_crc_with_wrong_payload_size_or_type():
    assert isinstance(decode_message(Frame(MsgType.WHEEL_VELOCITY, 0, b'\x00' * 6)), FrameError)
    err = decode_message(Frame(0x42, 0, b''))
    assert isinstance(err, FrameError) and err.kind == 'unknown_type'
    assert FrameDecoder().feed_messages(encode_frame(0x42, b'', 1))[0].kind == 'unknown_type'


def test_random_noise_never_produces_a_false_frame():
    rng = random.Random(5)
    noise = bytes(rng.randrange(256) for _ in range(20000))
    events = FrameDecoder().feed(noise)
    # A CRC-16 lets about 1 in 65536 random candidates through; with 20 kB of noise there are
    # very few sync candidates to begin with.
    assert sum(isinstance(e, Frame) for e in events) <= 1


def test_payload_too_long_is_refused():
    with pytest.raises(ValueError):
        encode_frame(MsgType.STOP, b'\x00' * 65)


def test_documented_example_frame():
    # docs/serial_protocol.md, "Example"
    assert wheel_command((1.0, -1.0, 0.5, 0.0), 7).hex(' ') == \
        'a5 5a 01 07 08 e8 03 18 fc f4 01 00 00 15 4e'
