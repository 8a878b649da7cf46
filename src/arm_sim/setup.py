"""Build script of arm_sim (ament_python)."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'arm_sim'

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml', 'README.md']),
        ('share/' + PACKAGE + '/config', glob('config/*.yaml')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='VLA stack maintainers',
    maintainer_email='vla-stack@example.com',
    description='arm_sim of the Korean-instructed VLA robot stack (see package.xml).',
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'arm_sim = arm_sim.nodes.arm_sim:main',
            'arm_expert = arm_sim.nodes.arm_expert:main',
        ],
    },
)
