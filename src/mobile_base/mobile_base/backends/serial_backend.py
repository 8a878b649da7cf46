"""`serial` backend: the motor-controller board over a serial port (protocol in core.protocol).

Faults that keep the wheels stopped (the backend sends STOP instead of speed commands):
  * silent device: no valid frame for `device_timeout` s (cable, power, crashed firmware);
  * corrupted link: `max_consecutive_errors` bad frames in a row (noise, wrong baud rate);
  * board error: OVERCURRENT, DRIVER_FAULT, UNDERVOLTAGE, ENCODER_FAULT or ESTOP_BUTTON
    reported by the board.
Link and board faults are held for `fault_hold` s after the last bad frame / error report;
then the backend sends CLEAR_FAULT once and resumes. Every corrupted frame and board error is
reported as an event, so isolated errors are visible even when they do not stop the base.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Optional, Sequence

from mobile_base.backends.base import (BackendEvent, BackendHealth, Speeds, WheelBackend,
                                       WheelFeedback)
from mobile_base.core.protocol import (ClearFaultCommand, EncoderReport, encode_message,
                                       ErrorCode, ErrorReport, FrameDecoder, FrameError,
                                       StopCommand, WheelVelocityCommand)

#: Board errors that stop the base (the others are warnings).
STOPPING_ERRORS = frozenset({ErrorCode.OVERCURRENT, ErrorCode.DRIVER_FAULT,
                             ErrorCode.UNDERVOLTAGE, ErrorCode.ENCODER_FAULT,
                             ErrorCode.ESTOP_BUTTON})


def _open_pyserial(port: str, baudrate: int) -> Any:
    import serial  # lazy: only the serial backend needs pyserial

    # timeout=0: reads never block the control loop.
    return serial.serial_for_url(port, baudrate=baudrate, timeout=0, write_timeout=0.05)


class SerialBackend(WheelBackend):
    """Wheel commands and encoder reports over a framed serial link."""

    name = 'serial'

    def __init__(self, port: str, baudrate: int = 115200, ticks_per_rev: int = 4096,
                 device_timeout: float = 0.3, max_consecutive_errors: int = 3,
                 fault_hold: float = 1.0,
                 opener: Optional[Callable[[str, int], Any]] = None) -> None:
        if ticks_per_rev <= 0:
            raise ValueError('ticks_per_rev must be positive')
        self.port = port
        self.baudrate = baudrate
        self.rad_per_tick = 2.0 * math.pi / ticks_per_rev
        self.device_timeout = device_timeout
        self.max_consecutive_errors = max_consecutive_errors
        self.fault_hold = fault_hold
        self._opener = opener or _open_pyserial
        self._ser: Any = None
        self._decoder = FrameDecoder()
        self._seq = 0
        self._opened_at = 0.0
        self._last_valid: Optional[float] = None
        self._consecutive_errors = 0
        self._link_fault_until = -math.inf
        self._board_fault_until = -math.inf
        self._board_fault = ''
        self._was_silent = False
        self._faulted = False
        self._events: List[BackendEvent] = []
        self.counters: Dict[str, int] = {'frames': 0, 'checksum': 0, 'bad_frames': 0,
                                         'board_errors': 0, 'write_errors': 0, 'silent': 0}
        self.last_report: Optional[EncoderReport] = None
        self._board_time_offset = 0.0
        self._last_board_time: Optional[float] = None
        self._raw_ticks: Optional[Sequence[int]] = None
        self._ticks: List[int] = [0, 0, 0, 0]

    # --- WheelBackend --------------------------------------------------------------------------
    def open(self, now: float) -> None:
        self._ser = self._opener(self.port, self.baudrate)
        self._opened_at = now
        self._write(encode_message(StopCommand(), self._next_seq()))

    def send(self, speeds: Sequence[float], now: float) -> None:
        if not self.health(now).ok:
            self._write(encode_message(StopCommand(), self._next_seq()))
            return
        fl, fr, rl, rr = (float(s) for s in speeds)
        self._write(encode_message(WheelVelocityCommand((fl, fr, rl, rr)), self._next_seq()))

    def stop(self, now: float) -> None:
        self._write(encode_message(StopCommand(), self._next_seq()))

    def poll(self, now: float) -> List[WheelFeedback]:
        feedback: List[WheelFeedback] = []
        data = self._read()
        for item in self._decoder.feed_messages(data) if data else []:
            if isinstance(item, FrameError):
                if item.kind == 'garbage':
                    continue      # the bytes of a rejected frame; the rejection was reported
                self._consecutive_errors += 1
                self.counters['checksum' if item.kind == 'checksum' else 'bad_frames'] += 1
                self._event('warn', item.kind, f'corrupted frame from {self.port}: {item.detail}')
                if self._consecutive_errors >= self.max_consecutive_errors:
                    self._link_fault_until = now + self.fault_hold
                continue
            if not isinstance(item, (EncoderReport, ErrorReport)):
                # A host->board message coming back: a loopback or crossed wires, not a board.
                self.counters['bad_frames'] += 1
                self._event('warn', 'unexpected', f'{type(item).__name__} received from '
                                                  f'{self.port}: is the link looped back?')
                continue
            self._consecutive_errors = 0
            self._last_valid = now
            self.counters['frames'] += 1
            if isinstance(item, EncoderReport):
                self.last_report = item
                fl, fr, rl, rr = (t * self.rad_per_tick for t in self._unwrap_ticks(item.ticks))
                positions: Speeds = (fl, fr, rl, rr)
                feedback.append(WheelFeedback(self._unwrap_board_time(item.board_time),
                                              item.speeds, positions))
            elif isinstance(item, ErrorReport):
                self.counters['board_errors'] += 1
                wheel = '' if item.wheel == 0xFF else f' on wheel {item.wheel}'
                text = f'board error {item.name}{wheel} (detail {item.detail})'
                if item.code in STOPPING_ERRORS:
                    self._board_fault_until = now + self.fault_hold
                    self._board_fault = text
                    self._event('error', 'board_error', text + ': wheels stopped')
                else:
                    self._event('warn', 'board_error', text)
        self._update_fault_state(now)
        return feedback

    def health(self, now: float) -> BackendHealth:
        fault = self._fault_reason(now)
        return BackendHealth(not fault, fault, dict(self.counters))

    def events(self) -> List[BackendEvent]:
        out, self._events = self._events, []
        return out

    def close(self) -> None:
        if self._ser is not None:
            try:
                self._write(encode_message(StopCommand(), self._next_seq()))
                self._ser.close()
            finally:
                self._ser = None

    # --- Internals -----------------------------------------------------------------------------
    def _fault_reason(self, now: float) -> str:
        last = self._last_valid if self._last_valid is not None else self._opened_at
        if now - last > self.device_timeout:
            never = ' (never heard from it)' if self._last_valid is None else ''
            return f'device {self.port} silent for {now - last:.2f} s{never}'
        if now < self._link_fault_until:
            return f'corrupted frames from {self.port} ({self.counters["checksum"]} checksum ' \
                   f'errors so far)'
        if now < self._board_fault_until:
            return self._board_fault
        return ''

    def _update_fault_state(self, now: float) -> None:
        fault = self._fault_reason(now)
        silent = fault.startswith('device')
        if silent and not self._was_silent:
            self.counters['silent'] += 1
            self._event('error', 'silent', fault + ': wheels stopped')
        self._was_silent = silent
        if fault and not self._faulted:
            self._write(encode_message(StopCommand(), self._next_seq()))
        elif not fault and self._faulted:
            self._write(encode_message(ClearFaultCommand(), self._next_seq()))
            self._event('info', 'recovered', f'{self.port} healthy again: driving resumes')
        self._faulted = bool(fault)

    def _unwrap_board_time(self, board_time: float) -> float:
        # The board clock is a u32 of microseconds: it wraps every ~71.6 minutes.
        if self._last_board_time is not None and board_time < self._last_board_time - 60.0:
            self._board_time_offset += 2.0 ** 32 * 1e-6
        self._last_board_time = board_time
        return board_time + self._board_time_offset

    def _unwrap_ticks(self, raw: Sequence[int]) -> List[int]:
        # int32 counters wrap; accumulate wrap-safe differences in Python ints instead.
        if self._raw_ticks is None:
            self._ticks = [int(t) for t in raw]
        else:
            for i, (new, old) in enumerate(zip(raw, self._raw_ticks)):
                self._ticks[i] += ((int(new) - int(old) + 2 ** 31) % 2 ** 32) - 2 ** 31
        self._raw_ticks = tuple(int(t) for t in raw)
        return list(self._ticks)

    def _read(self) -> bytes:
        if self._ser is None:
            return b''
        try:
            waiting = self._ser.in_waiting
            return bytes(self._ser.read(waiting)) if waiting else b''
        except (OSError, IOError) as exc:  # device unplugged: it will show up as silence
            self._event('error', 'read_error', f'read from {self.port} failed: {exc}')
            return b''

    def _write(self, frame: bytes) -> None:
        if self._ser is None:
            return
        try:
            self._ser.write(frame)
        except Exception as exc:  # noqa: BLE001 - serial raises several types; keep looping
            self.counters['write_errors'] += 1
            self._event('error', 'write_error', f'write to {self.port} failed: {exc}')

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def _event(self, level: str, kind: str, message: str) -> None:
        self._events.append(BackendEvent(level, kind, message))
        del self._events[:-100]   # never grow without bound if nobody drains them
