"""SROS2 keystore inputs from the stack descriptions.

The generated governance and permissions documents are validated against the OMG DDS-Security
1.1 XML schemas (test/fixtures/dds_security), and the permissions are evaluated with the
specification's rules (DDS-Security 1.1, 9.4.1.3: the rules of a grant are searched in order,
the first rule whose domain and topic expression (fnmatch) match decides; no match -> the
grant's default) by an evaluator written here, independent of the generator: only the safety
gate may publish `cmd_vel` / `arm_cmd`, and every node may use what it needs.
"""

import datetime
import fnmatch
import pathlib
import xml.etree.ElementTree as ET

import pytest
from vla_bringup import security
from vla_bringup.stacks import arm_stack, mobile_stack, NodeSpec, StackSpec

lxml_etree = pytest.importorskip('lxml.etree')   # requirements/python.txt installs it

SCHEMAS = pathlib.Path(__file__).parent / 'fixtures' / 'dds_security'
DOMAIN = 7


@pytest.fixture(scope='module')
def schemas():
    return {kind: lxml_etree.XMLSchema(lxml_etree.parse(
        str(SCHEMAS / f'omg_shared_ca_{kind}.xsd'))) for kind in ('governance', 'permissions')}


def _validate(schema, path):
    doc = lxml_etree.parse(str(path))
    assert schema.validate(doc), f'{path}: {schema.error_log}'


def _stacks():
    robot1 = StackSpec('ns', tuple(
        NodeSpec(n.name, n.package, n.executable, n.param_files, n.parameters,
                 n.remappings, 'robot1', n.target_only)
        for n in mobile_stack(sim='false').nodes))
    return {'mobile_hw': mobile_stack(sim='false'), 'mobile_sim': mobile_stack(sim='mujoco'),
            'arm': arm_stack(), 'mobile_robot1': robot1}


# --- an evaluator of DDS-Security permissions, independent of the generator ------------------
def _matches_domain(rule, domain):
    for item in rule.find('domains'):
        if item.tag == 'id' and int(item.text) == domain:
            return True
        if item.tag == 'id_range':
            lo, hi = item.find('min'), item.find('max')
            if (lo is None or int(lo.text) <= domain) and (hi is None or domain <= int(hi.text)):
                return True
    return False


def may(permissions_path, action, dds_topic, domain=DOMAIN):
    """Whether the (single) grant allows `action` ('publish'/'subscribe') on `dds_topic`."""
    grant = ET.parse(permissions_path).getroot().find('permissions/grant')
    for rule in grant:
        if rule.tag not in ('allow_rule', 'deny_rule') or not _matches_domain(rule, domain):
            continue
        for criteria in rule.findall(action):
            if any(fnmatch.fnmatchcase(dds_topic, t.text)
                   for t in criteria.findall('topics/topic')):
                return rule.tag == 'allow_rule'
    return grant.find('default').text == 'ALLOW'


@pytest.mark.parametrize('name', ['mobile_hw', 'mobile_sim', 'arm', 'mobile_robot1'])
def test_documents_validate_and_only_the_gate_may_command_the_actuators(name, schemas,
                                                                        tmp_path):
    stack = _stacks()[name]
    written = security.write_inputs(stack, str(tmp_path), DOMAIN,
                                    now=datetime.datetime(2026, 1, 1))
    _validate(schemas['governance'], written['governance'])
    enclaves = {g.enclave: g for g in security.grants(stack)}
    assert set(enclaves) == {f'/vla{"/robot1" if name == "mobile_robot1" else ""}/{n.name}'
                             for n in stack.nodes}
    ns = '/robot1' if name == 'mobile_robot1' else ''
    actuator = f'rt{ns}/arm_cmd' if name == 'arm' else f'rt{ns}/cmd_vel'
    gate_enclave = f'/vla{ns}/safety_gate'
    for enclave, grant in enclaves.items():
        path = written[enclave]
        _validate(schemas['permissions'], path)
        root = ET.parse(path).getroot()
        assert root.find('permissions/grant/subject_name').text == f'CN={enclave}'
        allowed = may(path, 'publish', actuator)
        assert allowed == (enclave == gate_enclave), (enclave, actuator)
        # ... nor the other actuator topic, nor anything unlisted.
        assert not may(path, 'publish', f'rt{ns}/arm_cmd' if name != 'arm'
                       else f'rt{ns}/cmd_vel')
        assert not may(path, 'publish', 'rt/some/unlisted/topic')
        # Everything the node itself uses is allowed (the deny rule hides nothing it needs).
        pub, sub = security.dds_publish_subscribe(grant)
        assert all(may(path, 'publish', t) for t in pub), enclave
        assert all(may(path, 'subscribe', t) for t in sub), enclave
        assert not may(path, 'publish', actuator, domain=DOMAIN + 1)   # other domains: no
    gate = enclaves[gate_enclave]
    assert f'rq{gate.node}/reset_estopRequest' in security.dds_publish_subscribe(gate)[1]
    # The SROS2 policy names every enclave once, with the node's namespace and name.
    policy = ET.parse(written['policy']).getroot()
    assert policy.get('version') == '0.2.0'
    paths = [e.get('path') for e in policy.iter('enclave')]
    assert sorted(paths) == sorted(enclaves)
    profile = next(e for e in policy.iter('enclave') if e.get('path') == gate_enclave
                   ).find('profiles/profile')
    assert (profile.get('ns'), profile.get('node')) == (ns or '/', 'safety_gate')
    published = [t.text for t in profile.findall("topics[@publish='ALLOW']/topic")]
    assert actuator[2:] in published


def test_the_schemas_are_not_a_rubber_stamp(schemas, tmp_path):
    written = security.write_inputs(mobile_stack(sim='false'), str(tmp_path), DOMAIN)
    doc = lxml_etree.parse(written['/vla/safety_gate'])
    grant = doc.find('permissions/grant')
    grant.remove(grant.find('default'))
    assert not schemas['permissions'].validate(doc)
    gov = lxml_etree.parse(written['governance'])
    gov.find('.//rtps_protection_kind').text = 'SCRAMBLE'
    assert not schemas['governance'].validate(gov)


def test_a_stack_where_another_node_publishes_cmd_vel_is_refused():
    stack = mobile_stack(sim='false')
    rogue = NodeSpec('teleop', 'mobile_base', 'base_driver',
                     remappings=(('~/wheel_command', 'cmd_vel'),))
    with pytest.raises(ValueError, match='only the gate may'):
        security.grants(StackSpec('bad', stack.nodes + (rogue,)))


def test_names_resolve_like_ros():
    spec = NodeSpec('safety_gate', 'vla_safety', 'safety_gate', namespace='robot1',
                    remappings=(('cmd_vel', 'wheels/cmd_vel'),))
    assert security.resolve_name('cmd_vel', spec) == '/robot1/wheels/cmd_vel'
    assert security.resolve_name('~/state', spec) == '/robot1/safety_gate/state'
    assert security.resolve_name('/diagnostics', spec) == '/diagnostics'
    assert security.enclave_path(spec) == '/vla/robot1/safety_gate'
    assert security.dds_request('/robot1/safety_gate/reset_estop') == \
        'rq/robot1/safety_gate/reset_estopRequest'
