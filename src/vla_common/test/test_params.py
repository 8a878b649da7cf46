"""Parameters declared with `declare` carry descriptors and enforce their ranges; a parameter
file's nested keys flatten to the names a node sees."""

import pytest
from rclpy.exceptions import InvalidParameterValueException
from rclpy.parameter import Parameter
from vla_common.params import declare, flatten_parameters


def test_declared_range_is_enforced(ros):
    node = ros.create_node('param_test')
    assert declare(node, 'rate', 50.0, 'tick rate (Hz)', 1.0, 200.0) == 50.0
    assert declare(node, 'depth', 3, 'depth', 1, 10) == 3
    declare(node, 'cap', 0.5, 'hard cap (m/s)', 0.0, 2.0, read_only=True)
    result = node.set_parameters([Parameter('rate', value=500.0)])[0]
    assert not result.successful
    assert node.get_parameter('rate').value == 50.0
    assert node.set_parameters([Parameter('rate', value=20.0)])[0].successful
    assert not node.set_parameters([Parameter('depth', value=11)])[0].successful
    assert not node.set_parameters([Parameter('cap', value=0.1)])[0].successful
    desc = node.describe_parameter('rate')
    assert desc.description == 'tick rate (Hz)'
    assert desc.floating_point_range[0].to_value == 200.0


def test_out_of_range_default_from_overrides_is_refused(ros):
    node = ros.create_node('param_test2', parameter_overrides=[Parameter('rate', value=-1.0)])
    with pytest.raises(InvalidParameterValueException):
        declare(node, 'rate', 50.0, 'tick rate (Hz)', 1.0, 200.0)


def test_nested_parameter_file_keys_flatten_to_dotted_names():
    out = {'rate': 1.0}
    flat = flatten_parameters({'rate': 50.0, 'limits': {'max_vel_x': 0.5, 'caps': {'a': [1, 2]}},
                               'mode': 'base'}, out)
    assert flat is out
    assert flat == {'rate': 50.0, 'limits.max_vel_x': 0.5, 'limits.caps.a': [1, 2],
                    'mode': 'base'}
