"""Build script of vla_safety (ament_python)."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'vla_safety'

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    package_data={PACKAGE: ['data/*.yaml']},
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
    description='vla_safety of the Korean-instructed VLA robot stack (see package.xml).',
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'safety_gate = vla_safety.safety_gate:main',
            'reset_estop = vla_safety.reset_estop:main',
        ],
    },
)
