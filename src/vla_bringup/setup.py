"""Build script of vla_bringup (ament_python)."""

import os
from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'vla_bringup'

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/config', glob('config/*.yaml') + glob('config/*.xml')),
        ('share/' + PACKAGE + '/launch', glob('launch/*.py')),
        ('share/' + PACKAGE + '/worlds', glob('worlds/*.sdf')),
    ] + [
        # The shipped default policy checkpoints (models/<name>/..., recursively).
        (os.path.join('share', PACKAGE, root), [os.path.join(root, f) for f in files])
        for root, _, files in os.walk('models') if files
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='VLA stack maintainers',
    maintainer_email='vla-stack@example.com',
    description='vla_bringup of the Korean-instructed VLA robot stack (see package.xml).',
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'run_stack = vla_bringup.runner:main',
            'realman_bridge = vla_bringup.realman_bridge:main',
            'record_bag = vla_bringup.recorder:main',
            'demo = vla_bringup.demo:main',
            'make_golden_bags = vla_bringup.golden:main',
            'make_security_inputs = vla_bringup.security:main',
        ],
    },
)
