"""Every vla_msgs message survives a bag through the common ros2msg readers.

A bag with one populated message of every vla_msgs type (Korean text, arrays, constants in
the schema) is written by BagWriter, then read back from the schemas embedded in the bag by
two independent ros2msg parsers: `rosbags`' AnyReader (no typestore given: it builds its
types from the bag's own definitions) and Foxglove's MCAP ROS 2 decoder (mcap-ros2-support,
the Python sibling of the parser Foxglove Studio uses). Each decoded message must equal what
rclpy serialized. An empty string constant (`string X=`), for example, makes AnyReader refuse
the schema.
"""

import pathlib

import pytest
from rclpy.serialization import serialize_message
from vla_bringup.bags import BagWriter, message_class

MSG_DIR = pathlib.Path(__file__).resolve().parents[2] / 'vla_msgs' / 'msg'
TYPES = sorted(f'vla_msgs/msg/{p.stem}' for p in MSG_DIR.glob('*.msg'))


def _populate(msg, depth=0):
    """Fill every field with a non-default value (text in Korean) so nothing decodes by luck."""
    for name, kind in msg.get_fields_and_field_types().items():
        value = getattr(msg, name)
        if kind == 'string':
            setattr(msg, name, f'{name} 왼쪽')
        elif kind == 'boolean':
            setattr(msg, name, True)
        elif kind in ('float', 'double'):
            setattr(msg, name, 0.25)
        elif kind.startswith(('int', 'uint', 'byte', 'octet', 'char')) and '[' not in kind \
                and '<' not in kind:
            setattr(msg, name, 3)
        elif kind.startswith('sequence<string'):
            setattr(msg, name, ['가', 'b'])
        elif kind.startswith(('sequence<float', 'sequence<double')):
            setattr(msg, name, [0.5, -1.5, 2.0])
        elif kind.startswith(('sequence<int', 'sequence<uint', 'sequence<octet')):
            setattr(msg, name, [1, 2, 3])
        elif kind.startswith(('float[', 'double[')):
            setattr(msg, name, [0.5] * len(value))
        elif hasattr(value, 'get_fields_and_field_types') and depth < 2:
            _populate(value, depth + 1)
    return msg


@pytest.fixture(scope='module')
def bag(tmp_path_factory):
    path = tmp_path_factory.mktemp('schemas') / 'all'
    sent = {}
    with BagWriter(str(path), 'mcap') as writer:
        for i, msgtype in enumerate(TYPES):
            msg = _populate(message_class(msgtype)())
            topic = '/' + msgtype.rsplit('/', 1)[-1].lower()
            writer.write(topic, msgtype, 1_000 + i, serialize_message(msg))
            sent[msgtype] = msg
    return path, sent


def test_every_message_type_is_in_the_bag():
    assert 'vla_msgs/msg/PolicyStatus' in TYPES and len(TYPES) >= 8


def _same(decoded, sent, msgtype):
    for name in sent.get_fields_and_field_types():
        want = getattr(sent, name)
        got = getattr(decoded, name)
        if hasattr(want, 'get_fields_and_field_types'):
            _same(got, want, f'{msgtype}.{name}')
        elif isinstance(want, float) or hasattr(want, 'tolist'):
            assert list(got) == pytest.approx(list(want)) if hasattr(want, '__len__') \
                else got == pytest.approx(want), f'{msgtype}.{name}'
        else:
            assert (list(got) if isinstance(want, list) else got) == want, f'{msgtype}.{name}'


def test_rosbags_anyreader_parses_the_embedded_schemas(bag):
    from rosbags.highlevel import AnyReader

    path, sent = bag
    with AnyReader([path]) as reader:
        decoded = {c.msgtype: reader.deserialize(raw, c.msgtype)
                   for c, _, raw in reader.messages(connections=reader.connections)}
    assert set(decoded) == set(TYPES)
    for msgtype, msg in sent.items():
        _same(decoded[msgtype], msg, msgtype)


def test_foxglove_mcap_ros2_decoder_parses_the_embedded_schemas(bag):
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    path, sent = bag
    mcap_file = next(path.glob('*.mcap'))
    decoded = {}
    with open(mcap_file, 'rb') as f:
        for schema, _, _, msg in make_reader(f, decoder_factories=[DecoderFactory()]) \
                .iter_decoded_messages():
            decoded[schema.name] = msg
    assert set(decoded) == set(TYPES)
    for msgtype, msg in sent.items():
        _same(decoded[msgtype], msg, msgtype)
