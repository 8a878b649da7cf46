"""The URDF/xacro description: well-formed, a connected tree, frames and numbers of the robot."""

import math
import pathlib
import xml.etree.ElementTree as ET

import pytest
from mobile_base.core.kinematics import WHEEL_NAMES
from mobile_base.core.robot import DEFAULT_ROBOT as ROBOT

XACRO = pathlib.Path(__file__).resolve().parents[1] / 'urdf' / 'mobile_base.urdf.xacro'


def expand(**args):
    """Expand the xacro with the upstream xacro processor (what launch runs on the target)."""
    import xacro

    doc = xacro.process_file(str(XACRO), mappings={k: str(v).lower() for k, v in args.items()})
    text = doc.toxml()
    assert 'xacro:' not in text and '$(' not in text
    return ET.fromstring(text)


def origin(joint):
    o = joint.find('origin')
    xyz = [float(v) for v in o.get('xyz').split()]
    rpy = [float(v) for v in o.get('rpy', '0 0 0').split()]
    return xyz, rpy


@pytest.mark.parametrize('args', [{}, {'use_ros2_control': True, 'use_gazebo': True}])
def test_tree_is_connected_and_rooted_at_base_link(args):
    robot = expand(**args)
    links = {link.get('name') for link in robot.findall('link')}
    parents = {}
    for joint in robot.findall('joint'):
        child = joint.find('child').get('link')
        assert child not in parents, f'{child} has two parents'
        parents[child] = joint.find('parent').get('link')
    assert set(parents) | {'base_link'} == links
    for link in links:
        seen = set()
        while link != 'base_link':
            assert link not in seen
            seen.add(link)
            link = parents[link]


def test_frames_of_the_architecture():
    robot = expand()
    joints = {j.get('name'): j for j in robot.findall('joint')}
    links = {link.get('name') for link in robot.findall('link')}
    assert {'base_link', 'camera_link', 'camera_optical_frame', 'laser'} <= links
    xyz, rpy = origin(joints['camera_joint'])
    assert xyz == pytest.approx([ROBOT.camera_x, 0.0, ROBOT.camera_z])
    assert rpy == pytest.approx([0.0, ROBOT.camera_pitch, 0.0])
    _, rpy = origin(joints['camera_optical_joint'])
    assert rpy == pytest.approx([-math.pi / 2, 0.0, -math.pi / 2])
    xyz, _ = origin(joints['laser_joint'])
    assert xyz == pytest.approx([0.0, 0.0, ROBOT.laser_z])


def test_wheels_match_the_kinematics():
    robot = expand()
    joints = {j.get('name'): j for j in robot.findall('joint')}
    signs = {'front_left': (1, 1), 'front_right': (1, -1), 'rear_left': (-1, 1),
             'rear_right': (-1, -1)}
    for name in WHEEL_NAMES:
        joint = joints[f'wheel_{name}_joint']
        assert joint.get('type') == 'continuous'
        assert joint.find('axis').get('xyz') == '0 1 0'
        xyz, _ = origin(joint)
        sx, sy = signs[name]
        assert xyz == pytest.approx([sx * ROBOT.half_wheelbase, sy * ROBOT.half_track,
                                     ROBOT.wheel_radius])
        link = robot.find(f"link[@name='wheel_{name}_link']")
        assert float(link.find('visual/geometry/cylinder').get('radius')) == ROBOT.wheel_radius
    box = robot.find("link[@name='base_link']/collision/geometry/box").get('size').split()
    assert [float(v) for v in box[:2]] == [ROBOT.body_length, ROBOT.body_width]


def test_optional_blocks():
    plain = expand()
    assert plain.find('ros2_control') is None and plain.find('gazebo') is None
    full = expand(use_ros2_control=True, use_gazebo=True, image_width=640, image_height=480)
    joints = [j.get('name') for j in full.findall('ros2_control/joint')]
    assert joints == [f'wheel_{n}_joint' for n in WHEEL_NAMES]
    camera = full.find("gazebo[@reference='camera_link']/sensor/camera")
    assert float(camera.find('horizontal_fov').text) == pytest.approx(ROBOT.camera_hfov)
    assert camera.find('image/width').text == '640'
    lidar = full.find("gazebo[@reference='laser']/sensor/lidar")
    plugins = {p.get('name').rsplit('::', 1)[-1]: p for p in full.findall('gazebo/plugin')}
    assert plugins['MecanumDrive'].find('tf_topic').text == 'tf'
    assert plugins['JointStatePublisher'].find('topic').text == 'joint_states'
    assert int(lidar.find('scan/horizontal/samples').text) == 360
    assert float(lidar.find('range/max').text) == ROBOT.scan_range_max


def test_gazebo_wheel_friction_drives_like_the_kinematics():
    """fdir1 (mu 1, mu2 0) of each wheel points where that wheel alone pushes the base."""
    from mobile_base.core.kinematics import forward_kinematics, MecanumGeometry

    full = expand(use_gazebo=True)
    geometry = MecanumGeometry(ROBOT.wheel_radius, ROBOT.half_wheelbase, ROBOT.half_track)
    expressed_in = '{http://gazebosim.org/schema}expressed_in'
    for i, name in enumerate(WHEEL_NAMES):
        ode = full.find(f"gazebo[@reference='wheel_{name}_link']/collision/surface/friction/ode")
        assert float(ode.find('mu').text) == 1.0 and float(ode.find('mu2').text) == 0.0
        fdir = ode.find('fdir1')
        assert fdir.get(expressed_in) == 'base_link', 'fdir1 must not turn with the wheel'
        fx, fy, fz = (float(v) for v in fdir.text.split())
        speeds = [0.0] * 4
        speeds[i] = 1.0
        push = forward_kinematics(speeds, geometry)
        assert fz == 0.0 and math.copysign(1, fy) * math.copysign(1, fx) == \
            math.copysign(1, push.vy) * math.copysign(1, push.vx), name
        assert abs(abs(fx) - abs(fy)) < 1e-9, f'{name}: 45 degree rollers'
