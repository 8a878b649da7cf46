"""The shipped Fast DDS profiles: valid for the Fast DDS that reads them, one profile in two
dialects, and really loaded by the installed Fast DDS (its XML parser, not a stand-in).

Fast DDS 3 (Kilted, the wheels here) renamed the writer-time elements to snake_case and
refuses the old camelCase names; Fast DDS 2 (Humble) refuses the new ones. A refused element
drops the whole file (transport included), so each dialect has its own file
(`vla_bringup.runner.transport_profile` picks it from ROS_DISTRO).
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

CONFIG = pathlib.Path(__file__).resolve().parents[1] / 'config'
FASTDDS3 = CONFIG / 'fastdds_shm.xml'
FASTDDS2 = CONFIG / 'fastdds2_shm.xml'
NS = '{http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles}'
#: Fast DDS 2 -> 3 names of the elements the profiles use that were renamed.
RENAMED = {'heartbeatPeriod': 'heartbeat_period'}
PROBE = '''
import rclpy
from std_msgs.msg import String
rclpy.init()
node = rclpy.create_node('profile_probe')
node.create_publisher(String, 'profile_probe', 10).publish(String(data='x'))
node.destroy_node()
rclpy.shutdown()
'''


def _installed_schema() -> pathlib.Path:
    path = pathlib.Path(sys.prefix) / 'share' / 'fastdds' / 'fastdds_profiles.xsd'
    if not path.is_file():
        pytest.skip(f'no Fast DDS profile schema at {path} (Fast DDS not from the wheels)')
    return path


def _canonical(path: pathlib.Path) -> list:
    """Every element as (path of tags, text), comments dropped, Fast DDS 2 names renamed."""
    out = []

    def walk(elem, prefix):
        tag = elem.tag.replace(NS, '')
        tag = RENAMED.get(tag, tag)
        here = f'{prefix}/{tag}'
        out.append((here, (elem.text or '').strip(), sorted(elem.attrib.items())))
        for child in elem:
            walk(child, here)
    walk(ET.parse(path).getroot(), '')
    return out


def test_the_fastdds3_profile_is_valid_for_the_installed_schema_and_the_other_is_not():
    etree = pytest.importorskip('lxml.etree')      # requirements/python.txt installs it
    xsd = etree.parse(str(_installed_schema()))
    schema = etree.XMLSchema(xsd)
    target = xsd.getroot().get('targetNamespace')

    def document(path):
        # Fast DDS' parser ignores the namespace (its 2.x examples use another one than the
        # 3.x schema's): validate the elements in the schema's namespace.
        doc = etree.parse(str(path))
        for elem in doc.getroot().iter(etree.Element):
            elem.tag = f'{{{target}}}{etree.QName(elem).localname}'
        return doc
    assert schema.validate(document(FASTDDS3)), schema.error_log
    assert not schema.validate(document(FASTDDS2))     # camelCase times: not Fast DDS 3


def test_both_dialects_are_one_profile_with_a_fast_reliable_repair():
    assert _canonical(FASTDDS2) == _canonical(FASTDDS3)
    root = ET.parse(FASTDDS3).getroot()
    writers = [w for w in root.iter(f'{NS}data_writer') if w.get('is_default_profile') == 'true']
    assert len(writers) == 1
    period = writers[0].find(f'{NS}times/{NS}heartbeat_period')
    seconds = int(period.find(f'{NS}sec').text) + int(period.find(f'{NS}nanosec').text) * 1e-9
    assert 0.0 < seconds <= 0.1       # a lost reliable sample is repaired well within 0.5 s


@pytest.mark.parametrize('profile,loads', [(FASTDDS3, True), (FASTDDS2, False)],
                         ids=['fastdds3', 'fastdds2-names'])
def test_the_installed_fastdds_loads_its_profile(profile, loads, tmp_path):
    """The real parser: the Fast DDS 3 file loads without an error; the Fast DDS 2 file is
    refused by it (so a silent mix-up of the two would be caught here)."""
    _installed_schema()
    env = dict(os.environ, FASTDDS_DEFAULT_PROFILES_FILE=str(profile), ROS_LOG_DIR=str(tmp_path))
    run = subprocess.run([sys.executable, '-c', PROBE], env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    output = run.stdout + run.stderr
    assert ('XMLPARSER' not in output) is loads, output
