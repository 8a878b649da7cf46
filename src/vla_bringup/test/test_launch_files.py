"""Launch files are checked statically here (no `launch` on this machine) and executed against
recording stand-ins of the launch API: they parse, every executable and parameter file they name
exists, and every node name keyed in a parameter file is a node some stack launches."""

import ast
import importlib.util
import pathlib
import sys
import types

import pytest
import yaml
from vla_bringup.stacks import arm_stack, mobile_stack, SIM_CHOICES

PKG = pathlib.Path(__file__).resolve().parents[1]
SRC = PKG.parent
LAUNCH_FILES = sorted((PKG / 'launch').glob('*.launch.py'))
#: Executables from packages that are not part of this workspace (installed on the target).
EXTERNAL = {('v4l2_camera', 'v4l2_camera_node'), ('ros_gz_sim', 'create'),
            ('ros_gz_bridge', 'parameter_bridge'),
            ('robot_state_publisher', 'robot_state_publisher')}


def _console_scripts(package):
    setup = SRC / package / 'setup.py'
    if not setup.exists():
        return set()
    tree = ast.parse(setup.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and ' = ' in node.value:
            names.add(node.value.split(' = ')[0].strip())
    return names


def _all_stacks():
    stacks = [mobile_stack(sim=s) for s in SIM_CHOICES]
    stacks += [arm_stack(arm_model=m) for m in ('RM65', 'RM75', 'GEN72')]
    return stacks


def test_launch_files_exist_and_parse():
    names = {p.name for p in LAUNCH_FILES}
    assert {'mobile.launch.py', 'arm.launch.py', 'gazebo.launch.py'} <= names
    for path in LAUNCH_FILES:
        tree = ast.parse(path.read_text(), filename=str(path))
        assert any(isinstance(n, ast.FunctionDef) and n.name == 'generate_launch_description'
                   for n in tree.body), path


@pytest.mark.parametrize('stack', _all_stacks(), ids=lambda s: f'{s.name}-{s.arguments}')
def test_every_executable_and_param_file_exists(stack):
    for node in stack.nodes:
        if (node.package, node.executable) in EXTERNAL:
            assert node.target_only, f'{node.name} needs a target-only package'
            continue
        assert node.executable in _console_scripts(node.package), \
            f'{node.package} has no executable {node.executable}'
        for pf in node.param_files:
            if pf.package:
                assert (SRC / pf.package / pf.path).is_file(), f'missing {pf}'


def test_node_names_in_parameter_files_match_launched_nodes():
    launched = {n.name for s in _all_stacks() for n in s.nodes}
    for path in sorted((PKG / 'config').glob('*.yaml')):
        data = yaml.safe_load(path.read_text()) or {}
        if 'ros__parameters' in str(data) and path.name not in ('gz_bridge.yaml',):
            for key in data:
                assert key == '/**' or key.lstrip('/') in launched, \
                    f'{path.name}: {key} is not a launched node'


# --- executing the launch files against recording stand-ins of the launch API ---------------

class _Recorder:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class _LaunchConfiguration:
    def __init__(self, name, **_):
        self.name = name

    def perform(self, context):
        return context[self.name]


@pytest.fixture
def fake_launch(monkeypatch):
    mods = {}
    for name in ('launch', 'launch.actions', 'launch.substitutions', 'launch.conditions',
                 'launch.launch_description_sources', 'launch_ros', 'launch_ros.actions'):
        mods[name] = types.ModuleType(name)
        monkeypatch.setitem(sys.modules, name, mods[name])
    mods['launch'].LaunchDescription = lambda entities: list(entities)
    for cls in ('DeclareLaunchArgument', 'IncludeLaunchDescription', 'OpaqueFunction',
                'SetEnvironmentVariable', 'ExecuteProcess', 'TimerAction'):
        setattr(mods['launch.actions'], cls, type(cls, (_Recorder,), {}))
    mods['launch.substitutions'].LaunchConfiguration = _LaunchConfiguration
    mods['launch.substitutions'].Command = type('Command', (_Recorder,), {})
    mods['launch.substitutions'].PathJoinSubstitution = type('PathJoinSubstitution',
                                                             (_Recorder,), {})
    mods['launch.conditions'].IfCondition = type('IfCondition', (_Recorder,), {})
    mods['launch.launch_description_sources'].PythonLaunchDescriptionSource = type(
        'PythonLaunchDescriptionSource', (_Recorder,), {})
    mods['launch_ros.actions'].Node = type('Node', (_Recorder,), {})
    return mods


def _load(path):
    spec = importlib.util.spec_from_file_location(path.stem.replace('.', '_'), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _expand(entities, context):
    nodes, includes = [], []
    for e in entities:
        kind = type(e).__name__
        if kind == 'OpaqueFunction':
            sub_nodes, sub_includes = _expand(e.kwargs['function'](context), context)
            nodes += sub_nodes
            includes += sub_includes
        elif kind == 'Node':
            nodes.append(e)
        elif kind == 'IncludeLaunchDescription':
            includes.append(e)
    return nodes, includes


@pytest.mark.parametrize('sim', SIM_CHOICES)
def test_mobile_launch_runs_the_described_stack(fake_launch, sim):
    module = _load(PKG / 'launch' / 'mobile.launch.py')
    entities = module.generate_launch_description()
    declared = {e.args[0] for e in entities if type(e).__name__ == 'DeclareLaunchArgument'}
    assert {'sim', 'model', 'params_file', 'use_sim_time'} <= declared
    context = {'sim': sim, 'model': '/ck', 'params_file': '', 'use_sim_time': '',
               'scenario': ''}
    nodes, includes = _expand(entities, context)
    expected = mobile_stack(sim=sim, model='/ck')
    assert [n.kwargs['name'] for n in nodes] == [n.name for n in expected.nodes]
    assert [n.kwargs['executable'] for n in nodes] == [n.executable for n in expected.nodes]
    policy = next(n for n in nodes if n.kwargs['name'] == 'policy_node')
    assert policy.kwargs['parameters'][-1]['model_path'] == '/ck'
    assert len(includes) == (1 if sim == 'gazebo' else 0)


def test_arm_launch_runs_the_described_stack(fake_launch):
    module = _load(PKG / 'launch' / 'arm.launch.py')
    entities = module.generate_launch_description()
    nodes, _ = _expand(entities, {'arm_model': 'GEN72', 'model': '', 'params_file': '',
                                  'use_sim_time': 'false'})
    bridge = next(n for n in nodes if n.kwargs['name'] == 'realman_bridge')
    assert bridge.kwargs['parameters'][-1]['arm_model'] == 'GEN72'


def test_gazebo_launch_references_existing_files(fake_launch, monkeypatch):
    import ament_index_python.packages as index
    real = index.get_package_share_directory
    monkeypatch.setattr(index, 'get_package_share_directory',
                        lambda p: '/opt/ros/humble/share/' + p if p == 'ros_gz_sim' else real(p))
    module = _load(PKG / 'launch' / 'gazebo.launch.py')
    entities = module.generate_launch_description()
    nodes = [e for e in entities if type(e).__name__ == 'Node']
    assert {(n.kwargs['package'], n.kwargs['executable']) for n in nodes} <= EXTERNAL
    bridge = next(n for n in nodes if n.kwargs['package'] == 'ros_gz_bridge')
    config = pathlib.Path(bridge.kwargs['parameters'][0]['config_file'])
    assert config.is_file()
    topics = {e['ros_topic_name'] for e in yaml.safe_load(config.read_text())}
    assert {'cmd_vel', 'odom', 'scan', 'camera/image_raw', '/clock'} <= topics
    world = next(e for e in entities if type(e).__name__ == 'DeclareLaunchArgument'
                 and e.args[0] == 'world').kwargs['default_value']
    assert (PKG / 'worlds' / world).is_file()
    rsp = next(n for n in nodes if n.kwargs['package'] == 'robot_state_publisher')
    xacro = rsp.kwargs['parameters'][0]['robot_description'].args[0][1]
    assert pathlib.Path(xacro).is_file() and 'use_gazebo' in (
        pathlib.Path(xacro).read_text())
