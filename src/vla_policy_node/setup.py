"""Build script of vla_policy_node (ament_python)."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'vla_policy_node'

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/config', glob('config/*.yaml')),
        ('share/' + PACKAGE + '/launch', glob('launch/*.py')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='VLA stack maintainers',
    maintainer_email='vla-stack@example.com',
    description='vla_policy_node of the Korean-instructed VLA robot stack (see package.xml).',
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'policy_node = vla_policy_node.policy_node:main',
            'init_policy = vla_policy_node.tools:init_policy',
            'export_policy_onnx = vla_policy_node.tools:export_policy_onnx',
            'build_trt_engine = vla_policy_node.trt_build:main',
        ],
    },
)
