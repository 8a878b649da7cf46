"""A motor-controller board emulator on a pseudo-terminal, speaking the serial protocol.

For tests and for trying `base_driver` without hardware:

    python -m mobile_base.tools.board_emulator        # prints the pty path to use as `port`

The emulated board follows WHEEL_VELOCITY commands instantly, integrates encoder ticks,
reports ENCODER_REPORT at `report_rate`, brakes on STOP, and has its own watchdog (no command
for `watchdog` s -> wheels zero and one COMMAND_TIMEOUT error report). Faults can be injected:
`silent` (stops talking), `corrupt_reports(n)` (flips a byte in the next n reports),
`send_error(code)`.
"""

from __future__ import annotations

import math
import os
import select
import threading
import time
import tty
from typing import Any, List, Optional, Tuple

from mobile_base.core.protocol import (ClearFaultCommand, encode_message, EncoderReport,
                                       ErrorCode, ErrorReport, FrameDecoder, FrameError,
                                       StopCommand, WheelVelocityCommand)


class BoardEmulator:
    """The board side of the link, on the master end of a pty (the driver opens `port`)."""

    def __init__(self, report_rate: float = 50.0, ticks_per_rev: int = 4096,
                 watchdog: float = 0.25) -> None:
        self.report_rate = report_rate
        self.ticks_per_rev = ticks_per_rev
        self.watchdog = watchdog
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)        # no echo or line editing before the driver opens it
        self.port = os.ttyname(self._slave)
        self._lock = threading.Lock()
        self.received: List[Tuple[float, Any]] = []   # (monotonic time, message)
        self.bad_frames = 0
        self.speeds = [0.0, 0.0, 0.0, 0.0]
        self.positions = [0.0, 0.0, 0.0, 0.0]       # rad
        self.silent = False
        self._corrupt = 0
        self._pending: List[bytes] = []
        self._seq = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._t0 = time.monotonic()
        self._last_cmd = time.monotonic()
        self._timed_out = False

    # --- Control ------------------------------------------------------------------------------
    def start(self) -> 'BoardEmulator':
        self._thread = threading.Thread(target=self._run, name='board-emulator', daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> 'BoardEmulator':
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def corrupt_reports(self, n: int) -> None:
        with self._lock:
            self._corrupt += n

    def send_error(self, code: int, wheel: int = 0xFF, detail: int = 0) -> None:
        with self._lock:
            self._pending.append(encode_message(ErrorReport(int(code), wheel, detail),
                                                self._next_seq()))

    def messages(self, kind: type = object, since: float = 0.0) -> List[Any]:
        with self._lock:
            return [m for t, m in self.received if t >= since and isinstance(m, kind)]

    # --- Board loop ---------------------------------------------------------------------------
    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def _run(self) -> None:
        decoder = FrameDecoder()
        period = 1.0 / self.report_rate
        next_report = time.monotonic()
        last = time.monotonic()
        while not self._stop.is_set():
            timeout = max(0.0, next_report - time.monotonic())
            try:
                ready, _, _ = select.select([self._master], [], [], timeout)
            except (OSError, ValueError):
                return
            now = time.monotonic()
            if ready:
                try:
                    data = os.read(self._master, 4096)
                except OSError:
                    data = b''
                for item in decoder.feed_messages(data):
                    self._handle(item, now)
            dt, last = now - last, now
            with self._lock:
                for i in range(4):
                    self.positions[i] += self.speeds[i] * dt
                if now - self._last_cmd > self.watchdog and not self._timed_out:
                    self._timed_out = True
                    self.speeds = [0.0] * 4
                    self._pending.append(encode_message(
                        ErrorReport(ErrorCode.COMMAND_TIMEOUT), self._next_seq()))
                out, self._pending = self._pending, []
            if now >= next_report:
                next_report += period
                if next_report < now:
                    next_report = now + period
                out.append(self._report(now))
            if self.silent:
                continue
            for frame in out:
                try:
                    os.write(self._master, frame)
                except OSError:
                    return

    def _report(self, now: float) -> bytes:
        with self._lock:
            ticks = tuple(int(math.floor(p / (2 * math.pi) * self.ticks_per_rev))
                          for p in self.positions)
            report = EncoderReport(now - self._t0, (ticks[0], ticks[1], ticks[2], ticks[3]),
                                   (self.speeds[0], self.speeds[1], self.speeds[2],
                                    self.speeds[3]))
            frame = bytearray(encode_message(report, self._next_seq()))
            if self._corrupt > 0:
                self._corrupt -= 1
                frame[12] ^= 0x10
        return bytes(frame)

    def _handle(self, item: Any, now: float) -> None:
        with self._lock:
            if isinstance(item, FrameError):
                if item.kind != 'garbage':
                    self.bad_frames += 1
                return
            self.received.append((now, item))
            if isinstance(item, WheelVelocityCommand):
                self.speeds = list(item.speeds)
                self._last_cmd = now
                self._timed_out = False
            elif isinstance(item, StopCommand):
                self.speeds = [0.0] * 4
                self._last_cmd = now
            elif isinstance(item, ClearFaultCommand):
                self._last_cmd = now


def main() -> None:
    board = BoardEmulator().start()
    print(f'board emulator on {board.port} (Ctrl-C to stop)', flush=True)
    try:
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        board.stop()


if __name__ == '__main__':
    main()
