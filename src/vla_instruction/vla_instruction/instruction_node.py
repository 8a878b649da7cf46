"""`instruction_node`: Korean / English text and voice -> `instruction`; stop words -> e-stop.

Inputs: `instruction_text` (std_msgs/String, RELIABLE), `audio` (vla_msgs/AudioChunk, AUDIO).
Outputs: `instruction` (vla_msgs/Instruction, LATCHED), `estop` (std_msgs/Bool, LATCHED; only
ever true), `~/debug/utterance` (std_msgs/String, JSON per voice utterance), `/diagnostics`.
Calls: `<estop_service>` (vla_msgs/srv/Estop, default `safety_gate/trigger_estop`).

A stop word ("멈춰", "정지", "그만", "stop", ...) engages the e-stop twice, independently of the
policy: Bool(true) on `estop` and a call of the safety gate's trigger service with the reason;
then an Instruction with STATUS_STOP is published. Text the acceptance policy refuses
(prohibitions, questions, conditions, conflicts, unknown targets, bad input, low ASR
confidence: docs/instruction.md) is published with STATUS_REFUSED, text it cannot read with
STATUS_NOT_UNDERSTOOD; both carry `reason` ("<category>: <why>") and the policy idles.
`instruction_text` is taken as serialized bytes and decoded strictly (core/wire.py): rclpy
would cut a string at a NUL byte and hide invalid UTF-8.

Voice: chunks (S16LE/F32LE, any rate and channel count) -> mono 16 kHz -> Silero VAD utterance
segmentation (in the audio callback, ~0.2 ms per 32 ms frame) -> Whisper (faster-whisper) in a
worker thread -> the same path as text, with source VOICE and confidence = ASR x normaliser.
"""

from __future__ import annotations

import importlib.util
import json
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from std_msgs.msg import Bool, String
from vla_common import topics
from vla_common.node_main import run_node
from vla_common.params import declare
from vla_common.qos import AUDIO_QOS, LATCHED_QOS, RELIABLE_QOS
from vla_msgs.msg import AudioChunk, Instruction
from vla_msgs.srv import Estop

from vla_instruction.core.audio import (AudioFormatError, decode_pcm, StreamResampler,
                                        TARGET_RATE)
from vla_instruction.core.ids import InstructionIds
from vla_instruction.core.acceptance import BAD_INPUT
from vla_instruction.core.normalizer import (KNOWN_TARGETS, LEFT, normalize,
                                             NormalizedInstruction, refusal, RIGHT, Status,
                                             TARGET_OBJECTS, with_asr_confidence)
from vla_instruction.core.segmenter import SegmenterConfig, Utterance, UtteranceSegmenter
from vla_instruction.core.wire import decode_string_message, printable, UnknownEncoding

DEBUG_UTTERANCE = '~/debug/utterance'
_SIDES = {LEFT: Instruction.SIDE_LEFT, RIGHT: Instruction.SIDE_RIGHT}
_STATUS = {Status.UNDERSTOOD: Instruction.STATUS_UNDERSTOOD,
           Status.NOT_UNDERSTOOD: Instruction.STATUS_NOT_UNDERSTOOD,
           Status.REFUSED: Instruction.STATUS_REFUSED,
           Status.STOP: Instruction.STATUS_STOP}
_SOURCE_NAMES = {Instruction.SOURCE_TEXT: 'text', Instruction.SOURCE_VOICE: 'voice'}


@dataclass(frozen=True)
class _UtteranceMeta:
    index: int
    start_s: float          # stream time (s since the first audio sample)
    end_s: float
    reason: str
    start_stamp: float      # ROS time (s) when the speech started (from the chunk stamps)
    end_stamp: float        # ROS time (s) when the utterance ended
    queued_at: float        # monotonic


def _to_time(seconds: float) -> Time:
    sec = int(math.floor(seconds))
    return Time(sec=sec, nanosec=int(round((seconds - sec) * 1e9)) % 1_000_000_000)


class InstructionNode(Node):
    """Text and voice front-end of the stack (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(topics.INSTRUCTION_NODE, **kwargs)
        self._p = self._declare_parameters()
        self._ids = InstructionIds(self._p['id_prefix'])
        self._lock = threading.Lock()
        self._stats: Dict[str, int] = {'instructions': 0, 'understood': 0, 'not_understood': 0,
                                       'refused': 0, 'stops': 0, 'utterances': 0,
                                       'no_speech': 0, 'asr_errors': 0, 'bad_chunks': 0}
        self._last_asr_latency = float('nan')

        self._pub = self.create_publisher(Instruction, topics.INSTRUCTION, LATCHED_QOS)
        self._estop_pub = self.create_publisher(Bool, topics.ESTOP, LATCHED_QOS)
        self._diag_pub = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, RELIABLE_QOS)
        self._estop_client = self.create_client(Estop, self._p['estop_service'])
        self.create_subscription(String, topics.INSTRUCTION_TEXT, self._on_text, RELIABLE_QOS,
                                 raw=True)
        self._voice = None
        if self._p['voice_enabled']:
            self._voice = _VoicePath(self)
            self.create_subscription(AudioChunk, topics.AUDIO, self._voice.on_audio, AUDIO_QOS)
        self.create_timer(1.0 / self._p['diagnostics_rate'], self._publish_diagnostics)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.get_logger().info(
            f'instruction node up: run {self._ids.run}, e-stop service '
            f'{self._estop_client.srv_name}, voice '
            + ('enabled (' + self._voice.describe() + ')' if self._voice else 'disabled'))

    # --- parameters ---------------------------------------------------------------------------
    def _declare_parameters(self) -> Dict[str, Any]:
        d = declare
        p: Dict[str, Any] = {}
        p['estop_service'] = d(self, 'estop_service', 'safety_gate/trigger_estop',
                               'vla_msgs/srv/Estop service engaged on a stop word '
                               '(relative names resolve in the node namespace)', read_only=True)
        p['min_confidence'] = d(self, 'min_confidence', 0.3,
                                'instructions below this confidence (ASR x normaliser) are '
                                'REFUSED with "please repeat"; stop words always stop', 0.0, 1.0)
        p['known_targets'] = d(self, 'known_targets', list(KNOWN_TARGETS),
                               'objects this robot may be sent to or handle (of '
                               f'{", ".join(TARGET_OBJECTS)}); any other target is refused',
                               read_only=True)
        unknown = sorted(set(p['known_targets']) - set(TARGET_OBJECTS))
        if unknown:
            raise ValueError(f'known_targets: {unknown} are not objects the normaliser reads '
                             f'({", ".join(TARGET_OBJECTS)})')
        p['id_prefix'] = d(self, 'id_prefix', 'ins', 'prefix of instruction ids', read_only=True)
        p['diagnostics_rate'] = d(self, 'diagnostics_rate', 1.0, 'Hz of /diagnostics', 0.1, 10.0,
                                  read_only=True)
        p['voice_enabled'] = d(self, 'voice_enabled', True,
                               'subscribe to `audio` and run VAD + Whisper (needs silero-vad, '
                               'faster-whisper and a model)', read_only=True)
        p['vad_threshold'] = d(self, 'vad_threshold', 0.5, 'speech probability that starts an '
                               'utterance (Silero VAD)', 0.05, 0.95, read_only=True)
        p['vad_min_silence_ms'] = d(self, 'vad_min_silence_ms', 500, 'silence that ends an '
                                    'utterance (ms)', 50, 5000, read_only=True)
        p['vad_min_speech_ms'] = d(self, 'vad_min_speech_ms', 250, 'shorter utterances are '
                                   'dropped (ms)', 0, 5000, read_only=True)
        p['vad_max_utterance_s'] = d(self, 'vad_max_utterance_s', 10.0, 'utterances are cut at '
                                     'this length (s)', 1.0, 30.0, read_only=True)
        p['vad_speech_pad_ms'] = d(self, 'vad_speech_pad_ms', 200, 'audio kept before and after '
                                   'speech for the recogniser (ms)', 0, 1000, read_only=True)
        p['asr_model_path'] = d(self, 'asr_model_path', 'pkg:whisper-base',
                                'CTranslate2 Whisper model: pkg:whisper-base, pkg:whisper-small '
                                'or a directory with model.bin', read_only=True)
        p['asr_device'] = d(self, 'asr_device', 'auto', "'auto' (CUDA when present), 'cpu' or "
                            "'cuda'", read_only=True)
        p['asr_compute_type'] = d(self, 'asr_compute_type', 'auto', "'auto' (int8 on CPU, "
                                  "float16 on CUDA) or a CTranslate2 compute type",
                                  read_only=True)
        p['asr_language'] = d(self, 'asr_language', 'ko', 'Whisper language code',
                              read_only=True)
        p['asr_beam_size'] = d(self, 'asr_beam_size', 1, 'beam size (1 = greedy, fastest)', 1, 10,
                               read_only=True)
        p['asr_cpu_threads'] = d(self, 'asr_cpu_threads', 0, 'CTranslate2 CPU threads (0 = its '
                                 'default)', 0, 64, read_only=True)
        p['asr_initial_prompt'] = d(self, 'asr_initial_prompt', '', 'optional Whisper prompt (not '
                                    'a vocabulary list: Whisper copies its words)',
                                    read_only=True)
        p['asr_temperature_fallback'] = d(self, 'asr_temperature_fallback', False,
                                          're-decode unreliable results at higher temperatures '
                                          '(up to 6x the latency)', read_only=True)
        p['asr_cache_dir'] = d(self, 'asr_cache_dir', '', 'where pkg: models are assembled '
                               "('' = $VLA_MODEL_CACHE or ~/.cache/vla_instruction)",
                               read_only=True)
        p['asr_max_queue'] = d(self, 'asr_max_queue', 4, 'utterances waiting for the recogniser; '
                               'the oldest is dropped beyond this', 1, 64, read_only=True)
        return p

    def _on_set_parameters(self, params: Any) -> SetParametersResult:
        for param in params:
            if param.name == 'min_confidence':
                self._p['min_confidence'] = float(param.value)
        return SetParametersResult(successful=True)

    # --- text ---------------------------------------------------------------------------------
    def _on_text(self, data: bytes) -> None:
        try:
            wire = decode_string_message(data)
            text, problem = wire.text, wire.problem
        except UnknownEncoding as exc:
            self.get_logger().warn(f'instruction_text: {exc}; decoded by rclpy instead',
                                   throttle_duration_sec=10.0)
            text, problem = deserialize_message(data, String).data, ''
        self.handle_text(text, Instruction.SOURCE_TEXT, 1.0, self._now(), problem=problem)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def handle_text(self, text: str, source: int, asr_confidence: float, stamp: float,
                    origin: str = '', problem: str = '') -> Instruction:
        """Normalise, engage the e-stop on a stop word, publish and log the Instruction.

        `problem`: what was wrong with the bytes the text came from (a refusal as bad input,
        unless the text holds a stop word). Never raises: whatever goes wrong, a refusal is
        published and logged, and the node keeps running."""
        src = _SOURCE_NAMES.get(source, str(source)) + (f' {origin}' if origin else '')
        try:
            reading = with_asr_confidence(normalize(text, self._p['known_targets']),
                                          asr_confidence, self._p['min_confidence'])
            if problem and not reading.is_stop:
                reading = refusal(text, BAD_INPUT, problem)
        except Exception as exc:  # noqa: BLE001 - refuse, log, keep serving
            self.get_logger().error(f'reading {printable(text, 120)!r} failed: '
                                    f'{type(exc).__name__}: {exc}')
            reading = refusal(text, BAD_INPUT, f'internal error: {type(exc).__name__}')
        if reading.is_stop:
            self._engage_estop(reading, src)
        with self._lock:
            msg = self._to_message(reading, source, stamp)
            self._pub.publish(msg)
            self._stats['instructions'] += 1
            self._stats[{Instruction.STATUS_STOP: 'stops',
                         Instruction.STATUS_UNDERSTOOD: 'understood',
                         Instruction.STATUS_REFUSED: 'refused'}.get(
                             msg.status, 'not_understood')] += 1
        log = self.get_logger()
        shown = printable(text, 120)
        if msg.status == Instruction.STATUS_STOP:
            log.warn(f'{msg.id} [{src}] STOP: {reading.reason} in {shown!r}')
        elif msg.status == Instruction.STATUS_UNDERSTOOD:
            log.info(f'{msg.id} [{src}] {shown!r} -> {msg.task or "-"} {msg.canonical!r} '
                     f'(confidence {msg.confidence:.2f})')
        else:
            log.warn(f'{msg.id} [{src}] {reading.status.value.replace("_", " ")}: {msg.reason} '
                     f'in {shown!r} (policy idles)')
        return msg

    def _to_message(self, reading: NormalizedInstruction, source: int,
                    stamp: float) -> Instruction:
        msg = Instruction()
        msg.header.stamp = _to_time(stamp)
        msg.id = self._ids.next()
        # The original text, unless it cannot travel as a ROS string (a NUL would cut it, a
        # lone surrogate cannot be encoded) or is bad input: then a printable rendering.
        text = reading.text
        try:
            text.encode('utf-8')
            travels = '\x00' not in text
        except UnicodeEncodeError:
            travels = False
        msg.text = text if travels and reading.category != BAD_INPUT else printable(text)
        msg.language = reading.language
        msg.source = source
        msg.status = _STATUS[reading.status]
        msg.confidence = float(reading.confidence)
        if reading.status is Status.STOP:
            msg.confidence = 1.0
        if reading.status in (Status.UNDERSTOOD, Status.STOP):
            msg.canonical = reading.canonical
            msg.task = reading.scenario
            msg.target_object = reading.target_object
            msg.obstacle_count = int(reading.obstacle_count)
            msg.side = _SIDES.get(reading.side, Instruction.SIDE_NONE)
            msg.maneuver = reading.maneuver
        if reading.status is Status.STOP:
            msg.reason = reading.reason
        elif reading.status is not Status.UNDERSTOOD:
            msg.reason = f'{reading.category}: {reading.reason}'
        return msg

    # --- e-stop -------------------------------------------------------------------------------
    def _engage_estop(self, reading: NormalizedInstruction, source: str) -> None:
        """Both paths, topic first (no discovery or response needed), then the service."""
        self._estop_pub.publish(Bool(data=True))
        reason = (f'{self.get_name()}: stop word {reading.stop_word!r} ({source}: '
                  f'{reading.text!r})')
        if not self._estop_client.service_is_ready():
            self.get_logger().error(
                f'e-stop service {self._estop_client.srv_name} is not available: only the '
                f'`estop` topic carried this stop (calling anyway)')
        future = self._estop_client.call_async(Estop.Request(reason=reason))
        future.add_done_callback(self._on_estop_response)

    def _on_estop_response(self, future: Any) -> None:
        try:
            response = future.result()
        except Exception as exc:  # noqa: BLE001 - report, the topic path already stopped
            self.get_logger().error(f'e-stop service call failed: {exc}')
            return
        if response is None or not response.success:
            self.get_logger().error('e-stop service refused: '
                                    f'{getattr(response, "message", "no response")}')
        else:
            self.get_logger().info(f'e-stop service: {response.message}')

    # --- diagnostics --------------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        status = DiagnosticStatus(name=f'{self.get_name()}: instructions',
                                  hardware_id=self.get_fully_qualified_name())
        status.level, status.message = DiagnosticStatus.OK, 'text path ready'
        values = {k: str(v) for k, v in self._stats.items()}
        values['min_confidence'] = f'{self._p["min_confidence"]:.2f}'
        if self._voice is not None:
            level, message, extra = self._voice.status()
            status.level = max(status.level, level)
            status.message += f'; voice: {message}'
            values.update(extra)
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diag_pub.publish(array)

    def destroy_node(self) -> None:
        if self._voice is not None:
            self._voice.stop()
        super().destroy_node()


class _VoicePath:
    """Audio chunks -> utterances -> ASR worker -> `InstructionNode.handle_text`."""

    def __init__(self, node: InstructionNode) -> None:
        from vla_instruction.speech.asr import AsrSettings, AsrWorker, WhisperRecognizer
        from vla_instruction.speech.vad import SileroVad

        self._node = node
        p = node._p
        if importlib.util.find_spec('faster_whisper') is None:
            raise RuntimeError('voice_enabled is true but faster-whisper is not installed: '
                               'pip install faster-whisper==1.2.1 (or set voice_enabled: false)')
        try:
            self._vad = SileroVad()
        except Exception as exc:
            raise RuntimeError(f'voice_enabled is true but the VAD cannot start: {exc} '
                               '(or set voice_enabled: false)') from exc
        self._config = SegmenterConfig(
            sample_rate=TARGET_RATE, frame_samples=self._vad.frame_samples,
            threshold=p['vad_threshold'], min_silence_ms=p['vad_min_silence_ms'],
            min_speech_ms=p['vad_min_speech_ms'], max_utterance_s=p['vad_max_utterance_s'],
            speech_pad_ms=p['vad_speech_pad_ms'])
        self._segmenter = UtteranceSegmenter(self._config, self._vad, self._vad.reset)
        self._settings = AsrSettings(
            model_path=p['asr_model_path'], device=p['asr_device'],
            compute_type=p['asr_compute_type'], language=p['asr_language'],
            beam_size=p['asr_beam_size'], cpu_threads=p['asr_cpu_threads'],
            initial_prompt=p['asr_initial_prompt'], cache_dir=p['asr_cache_dir'],
            temperature_fallback=p['asr_temperature_fallback'])
        self._debug_pub = node.create_publisher(String, DEBUG_UTTERANCE, RELIABLE_QOS)
        self._format: Optional[Tuple[int, int, int]] = None
        self._resampler: Optional[StreamResampler] = None
        self._base_stamp: Optional[float] = None     # ROS time of stream sample _base_sample
        self._base_sample = 0
        self._utterances = 0
        self._worker = AsrWorker(lambda: WhisperRecognizer(self._settings), self._on_transcript,
                                 self._on_asr_error, self._on_asr_ready,
                                 max_queue=p['asr_max_queue'])

    def describe(self) -> str:
        c = self._config
        return (f'Silero VAD threshold {c.threshold:g}, min silence {c.min_silence_ms} ms, max '
                f'utterance {c.max_utterance_s:g} s; ASR {self._settings.model_path} '
                f'({self._settings.device}/{self._settings.compute_type}, '
                f'language {self._settings.language}) loading in the background')

    # Audio callback (its own callback group): decode, resample, segment. Never blocks on ASR.
    def on_audio(self, msg: AudioChunk) -> None:
        log = self._node.get_logger()
        try:
            if msg.sample_rate == 0:
                raise AudioFormatError('sample_rate is 0')
            samples = decode_pcm(bytes(msg.data), int(msg.encoding), int(msg.channels))
        except AudioFormatError as exc:
            self._node._stats['bad_chunks'] += 1
            log.warn(f'dropped an audio chunk: {exc}', throttle_duration_sec=5.0)
            return
        fmt = (int(msg.sample_rate), int(msg.channels), int(msg.encoding))
        if fmt != self._format:
            if self._format is not None:
                log.info(f'audio format changed {self._format} -> {fmt}: closing the current '
                         'utterance')
                for utt in self._segmenter.flush():
                    self._submit(utt)
            self._format = fmt
            self._resampler = StreamResampler(fmt[0], TARGET_RATE)
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        position = self._segmenter.stream_samples
        if stamp <= 0.0:
            stamp = self._node._now()
        if self._base_stamp is None:
            self._base_stamp, self._base_sample = stamp, position
        else:
            expected = self._base_stamp + (position - self._base_sample) / TARGET_RATE
            if abs(stamp - expected) > 0.5:   # a gap or a new source: re-anchor the clock
                self._base_stamp, self._base_sample = stamp, position
        assert self._resampler is not None
        for utt in self._segmenter.feed(self._resampler.process(samples)):
            self._submit(utt)

    def _submit(self, utt: Utterance) -> None:
        self._utterances += 1
        self._node._stats['utterances'] += 1

        def stamp(sample: int) -> float:
            assert self._base_stamp is not None
            return self._base_stamp + (sample - self._base_sample) / TARGET_RATE

        meta = _UtteranceMeta(self._utterances, utt.start_s, utt.end_s, utt.reason,
                              stamp(utt.speech_start), stamp(utt.speech_end), time.monotonic())
        self._node.get_logger().info(
            f'utterance {meta.index}: {utt.start_s:.2f}-{utt.end_s:.2f} s '
            f'({utt.duration_s:.2f} s, {utt.reason}) -> recogniser '
            f'({self._worker.pending} waiting, {self._worker.state})')
        self._worker.submit(utt.audio, meta)

    # Worker-thread callbacks.
    def _on_asr_ready(self, recognizer: Any) -> None:
        self._node.get_logger().info(
            f'recogniser ready: {recognizer.model_dir} on {recognizer.device}/'
            f'{recognizer.compute_type} (loaded in {recognizer.load_s:.1f} s)')

    def _on_transcript(self, meta: _UtteranceMeta, tr: Any) -> None:
        node = self._node
        node._last_asr_latency = tr.latency_s
        no_speech = tr.likely_no_speech
        self._publish_debug(meta, text=tr.text, asr_confidence=tr.confidence,
                            no_speech_prob=round(tr.no_speech_prob, 4),
                            latency_s=round(tr.latency_s, 3),
                            waited_s=round(time.monotonic() - meta.queued_at - tr.latency_s, 3),
                            no_speech=no_speech)
        if no_speech:
            node._stats['no_speech'] += 1
            node.get_logger().info(f'utterance {meta.index}: no speech recognised '
                                   f'({tr.text!r}, no-speech p {tr.no_speech_prob:.2f}): ignored')
            return
        node.handle_text(tr.text, Instruction.SOURCE_VOICE, tr.confidence, meta.end_stamp,
                         origin=f'utterance {meta.index}')

    def _on_asr_error(self, meta: _UtteranceMeta, exc: BaseException) -> None:
        self._node._stats['asr_errors'] += 1
        self._publish_debug(meta, error=f'{type(exc).__name__}: {exc}')
        self._node.get_logger().error(f'utterance {meta.index}: not recognised: '
                                      f'{type(exc).__name__}: {exc}')

    def _publish_debug(self, meta: _UtteranceMeta, **fields: Any) -> None:
        # start_s/end_s: seconds since the first audio sample this node received; the stamps
        # are ROS time from the chunk headers (robust to chunks lost before discovery).
        record = {'index': meta.index, 'start_s': round(meta.start_s, 3),
                  'end_s': round(meta.end_s, 3), 'start_stamp': round(meta.start_stamp, 3),
                  'end_stamp': round(meta.end_stamp, 3), 'reason': meta.reason}
        record.update(fields)
        self._debug_pub.publish(String(data=json.dumps(record, ensure_ascii=False)))

    def status(self) -> Tuple[int, str, Dict[str, str]]:
        state = self._worker.state
        level = {'ready': DiagnosticStatus.OK, 'loading': DiagnosticStatus.WARN}.get(
            state, DiagnosticStatus.ERROR)
        message = f'recogniser {state}'
        if self._worker.error is not None:
            message += f': {self._worker.error}'
        values = {'asr_state': state, 'asr_pending': str(self._worker.pending),
                  'asr_last_latency_s': f'{self._node._last_asr_latency:.3f}',
                  'vad_dropped_short': str(self._segmenter.dropped),
                  'audio_format': str(self._format)}
        return level, message, values

    def stop(self) -> None:
        self._worker.stop(timeout=2.0)


def main(args: Optional[list] = None) -> int:
    """Entry point of `instruction_node`.

    Single-threaded like every node of the stack: the recogniser runs in its own worker thread
    and the e-stop service is called asynchronously, so no callback blocks another for longer
    than one audio chunk's VAD. rclpy 9.1's MultiThreadedExecutor cost this node 25-50 % of a
    core under `use_sim_time` (every 100 Hz /clock message wakes its thread pool; 4.5 % with
    the single-threaded executor, docs/instruction.md).
    """
    return run_node(InstructionNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
