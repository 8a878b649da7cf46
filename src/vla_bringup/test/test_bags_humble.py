"""Bags written here are readable by ROS 2 Humble's rosbag2 (the target's `ros2 bag info/play`).

rosbag2 has no wheels, so `metadata.yaml` is decoded here by the upstream rules, written out
below from ros2/rosbag2 (docs/bringup.md, "Bags that Humble reads", cites files and commits):

* `rosbag2_storage/include/rosbag2_storage/yaml.hpp` (`convert<BagMetadata>::decode`,
  `convert<TopicMetadata>::decode`): every field is read with yaml-cpp `as<T>()` gated on the
  bag's own `version` (`>= 3` compression fields, `>= 4` `offered_qos_profiles` as
  `std::string`, `>= 5` `files`); Humble's metadata struct is version 5 and knows no later
  field, so a later version decodes as long as these fields keep their old types.
* `as<std::string>()` needs a scalar: version 9 writes `offered_qos_profiles` as a YAML list
  (ros2/rosbag2 PR #1476), so Humble fails with "bad conversion" (the maintainers' word in
  ros2/rosbag2 issue #2013).
* `rosbag2_transport` `publisher_qos_for_topic` + `convert<Rosbag2QoS>::decode` (qos.cpp before
  PR #1476): `ros2 bag play` parses that string as a YAML list of profiles whose policies are
  integers (`as<int>()`), durations `{sec, nsec}` (`as<uint64_t>()`), and a bool; an empty
  string means the default profile.
"""

import pathlib

import pytest
import yaml
from rclpy.serialization import serialize_message
from std_msgs.msg import Bool, String
from vla_bringup.bags import BagWriter, LATCHED_TOPICS, METADATA_VERSION, SENSOR_TOPICS


class BadConversion(Exception):
    """What yaml-cpp throws: Humble's `ros2 bag` reports 'Exception on parsing info file'."""


_MISSING = object()


def _get(node, key, where):
    if not isinstance(node, dict):
        raise BadConversion(f'{where}: not a map')
    value = node.get(key, _MISSING)
    if value is _MISSING:
        raise BadConversion(f'{where}.{key}: missing (yaml-cpp InvalidNode)')
    return value


def as_string(node, key, where):
    """yaml-cpp `as<std::string>()`: any scalar, never a list, map or null."""
    value = _get(node, key, where)
    if value is None or isinstance(value, (list, dict)):
        raise BadConversion(f'{where}.{key}: {type(value).__name__} is not a scalar string')
    return str(value)


def as_uint(node, key, where):
    """yaml-cpp `as<uint64_t>()` / `as<int>()` on a non-negative integer scalar."""
    value = _get(node, key, where)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadConversion(f'{where}.{key}: {value!r} is not an unsigned integer')
    return value


def as_bool(node, key, where):
    value = _get(node, key, where)
    if not isinstance(value, bool):
        raise BadConversion(f'{where}.{key}: {value!r} is not a bool')
    return value


def as_string_list(node, key, where):
    value = _get(node, key, where)
    if not isinstance(value, list) or any(v is None or isinstance(v, (list, dict))
                                          for v in value):
        raise BadConversion(f'{where}.{key}: not a sequence of scalars')
    return [str(v) for v in value]


def as_sequence(node, key, where):
    """(item, item's path) of a sequence node; BadConversion when it is not a sequence."""
    value = _get(node, key, where)
    if not isinstance(value, list):
        raise BadConversion(f'{where}.{key}: not a sequence')
    return [(item, f'{where}.{key}[{i}]') for i, item in enumerate(value)]


def decode_humble_metadata(text):
    """Decode metadata.yaml the way Humble's rosbag2 does; BadConversion where it would fail."""
    doc = yaml.safe_load(text)
    info = _get(doc, 'rosbag2_bagfile_information', 'metadata.yaml')
    where = 'rosbag2_bagfile_information'
    out = {'version': as_uint(info, 'version', where),
           'storage_identifier': as_string(info, 'storage_identifier', where),
           'relative_file_paths': as_string_list(info, 'relative_file_paths', where),
           'duration': as_uint(_get(info, 'duration', where), 'nanoseconds', where),
           'starting_time': as_uint(_get(info, 'starting_time', where),
                                    'nanoseconds_since_epoch', where),
           'message_count': as_uint(info, 'message_count', where)}
    out['topics'] = []
    for item, tw in as_sequence(info, 'topics_with_message_count', where):
        meta = _get(item, 'topic_metadata', tw)
        topic = {'name': as_string(meta, 'name', tw), 'type': as_string(meta, 'type', tw),
                 'serialization_format': as_string(meta, 'serialization_format', tw),
                 'message_count': as_uint(item, 'message_count', tw),
                 'offered_qos_profiles': ''}
        if out['version'] >= 4:
            topic['offered_qos_profiles'] = as_string(meta, 'offered_qos_profiles', tw)
        out['topics'].append(topic)
    if out['version'] >= 3:
        out['compression_format'] = as_string(info, 'compression_format', where)
        out['compression_mode'] = as_string(info, 'compression_mode', where)
    if out['version'] >= 5:
        out['files'] = []
        for f, fw in as_sequence(info, 'files', where):
            out['files'].append({
                'path': as_string(f, 'path', fw),
                'starting_time': as_uint(_get(f, 'starting_time', fw),
                                         'nanoseconds_since_epoch', fw),
                'duration': as_uint(_get(f, 'duration', fw), 'nanoseconds', fw),
                'message_count': as_uint(f, 'message_count', fw)})
    return out


def decode_humble_qos(text, where='offered_qos_profiles'):
    """What `ros2 bag play` on Humble makes of a topic's offered_qos_profiles string."""
    if text == '':
        return []  # the default profile
    profiles = yaml.safe_load(text)
    if not isinstance(profiles, list):
        raise BadConversion(f'{where}: not a sequence of profiles')
    out = []
    for i, p in enumerate(profiles):
        pw = f'{where}[{i}]'
        # In the order convert<Rosbag2QoS>::decode reads them.
        profile = {k: as_uint(p, k, pw) for k in ('history', 'reliability', 'durability',
                                                  'liveliness', 'depth')}
        for k in ('deadline', 'lifespan', 'liveliness_lease_duration'):
            profile[k] = (as_uint(_get(p, k, pw), 'sec', pw), as_uint(_get(p, k, pw), 'nsec', pw))
        profile['avoid_ros_namespace_conventions'] = as_bool(
            p, 'avoid_ros_namespace_conventions', pw)
        out.append(profile)
    return out


# rmw_qos_profile_t policy values (rmw/types.h, the same on Humble and later for these).
RELIABLE, BEST_EFFORT = 1, 2
TRANSIENT_LOCAL, VOLATILE = 1, 2
KEEP_LAST = 1


def test_the_rules_refuse_what_humble_refuses():
    """The decoder fails exactly where Humble does: a v9 QoS list, a missing field."""
    v9 = {'rosbag2_bagfile_information': {
        'version': 9, 'storage_identifier': 'mcap', 'relative_file_paths': ['a.mcap'],
        'duration': {'nanoseconds': 1}, 'starting_time': {'nanoseconds_since_epoch': 0},
        'message_count': 1, 'compression_format': '', 'compression_mode': '',
        'files': [{'path': 'a.mcap', 'starting_time': {'nanoseconds_since_epoch': 0},
                   'duration': {'nanoseconds': 1}, 'message_count': 1}],
        'topics_with_message_count': [{'message_count': 1, 'topic_metadata': {
            'name': '/a', 'type': 'std_msgs/msg/Bool', 'serialization_format': 'cdr',
            'offered_qos_profiles': []}}]}}
    with pytest.raises(BadConversion, match='offered_qos_profiles: list is not a scalar'):
        decode_humble_metadata(yaml.safe_dump(v9))
    meta = v9['rosbag2_bagfile_information']
    meta['topics_with_message_count'][0]['topic_metadata']['offered_qos_profiles'] = ''
    assert decode_humble_metadata(yaml.safe_dump(v9))['topics'][0]['name'] == '/a'
    del meta['files']
    with pytest.raises(BadConversion, match='files: missing'):
        decode_humble_metadata(yaml.safe_dump(v9))
    with pytest.raises(BadConversion, match='history'):
        decode_humble_qos('- history: keep_last\n  depth: 1\n  reliability: reliable\n')


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_a_bag_written_here_passes_the_humble_rules(tmp_path, storage):
    path = tmp_path / storage
    with BagWriter(str(path), storage) as writer:
        writer.write('/estop', 'std_msgs/msg/Bool', 5, serialize_message(Bool(data=True)))
        writer.write('/instruction_text', 'std_msgs/msg/String', 6,
                     serialize_message(String(data='박스를 왼쪽으로 돌아서 컵까지 가세요')))
        writer.write('/scan', 'std_msgs/msg/String', 7, serialize_message(String(data='x')))
    text = (path / 'metadata.yaml').read_text(encoding='utf-8')
    meta = decode_humble_metadata(text)
    assert meta['version'] == METADATA_VERSION <= 8
    assert meta['storage_identifier'] == storage and meta['message_count'] == 3
    files = meta['relative_file_paths']
    assert len(files) == 1 and (path / files[0]).is_file()
    assert [f['path'] for f in meta['files']] == files
    qos = {t['name']: decode_humble_qos(t['offered_qos_profiles'], t['name'])
           for t in meta['topics']}
    assert qos['/estop'][0]['durability'] == TRANSIENT_LOCAL and '/estop' in LATCHED_TOPICS
    assert qos['/estop'][0]['reliability'] == RELIABLE
    assert qos['/scan'][0]['reliability'] == BEST_EFFORT and '/scan' in SENSOR_TOPICS
    assert qos['/instruction_text'][0] == dict(qos['/instruction_text'][0], history=KEEP_LAST,
                                               reliability=RELIABLE, durability=VOLATILE)


GOLDEN = pathlib.Path(__file__).parent / 'golden'


@pytest.mark.parametrize('metadata', sorted(GOLDEN.glob('*/metadata.yaml')),
                         ids=lambda p: p.parent.name)
def test_golden_bags_pass_the_humble_rules(metadata):
    meta = decode_humble_metadata(metadata.read_text(encoding='utf-8'))
    for topic in meta['topics']:
        decode_humble_qos(topic['offered_qos_profiles'], topic['name'])
    assert all((metadata.parent / f).is_file() for f in meta['relative_file_paths'])
