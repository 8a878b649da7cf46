"""Build script of mobile_base (ament_python)."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'mobile_base'

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml', 'README.md']),
        ('share/' + PACKAGE + '/config', glob('config/*.yaml')),
        ('share/' + PACKAGE + '/launch', glob('launch/*.py')),
        ('share/' + PACKAGE + '/urdf', glob('urdf/*')),
        ('share/' + PACKAGE + '/scenarios', glob('scenarios/*.yaml')),
        ('share/' + PACKAGE + '/scenarios/layouts', glob('scenarios/layouts/*.yaml')),
        ('share/' + PACKAGE + '/docs', glob('docs/*.md')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='VLA stack maintainers',
    maintainer_email='vla-stack@example.com',
    description='mobile_base of the Korean-instructed VLA robot stack (see package.xml).',
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'mujoco_sim = mobile_base.nodes.mujoco_sim:main',
            'base_driver = mobile_base.nodes.base_driver:main',
            'expert_node = mobile_base.nodes.expert_node:main',
        ],
    },
)
