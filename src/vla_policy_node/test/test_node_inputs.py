"""In-process checks of the node's input handling (no model needed) and the debug drawing."""

import numpy as np
import pytest
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image
from vla_common.image import fill_image
from vla_msgs.msg import Instruction
from vla_policy_node.execution import supervisor as sv
from vla_policy_node.parameters import NodeParams
from vla_policy_node.policy_node import PolicyNode
from vla_policy_node.visualize import ascii_text, draw_debug


@pytest.fixture
def node(ros):
    n = PolicyNode(context=ros.context, parameter_overrides=[
        Parameter('autostart', value=False), Parameter('image_timeout', value=60.0)])
    ros.add_node(n)
    n.executive.active = True  # inputs are evaluated as if active; no model is loaded
    return n


def image_msg(node, stamp_offset=0.0, shape=(48, 64), encoding='rgb8'):
    msg = fill_image(Image(), np.zeros((*shape, 3), np.uint8))
    msg.encoding = encoding
    ns = node.get_clock().now().nanoseconds + int(stamp_offset * 1e9)
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(ns, 10 ** 9)
    return msg


def test_without_a_model_the_node_reports_it(node):
    node.executive.tick(0.0)
    verdict = node.executive.verdict
    assert verdict.state == sv.UNCONFIGURED and not verdict.may_command


def test_image_checks(node):
    node._on_image(image_msg(node))
    assert node.executive.image is not None and node.executive.image_error == ''
    node._on_image(image_msg(node, -1.0))                     # older than the last one
    assert 'out-of-order' in node.executive.image_error
    node._on_image(image_msg(node, encoding='yuv422'))
    assert 'encoding' in node.executive.image_error
    node._on_image(image_msg(node, shape=(8, 8)))
    assert 'smaller' in node.executive.image_error
    bad = image_msg(node)
    bad.step = 10                                              # shorter than a row
    node._on_image(bad)
    assert 'step' in node.executive.image_error
    node._on_image(image_msg(node, 0.5))
    assert node.executive.image_error == '' and node.executive.counters['images_rejected'] == 4


def test_instruction_messages_are_converted_and_unknown_statuses_refused(node):
    from vla_policy_node import messages

    msg = Instruction(id='a', text='왼쪽으로 가', status=Instruction.STATUS_REFUSED,
                      reason='prohibition')
    msg.header.stamp.sec, msg.header.stamp.nanosec = 12, 5
    ins = messages.instruction_input(msg)
    assert (ins.status, ins.reason, ins.stamp_ns) == ('refused', 'prohibition', 12 * 10**9 + 5)
    ins = messages.instruction_input(Instruction(id='b', text='x', status=77))
    assert ins.status == 'refused' and 'unknown instruction status 77' in ins.reason
    # the node has no model and is not active: an instruction is refused, never queued
    node.executive.active = False
    node._on_instruction(msg)
    assert node.executive.instruction is None


def test_parameters_are_validated(node):
    result = node.set_parameters([Parameter('trigger_mode', value='sometimes')])[0]
    assert not result.successful and 'trigger mode' in result.reason
    result = node.set_parameters([Parameter('chunk_blend', value='cubic')])[0]
    assert not result.successful
    assert node.set_parameters([Parameter('scene_threshold', value=0.2)])[0].successful
    assert node.executive.engine.config.scene_threshold == 0.2
    result = node.set_parameters([Parameter('scene_threshold', value=2.0)])[0]
    assert not result.successful   # outside the declared range
    result = node.set_parameters([Parameter('action_space', value='arm')])[0]
    assert not result.successful   # read-only
    with pytest.raises(ValueError):
        NodeParams(backend='openvino')


def test_draw_debug():
    rgb = np.zeros((480, 640, 3), np.uint8)
    chunk = np.array([[0.3, 0.2, 0.5]] * 10)
    out = draw_debug(rgb, chunk, 'base', '박스를 왼쪽으로', 'go left', 'ins-1', 'queue_low', 12.0)
    assert out.shape == (240, 320, 3) and out.dtype == np.uint8 and out.any()
    arm = draw_debug(np.zeros((224, 224, 3), np.uint8), np.full((5, 7), 0.1), 'arm')
    assert arm.shape == (224, 224, 3) and arm.any()
    assert ascii_text('박스 left') == '?? left'
