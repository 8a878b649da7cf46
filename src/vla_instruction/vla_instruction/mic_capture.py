"""`mic_capture`: a microphone -> `audio` (vla_msgs/AudioChunk, S16LE, AUDIO QoS).

Uses `sounddevice` (PortAudio). Capture blocks arrive on PortAudio's thread and are only queued
there; a timer cuts them into fixed `chunk_ms` chunks (`core.audio.AudioChunker`, sample-accurate
stamps) and publishes. Without sounddevice / PortAudio / an input device the node exits with
an error that says what to install or configure.
"""

from __future__ import annotations

import queue
import time
from typing import Any, List, Optional, Tuple

from rclpy.node import Node
from vla_common import topics
from vla_common.node_main import run_node
from vla_common.params import declare
from vla_common.qos import AUDIO_QOS
from vla_msgs.msg import AudioChunk

from vla_instruction.core.audio import AudioChunker, CaptureChunk, ENCODING_S16LE

INSTALL_HINT = ('mic_capture needs the sounddevice package and the PortAudio library: '
                'pip install sounddevice==0.5.6 and apt install libportaudio2')


def import_sounddevice() -> Any:
    """Import sounddevice, turning a missing package or PortAudio library into one message."""
    try:
        import sounddevice
    except (ImportError, OSError) as exc:
        raise RuntimeError(f'{INSTALL_HINT} ({type(exc).__name__}: {exc})') from exc
    return sounddevice


def parse_device(value: str) -> Optional[Any]:
    """'' -> default device, '3' -> index 3, anything else -> a name (substring) for PortAudio."""
    value = value.strip()
    if not value:
        return None
    return int(value) if value.isdigit() else value


class MicCaptureNode(Node):
    """Publish microphone audio as AudioChunk messages."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('mic_capture', **kwargs)
        self._device = declare(self, 'device', '', "input device: '' (default), an index or a "
                               'name substring (see python -m sounddevice)', read_only=True)
        self._rate = declare(self, 'sample_rate', 16000, 'capture rate (Hz); the instruction '
                             'node resamples anything to 16 kHz', 8000, 192000, read_only=True)
        self._channels = declare(self, 'channels', 1, 'channels captured (interleaved)', 1, 8,
                                 read_only=True)
        self._chunk_ms = declare(self, 'chunk_ms', 100, 'published chunk length (ms)', 10, 1000,
                                 read_only=True)
        self._frame_id = declare(self, 'frame_id', 'microphone', 'header.frame_id',
                                 read_only=True)
        sd = import_sounddevice()
        chunk_frames = max(1, int(round(self._rate * self._chunk_ms / 1000.0)))
        self._chunker = AudioChunker(self._rate, self._channels, chunk_frames, ENCODING_S16LE)
        self._blocks: 'queue.Queue[Tuple[bytes, float]]' = queue.Queue(maxsize=1000)
        self._overflows = 0
        self._pub = self.create_publisher(AudioChunk, topics.AUDIO, AUDIO_QOS)
        try:
            self._stream = sd.RawInputStream(samplerate=self._rate, channels=self._channels,
                                             dtype='int16', device=parse_device(self._device),
                                             callback=self._on_block)
            self._stream.start()
        except Exception as exc:  # noqa: BLE001 - PortAudio errors have many types
            raise RuntimeError(f'cannot open input device {self._device or "(default)"!r} at '
                               f'{self._rate} Hz x {self._channels}: {exc}') from exc
        self.create_timer(min(0.05, self._chunk_ms / 2000.0), self._drain)
        self.get_logger().info(f'capturing {self._device or "default device"} at {self._rate} Hz '
                               f'x {self._channels}, {self._chunk_ms} ms chunks -> '
                               f'{self._pub.topic_name}')

    def _on_block(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        # PortAudio thread: no ROS calls, no logging; stamp the first frame of the block.
        if status:
            self._overflows += 1
        first_frame_time = time.time() - frames / float(self._rate)
        try:
            self._blocks.put_nowait((bytes(indata), first_frame_time))
        except queue.Full:
            self._overflows += 1

    def _drain(self) -> None:
        chunks: List[CaptureChunk] = []
        while True:
            try:
                block, t = self._blocks.get_nowait()
            except queue.Empty:
                break
            chunks.extend(self._chunker.push(block, t))
        for chunk in chunks:
            self._pub.publish(self.to_message(chunk))
        if self._overflows:
            self.get_logger().warn(f'{self._overflows} capture overflow(s)/drops so far',
                                   throttle_duration_sec=10.0)

    def to_message(self, chunk: CaptureChunk) -> AudioChunk:
        msg = AudioChunk()
        sec = int(chunk.stamp)
        msg.header.stamp.sec = sec
        msg.header.stamp.nanosec = int((chunk.stamp - sec) * 1e9)
        msg.header.frame_id = self._frame_id
        msg.sample_rate = self._rate
        msg.channels = self._channels
        msg.encoding = AudioChunk.ENCODING_S16LE
        msg.data = chunk.data
        return msg

    def destroy_node(self) -> None:
        stream = getattr(self, '_stream', None)
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:  # noqa: BLE001 - device already gone
                pass
        super().destroy_node()


def main(args: Optional[list] = None) -> int:
    """Entry point of `mic_capture`."""
    return run_node(MicCaptureNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
