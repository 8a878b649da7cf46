"""SROS2 keystore inputs generated from a stack description (for the Humble target).

The Fast DDS of the PyPI wheels has no security plugins, so access control is enforced there by
the actuators' graph check (`vla_common.publisher_guard`). On the target, SROS2 (DDS-Security)
does it cryptographically; this module writes what its keystore needs, derived from the same
`StackSpec` the launch files and the runner use:

- `policy.xml`: the SROS2 policy (format 0.2.0): one enclave per node, with exactly the topics
  and services that node's executable uses (`NODE_INTERFACES`, after its namespace and
  remappings). `ros2 security generate_artifacts -k KEYSTORE -p policy.xml` turns it into a
  keystore with keys, certificates and signed permissions.
- `governance.xml`: DDS-Security domain governance: no unauthenticated participants, join and
  read/write access control on every topic, everything encrypted.
- `enclaves/<path>/permissions.xml`: the DDS-Security permissions of each enclave as SROS2
  would derive them (ROS names mangled to DDS topics: `rt/` topics, `rq/...Request` and
  `rr/...Reply` services). Only the safety gate's grant allows publishing `cmd_vel` and
  `arm_cmd`; every other grant denies it explicitly before its allow rule (first match wins),
  and everything not listed is denied by default.

Pure Python (no rclpy): `vla_bringup.test.test_security` validates the output against the
OMG DDS-Security XML schemas and evaluates the grants with the specification's rules.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple
from xml.sax.saxutils import escape

from vla_common import topics as t

from vla_bringup.stacks import build_stack, NodeSpec, StackSpec

#: Topics only the safety gate may publish (its outputs to the actuators).
ACTUATOR_TOPICS = (t.CMD_VEL, t.ARM_CMD)
GATE_EXECUTABLE = ('vla_safety', 'safety_gate')

_PARAMETER_SERVICES = ('describe_parameters', 'get_parameter_types', 'get_parameters',
                       'list_parameters', 'set_parameters', 'set_parameters_atomically',
                       'get_type_description')


@dataclass(frozen=True)
class Interfaces:
    """What one node uses, in the names its code uses (relative, `~/` private, `/` absolute)."""

    publish: Tuple[str, ...] = ()
    subscribe: Tuple[str, ...] = ()
    reply: Tuple[str, ...] = ()      # services it serves
    request: Tuple[str, ...] = ()    # services it calls

    def merged(self, other: 'Interfaces') -> 'Interfaces':
        return Interfaces(*(tuple(dict.fromkeys(a + b)) for a, b in zip(
            (self.publish, self.subscribe, self.reply, self.request),
            (other.publish, other.subscribe, other.reply, other.request))))


#: Every rclpy node: rosout, parameter events, /clock (use_sim_time) and the parameter (+ type
#: description) services.
COMMON = Interfaces(publish=('/rosout', '/parameter_events'),
                    subscribe=('/parameter_events', t.CLOCK),
                    reply=tuple(f'~/{s}' for s in _PARAMETER_SERVICES))

_GATE_COMMON = Interfaces(
    publish=(t.SAFETY_STATE, t.DIAGNOSTICS), subscribe=(t.ESTOP, t.HEARTBEAT),
    reply=(t.TRIGGER_ESTOP, t.RESET_ESTOP))
_LIFECYCLE = Interfaces(
    publish=('~/transition_event',),
    reply=tuple(f'~/{s}' for s in ('change_state', 'get_state', 'get_available_states',
                                   'get_available_transitions', 'get_transition_graph')))
_POLICY_COMMON = _LIFECYCLE.merged(Interfaces(
    publish=(t.ACTION_CHUNK, t.HEARTBEAT, t.DEBUG_IMAGE, t.POLICY_STATUS, t.TASK_RESULT,
             t.DIAGNOSTICS),
    subscribe=(t.CAMERA_IMAGE, t.CAMERA_COMPRESSED, t.INSTRUCTION, f'{t.SAFETY_NODE}/state')))

#: (package, executable, mode) -> what the node uses; mode is the `mode` / `action_space`
#: parameter for the two executables that have one, '' otherwise. A stack test compares this
#: table with the graph of the running nodes.
#: RealMan rm_driver's command topics (what realman_bridge sends) and its reports.
_RM_DRIVER_COMMANDS = ('/rm_driver/movej_canfd_cmd', '/rm_driver/movep_canfd_cmd',
                       '/rm_driver/move_stop_cmd', '/rm_driver/set_gripper_position_cmd')
_RM_DRIVER_REPORTS = (t.JOINT_STATES, '/rm_driver/udp_arm_position',
                      '/rm_driver/move_stop_result', '/rm_driver/set_gripper_position_result')

NODE_INTERFACES: Dict[Tuple[str, str, str], Interfaces] = {
    ('mobile_base', 'mujoco_sim', ''): Interfaces(
        publish=(t.CAMERA_IMAGE, t.ODOM, t.GROUND_TRUTH, t.SCAN, t.CLOCK, t.EPISODE_RESULT,
                 t.DIAGNOSTICS, '/tf'),
        subscribe=(t.CMD_VEL, t.INSTRUCTION), reply=(t.START_EPISODE,)),
    ('mobile_base', 'base_driver', ''): Interfaces(
        publish=(t.ODOM, '~/wheel_command', t.DIAGNOSTICS, '/tf'), subscribe=(t.CMD_VEL,)),
    ('vla_safety', 'safety_gate', 'base'): _GATE_COMMON.merged(Interfaces(
        publish=(t.CMD_VEL, '~/markers'), subscribe=(t.CMD_VEL_IN, t.ODOM, t.SCAN))),
    ('vla_safety', 'safety_gate', 'arm'): _GATE_COMMON.merged(Interfaces(
        publish=(t.ARM_CMD,), subscribe=(t.ARM_CMD_IN, t.JOINT_STATES))),
    ('vla_policy_node', 'policy_node', 'base'): _POLICY_COMMON.merged(Interfaces(
        publish=(t.CMD_VEL_IN,), subscribe=(t.ODOM, t.SCAN))),
    ('vla_policy_node', 'policy_node', 'arm'): _POLICY_COMMON.merged(Interfaces(
        publish=(t.ARM_CMD_IN,), subscribe=(t.JOINT_STATES,))),
    ('vla_instruction', 'instruction_node', ''): Interfaces(
        publish=(t.INSTRUCTION, t.ESTOP, t.DIAGNOSTICS, '~/debug/utterance'),
        subscribe=(t.INSTRUCTION_TEXT, t.AUDIO),
        request=(f'{t.SAFETY_NODE}/trigger_estop',)),
    ('vla_instruction', 'mic_capture', ''): Interfaces(publish=(t.AUDIO, t.DIAGNOSTICS)),
    ('vla_bringup', 'realman_bridge', ''): Interfaces(
        publish=(*_RM_DRIVER_COMMANDS, t.DIAGNOSTICS),
        subscribe=(t.ARM_CMD, '/rm_driver/udp_arm_position')),
    # RealMan's rm_driver (ros2_rm_robot) as the arm stack starts it, and arm_sim, which
    # speaks its topics in the simulator.
    ('rm_driver', 'rm_driver', ''): Interfaces(
        publish=_RM_DRIVER_REPORTS, subscribe=_RM_DRIVER_COMMANDS),
    ('arm_sim', 'arm_sim', ''): Interfaces(
        publish=(*_RM_DRIVER_REPORTS, t.CAMERA_IMAGE, 'wrist_camera/image_raw', t.CLOCK,
                 '~/episode_result', t.DIAGNOSTICS),
        subscribe=(*_RM_DRIVER_COMMANDS, t.INSTRUCTION, 'policy_node/task_result'),
        reply=(t.START_EPISODE, '~/end_episode')),
    ('v4l2_camera', 'v4l2_camera_node', ''): Interfaces(
        publish=('image_raw', 'image_raw/compressed', 'camera_info')),
    ('sllidar_ros2', 'sllidar_node', ''): Interfaces(
        publish=(t.SCAN,), reply=('start_motor', 'stop_motor')),
    ('robot_state_publisher', 'robot_state_publisher', ''): Interfaces(
        publish=('/tf', '/tf_static', 'robot_description'), subscribe=(t.JOINT_STATES,)),
    ('diagnostic_aggregator', 'aggregator_node', ''): Interfaces(
        publish=('/diagnostics_agg', '/diagnostics_toplevel_state'),
        subscribe=(t.DIAGNOSTICS,), reply=('/diagnostics_agg/add_diagnostics',)),
}


def _mode(spec: NodeSpec) -> str:
    params = dict(spec.parameters)
    if spec.executable == 'safety_gate':
        return str(params.get('mode', 'base'))
    if spec.executable == 'policy_node':
        return str(params.get('action_space', 'base'))
    return ''


def node_interfaces(spec: NodeSpec) -> Interfaces:
    """The table entry of a node (plus the common node interfaces), unresolved names."""
    key = (spec.package, spec.executable, _mode(spec))
    if key not in NODE_INTERFACES:
        raise KeyError(f'no interface description for {key}: add it to '
                       'vla_bringup.security.NODE_INTERFACES')
    return NODE_INTERFACES[key].merged(COMMON)


def fully_qualified_node(spec: NodeSpec) -> str:
    ns = '/' + spec.namespace.strip('/') if spec.namespace.strip('/') else ''
    return f'{ns}/{spec.name}'


def resolve_name(name: str, spec: NodeSpec) -> str:
    """A topic/service name as the node resolves it: `~/` private, relative names in the
    namespace, then the node's remappings (matched on the name as written or resolved)."""
    remaps = dict(spec.remappings)
    if name in remaps:
        name = remaps[name]
    ns = '/' + spec.namespace.strip('/') if spec.namespace.strip('/') else ''
    if name.startswith('~/'):
        full = f'{fully_qualified_node(spec)}/{name[2:]}'
    elif name.startswith('/'):
        full = name
    else:
        full = f'{ns}/{name}'
    return remaps.get(full, full)


def enclave_path(spec: NodeSpec, root: str = '/vla') -> str:
    """The SROS2 enclave of a node: `<root><namespace>/<name>` (`--ros-args --enclave ...`)."""
    return root.rstrip('/') + fully_qualified_node(spec)


def is_gate(spec: NodeSpec) -> bool:
    return (spec.package, spec.executable) == GATE_EXECUTABLE


@dataclass(frozen=True)
class Grant:
    """One enclave's permissions in ROS names (fully resolved)."""

    enclave: str
    node: str
    publish: Tuple[str, ...]
    subscribe: Tuple[str, ...]
    reply: Tuple[str, ...]
    request: Tuple[str, ...]
    deny_publish: Tuple[str, ...] = field(default=())


def grants(stack: StackSpec, root: str = '/vla') -> List[Grant]:
    """One grant per node of the stack (target-only nodes included)."""
    out = []
    gate_topics = {resolve_name(name, n) for n in stack.nodes if is_gate(n)
                   for name in ACTUATOR_TOPICS}
    for spec in stack.nodes:
        ifc = node_interfaces(spec)
        resolved = [tuple(sorted({resolve_name(n, spec) for n in names}))
                    for names in (ifc.publish, ifc.subscribe, ifc.reply, ifc.request)]
        deny: Tuple[str, ...] = ()
        if not is_gate(spec):
            deny = tuple(sorted(gate_topics | {resolve_name(n, spec) for n in ACTUATOR_TOPICS}))
            if set(deny) & set(resolved[0]):
                raise ValueError(f'{spec.name} would publish an actuator topic '
                                 f'({sorted(set(deny) & set(resolved[0]))}): only the gate may')
        out.append(Grant(enclave_path(spec, root), fully_qualified_node(spec), *resolved,
                         deny_publish=deny))
    return out


# --- DDS names (ROS 2 name mangling, as rmw and SROS2 do it) -------------------------------------
def dds_topic(ros_name: str) -> str:
    return 'rt' + ros_name


def dds_request(service: str) -> str:
    return f'rq{service}Request'


def dds_reply(service: str) -> str:
    return f'rr{service}Reply'


def dds_publish_subscribe(grant: Grant) -> Tuple[List[str], List[str]]:
    """The DDS topics the grant publishes and subscribes."""
    pub = [dds_topic(n) for n in grant.publish]
    sub = [dds_topic(n) for n in grant.subscribe]
    pub += [dds_reply(s) for s in grant.reply] + [dds_request(s) for s in grant.request]
    sub += [dds_request(s) for s in grant.reply] + [dds_reply(s) for s in grant.request]
    return sorted(set(pub)), sorted(set(sub))


# --- documents -----------------------------------------------------------------------------------
_SCHEMA_NS = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
_OMG = 'http://www.omg.org/spec/DDS-SECURITY/20170901'


def _topics(tag: str, names: Iterable[str], indent: str) -> List[str]:
    names = list(names)
    if not names:
        return []
    lines = [f'{indent}<{tag}>', f'{indent}  <topics>']
    lines += [f'{indent}    <topic>{escape(n)}</topic>' for n in names]
    lines += [f'{indent}  </topics>', f'{indent}</{tag}>']
    return lines


def permissions_xml(grant: Grant, domain_id: int, not_before: datetime.datetime,
                    not_after: datetime.datetime) -> str:
    """The DDS-Security permissions document of one enclave (unsigned)."""
    pub, sub = dds_publish_subscribe(grant)
    fmt = '%Y-%m-%dT%H:%M:%S'
    ind = ' ' * 6
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<dds {_SCHEMA_NS}',
             f'     xsi:noNamespaceSchemaLocation="{_OMG}/omg_shared_ca_permissions.xsd">',
             '  <permissions>',
             f'    <grant name="{escape(grant.enclave)}">',
             f'      <subject_name>CN={escape(grant.enclave)}</subject_name>',
             '      <validity>',
             f'        <not_before>{not_before.strftime(fmt)}</not_before>',
             f'        <not_after>{not_after.strftime(fmt)}</not_after>',
             '      </validity>']
    domains = [f'{ind}  <domains>', f'{ind}    <id>{int(domain_id)}</id>', f'{ind}  </domains>']
    if grant.deny_publish:
        lines += [f'{ind}<deny_rule>'] + domains + _topics(
            'publish', [dds_topic(n) for n in grant.deny_publish], ind + '  ') + [
            f'{ind}</deny_rule>']
    lines += [f'{ind}<allow_rule>'] + domains + _topics('publish', pub, ind + '  ') + _topics(
        'subscribe', sub, ind + '  ') + [f'{ind}</allow_rule>']
    lines += [f'{ind}<default>DENY</default>', '    </grant>', '  </permissions>', '</dds>', '']
    return '\n'.join(lines)


def governance_xml(domain_id: int) -> str:
    """Domain governance: authenticated participants only, access control on every topic,
    discovery, liveliness, RTPS messages and data encrypted (SROS2's defaults)."""
    return f'''<?xml version="1.0" encoding="UTF-8"?>
<dds {_SCHEMA_NS}
     xsi:noNamespaceSchemaLocation="{_OMG}/omg_shared_ca_governance.xsd">
  <domain_access_rules>
    <domain_rule>
      <domains>
        <id>{int(domain_id)}</id>
      </domains>
      <allow_unauthenticated_participants>false</allow_unauthenticated_participants>
      <enable_join_access_control>true</enable_join_access_control>
      <discovery_protection_kind>ENCRYPT</discovery_protection_kind>
      <liveliness_protection_kind>ENCRYPT</liveliness_protection_kind>
      <rtps_protection_kind>ENCRYPT</rtps_protection_kind>
      <topic_access_rules>
        <topic_rule>
          <topic_expression>*</topic_expression>
          <enable_discovery_protection>true</enable_discovery_protection>
          <enable_liveliness_protection>true</enable_liveliness_protection>
          <enable_read_access_control>true</enable_read_access_control>
          <enable_write_access_control>true</enable_write_access_control>
          <metadata_protection_kind>ENCRYPT</metadata_protection_kind>
          <data_protection_kind>ENCRYPT</data_protection_kind>
        </topic_rule>
      </topic_access_rules>
    </domain_rule>
  </domain_access_rules>
</dds>
'''


def _policy_names(kind: str, qualifier: str, names: Sequence[str]) -> List[str]:
    if not names:
        return []
    tag = {'topics': 'topic', 'services': 'service'}[kind]
    return ([f'          <{kind} {qualifier}="ALLOW">']
            + [f'            <{tag}>{escape(n)}</{tag}>' for n in names]
            + [f'          </{kind}>'])


def policy_xml(grant_list: Sequence[Grant]) -> str:
    """The SROS2 policy (format 0.2.0) of all enclaves, absolute names only."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<!-- Generated by make_security_inputs from the stack description. -->',
             '<policy version="0.2.0">', '  <enclaves>']
    for g in grant_list:
        ns, _, name = g.node.rpartition('/')
        lines += [f'    <enclave path="{escape(g.enclave)}">', '      <profiles>',
                  f'        <profile ns="{escape(ns or "/")}" node="{escape(name)}">']
        lines += _policy_names('topics', 'publish', g.publish)
        lines += _policy_names('topics', 'subscribe', g.subscribe)
        lines += _policy_names('services', 'reply', g.reply)
        lines += _policy_names('services', 'request', g.request)
        lines += ['        </profile>', '      </profiles>', '    </enclave>']
    lines += ['  </enclaves>', '</policy>', '']
    return '\n'.join(lines)


def write_inputs(stack: StackSpec, out_dir: str, domain_id: int = 0, root: str = '/vla',
                 now: Optional[datetime.datetime] = None, years: int = 10) -> Dict[str, str]:
    """Write policy.xml, governance.xml and enclaves/<path>/permissions.xml; return the paths
    by role ('policy', 'governance', and each enclave path)."""
    now = (now or datetime.datetime.now(datetime.timezone.utc)).replace(microsecond=0)
    until = now.replace(year=now.year + years)
    grant_list = grants(stack, root)
    written: Dict[str, str] = {}

    def write(rel: str, text: str) -> str:
        path = os.path.join(out_dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as f:
            f.write(text)
        return path

    written['policy'] = write('policy.xml', policy_xml(grant_list))
    written['governance'] = write('governance.xml', governance_xml(domain_id))
    for g in grant_list:
        written[g.enclave] = write(os.path.join('enclaves', g.enclave.lstrip('/'),
                                                'permissions.xml'),
                                   permissions_xml(g, domain_id, now, until))
    write('enclaves.txt', ''.join(f'{g.node} --enclave {g.enclave}\n' for g in grant_list))
    return written


def main(argv: Optional[Sequence[str]] = None) -> int:
    from vla_bringup.runner import parse_launch_arguments

    parser = argparse.ArgumentParser(
        prog='make_security_inputs',
        description='SROS2 keystore inputs (policy, governance, permissions) of a stack')
    parser.add_argument('stack', help='mobile or arm')
    parser.add_argument('arguments', nargs='*', help='launch arguments name:=value')
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--domain', type=int, default=int(os.environ.get('ROS_DOMAIN_ID', 0)))
    parser.add_argument('--root', default='/vla', help='enclave root path')
    args = parser.parse_args(argv)
    stack = build_stack(args.stack, **parse_launch_arguments(args.arguments))
    written = write_inputs(stack, args.out, args.domain, args.root)
    for role, path in written.items():
        print(f'{role}: {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
