"""The policy node's parameters: one frozen dataclass, declared with descriptors on the node.

Defaults live in `NodeParams` (those of the executive, triggers and preflight come from the pure
cores' configs) and, for deployments, in `config/policy_node.param.yaml`;
`SPECS` gives each its description, range and whether it is read-only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from vla_common.params import declare

from .execution import BLEND_MODES, TriggerConfig
from .execution.executive import ExecutiveConfig
from .execution.scan_change import ScanChangeConfig
from .preflight import Limits

BACKENDS = ('robovlms', 'onnx', 'tensorrt')
# the defaults of the cores' configs (class attributes of their dataclasses)
_EXEC, _TRIG, _PRE, _SCAN = ExecutiveConfig, TriggerConfig, Limits, ScanChangeConfig

#: Parameters that take effect at the next configure (or immediately retry a failed one).
RELOAD_PARAMS = ('model_path', 'backend', 'condition_on', 'preflight_memory_reserve_mb',
                 'preflight_max_gpu_temp_c', 'preflight_power_mode',
                 'preflight_require_locked_clocks')


@dataclass(frozen=True)
class NodeParams:
    """The node's parameters, read once per configure (runtime changes: see on_set)."""

    model_path: str = ''
    backend: str = 'robovlms'
    action_space: str = 'base'
    control_rate: float = _EXEC.control_rate
    trigger_mode: str = _TRIG.mode
    periodic_rate: float = _TRIG.periodic_rate
    queue_threshold: int = _TRIG.queue_threshold
    scene_threshold: float = _TRIG.scene_threshold
    state_threshold: float = _TRIG.state_threshold
    scene_local_threshold: float = _TRIG.scene_local_threshold
    scan_change_points: int = _SCAN.min_points
    scan_change_tolerance: float = _SCAN.tolerance
    scan_change_range: float = _SCAN.max_range
    scan_laser_pose: Tuple[float, ...] = _SCAN.mount
    keepalive_period: float = _TRIG.keepalive_period
    min_inference_interval: float = _TRIG.min_interval
    error_backoff: float = _TRIG.error_backoff
    chunk_blend: str = _EXEC.chunk_blend
    temporal_decay: float = _EXEC.temporal_decay
    history_rate: float = _EXEC.history_rate
    image_timeout: float = _EXEC.image_timeout
    state_timeout: float = _EXEC.state_timeout
    condition_on: str = 'auto'
    heartbeat_rate: float = 10.0
    status_rate: float = 2.0
    num_threads: int = 0
    inference_nice: int = 5
    arm_frame_id: str = 'arm_base_link'
    safety_pause_reasons: Tuple[str, ...] = _EXEC.safety_pause_reasons
    done_threshold: float = _EXEC.done_threshold
    done_steps: int = _EXEC.done_steps
    done_max_motion: float = _EXEC.done_max_motion
    instruction_max_age: float = _EXEC.instruction_max_age
    preflight_memory_reserve_mb: float = _PRE.memory_reserve_mb
    preflight_max_gpu_temp_c: float = _PRE.max_gpu_temp_c
    preflight_power_mode: str = _PRE.required_power_mode
    preflight_require_locked_clocks: bool = _PRE.require_locked_clocks

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f'backend must be one of {BACKENDS}, got {self.backend!r}')
        if self.action_space not in ('base', 'arm'):
            raise ValueError(f"action_space must be 'base' or 'arm', got {self.action_space!r}")
        if self.chunk_blend not in BLEND_MODES:
            raise ValueError(f'chunk_blend must be one of {BLEND_MODES}')
        if self.condition_on not in ('auto', 'original', 'canonical'):
            raise ValueError("condition_on must be 'auto', 'original' or 'canonical'")
        for name in ('heartbeat_rate', 'status_rate'):
            if not getattr(self, name) > 0:
                raise ValueError(f'{name} must be > 0')
        self.executive_config()  # validates the executive's fields

    def fit_model(self, policy: Any) -> Tuple[str, List[str]]:
        """Whether a loaded policy fits these parameters: (the refusal or '', warnings).

        A `condition_on` other than 'auto' is applied to the policy's config here.
        """
        notes = []
        if not policy.has_done_signal:
            notes.append('this model has no termination signal: the policy cannot end a task '
                         'by itself (something else must stop the robot; retrain with done '
                         'labels)')
        if policy.action_space.name != self.action_space:
            return (f'the checkpoint is for the {policy.action_space.name!r} action space, the '
                    f'node is configured for {self.action_space!r}'), notes
        if policy.config.num_cameras != 1:
            return (f'the checkpoint expects {policy.config.num_cameras} cameras; this node '
                    'subscribes one'), notes
        if self.condition_on not in ('auto', policy.config.condition_on):
            notes.append(f'condition_on overridden: the model was trained on the '
                         f'{policy.config.condition_on} text, it now sees the '
                         f'{self.condition_on} text')
            policy.config.condition_on = self.condition_on
        expected_rate = 1.0 / policy.config.control_dt
        if abs(expected_rate - self.control_rate) > 1e-6 * expected_rate:
            notes.append(f'control_rate {self.control_rate} Hz differs from the model\'s '
                         f'action rate {expected_rate:g} Hz')
        return '', notes

    def preflight_limits(self) -> Limits:
        return Limits(self.preflight_memory_reserve_mb, self.preflight_max_gpu_temp_c,
                      self.preflight_power_mode, self.preflight_require_locked_clocks)

    def trigger_config(self) -> TriggerConfig:
        # by keyword: a field added to TriggerConfig must not shift the others
        return TriggerConfig(
            mode=self.trigger_mode, periodic_rate=self.periodic_rate,
            queue_threshold=self.queue_threshold, scene_threshold=self.scene_threshold,
            state_threshold=self.state_threshold,
            scene_local_threshold=self.scene_local_threshold,
            keepalive_period=self.keepalive_period, min_interval=self.min_inference_interval,
            error_backoff=self.error_backoff)

    def executive_config(self) -> ExecutiveConfig:
        return ExecutiveConfig(
            control_rate=self.control_rate, trigger=self.trigger_config(),
            chunk_blend=self.chunk_blend, temporal_decay=self.temporal_decay,
            history_rate=self.history_rate, image_timeout=self.image_timeout,
            state_timeout=self.state_timeout,
            safety_pause_reasons=tuple(self.safety_pause_reasons),
            done_threshold=self.done_threshold, done_steps=self.done_steps,
            done_max_motion=self.done_max_motion,
            instruction_max_age=self.instruction_max_age,
            scan_change=ScanChangeConfig(
                min_points=self.scan_change_points, tolerance=self.scan_change_tolerance,
                max_range=self.scan_change_range, mount=tuple(self.scan_laser_pose)))


@dataclass(frozen=True)
class Spec:
    description: str
    min_value: Optional[float] = None
    max_value: Optional[float] = None
    read_only: bool = False


SPECS: Dict[str, Spec] = {
    'model_path': Spec('policy checkpoint directory (required); applied at the next configure'),
    'backend': Spec('policy backend: robovlms (torch), onnx (<model_path>/onnx export) or '
                    'tensorrt (<model_path>/trt engines built on this device by '
                    'build_trt_engine)'),
    'action_space': Spec("'base' (cmd_vel_in Twist) or 'arm' (arm_cmd_in ArmCommand); must "
                         'match the checkpoint', read_only=True),
    'control_rate': Spec('Hz, one queued action per tick', 0.5, 100.0, read_only=True),
    'trigger_mode': Spec("'event' (the product) or 'periodic' (baseline for comparison)"),
    'periodic_rate': Spec('Hz, inference rate in periodic mode', 0.1, 100.0),
    'queue_threshold': Spec('refill when this many actions or fewer are queued', 0, 1000),
    'scene_threshold': Spec('scene-change trigger: mean abs grey difference (0..1) to the last '
                            'inference image; 0 disables', 0.0, 1.0),
    'scene_local_threshold': Spec('scene-change trigger: largest mean abs grey difference '
                                  '(0..1) of one image cell to the previous frame, the whole '
                                  'image aligned (an object moved or appeared); 0 disables',
                                  0.0, 1.0),
    'scan_change_points': Spec('scene-change trigger from the laser (base): this many scan '
                               'points in space the previous scan saw free (an object moved '
                               'or appeared, in view or not); subscribes `scan`; 0 disables',
                               0, 10000, read_only=True),
    'scan_change_tolerance': Spec('m a scan point must lie nearer than the space the previous '
                                  'scan saw free (above the range noise)', 0.005, 1.0),
    'scan_change_range': Spec('m, only scan points this near count', 0.1, 100.0),
    'scan_laser_pose': Spec('the laser\'s pose in base_link [x m, y m, yaw rad] (as the '
                            'safety gate\'s scan.laser_*)', read_only=True),
    'state_threshold': Spec('state-change trigger: max abs state difference (m/s, rad/s or '
                            'rad) to the last inference; 0 disables', 0.0, 100.0),
    'keepalive_period': Spec('s without inference before a keep-alive inference; 0 disables',
                             0.0, 3600.0),
    'min_inference_interval': Spec('s, lower bound between inferences (events wait, they are '
                                   'not dropped)', 0.0, 60.0),
    'error_backoff': Spec('s to wait after a failed inference', 0.0, 60.0),
    'chunk_blend': Spec('overlap blending: none, linear (cross-fade) or temporal (ACT '
                        'ensembling)'),
    'temporal_decay': Spec('temporal ensembling decay', 0.0, 10.0),
    'history_rate': Spec("Hz at which camera frames enter the policy's history window between "
                         'inferences (0: only inference frames)', 0.0, 100.0),
    'image_timeout': Spec('s, older camera images pause the policy (no commands)', 0.01, 60.0),
    'state_timeout': Spec('s, older robot state pauses a policy that needs it', 0.01, 60.0),
    'condition_on': Spec("text the policy sees: 'auto' (as trained), 'original' or "
                         "'canonical'"),
    'heartbeat_rate': Spec('Hz, heartbeat while healthy and active', 0.1, 100.0,
                           read_only=True),
    'status_rate': Spec('Hz, periodic ~/status', 0.1, 100.0, read_only=True),
    'num_threads': Spec('inference threads (0: library default)', 0, 64, read_only=True),
    'inference_nice': Spec('niceness added to the inference worker thread (Linux; its '
                           'library threads inherit it): the executor thread, with the '
                           'heartbeat and the control tick, keeps its CPU share while a slow '
                           'inference runs; 0 = off', 0, 19, read_only=True),
    'arm_frame_id': Spec('frame of ArmCommand end-effector deltas'),
    'safety_pause_reasons': Spec('SafetyState reason names that pause the policy while the '
                                 'gate is STOPPED'),
    'done_threshold': Spec("termination probability at which a step counts as 'done'",
                           0.01, 1.0),
    'done_steps': Spec('consecutive executed done steps that end the task (stop, DONE, the '
                       'instruction consumed)', 1, 100),
    'done_max_motion': Spec('a done step must also command at most this motion: the norm of '
                            'its first three action values (arm: tool translation per step, '
                            'm; base: velocity); 0 = not checked', 0.0, 10.0),
    'instruction_max_age': Spec('s, an instruction older than this when it arrives (a latched '
                                'one served late) is refused', 0.1, 3600.0),
    'preflight_memory_reserve_mb': Spec('MiB of available memory that must remain after the '
                                        'model budget at configure', 0.0, 65536.0),
    'preflight_max_gpu_temp_c': Spec('deg C, a hotter GPU thermal zone refuses the model at '
                                     'configure (Jetson)', 30.0, 110.0),
    'preflight_power_mode': Spec("nvpmodel mode name required at configure, e.g. MAXN or 25W "
                                 "('' accepts any; Jetson)"),
    'preflight_require_locked_clocks': Spec('refuse the model unless jetson_clocks locked the '
                                            'clocks (else a warning)'),
}


def declare_parameters(node: Any) -> None:
    """Declare `autostart` and every NodeParams field with its descriptor."""
    declare(node, 'autostart', True, 'configure and activate without a lifecycle manager',
            read_only=True)
    defaults = NodeParams()
    for f in dataclasses.fields(NodeParams):
        spec = SPECS[f.name]
        default = getattr(defaults, f.name)
        declare(node, f.name, list(default) if isinstance(default, tuple) else default,
                spec.description, spec.min_value, spec.max_value, read_only=spec.read_only)


def read_params(node: Any, overrides: Optional[Dict[str, Any]] = None) -> NodeParams:
    """NodeParams from the node's current values (+ `overrides`); ValueError if invalid."""
    values = {f.name: node.get_parameter(f.name).value for f in dataclasses.fields(NodeParams)}
    values.update(overrides or {})
    values['safety_pause_reasons'] = tuple(values['safety_pause_reasons'] or ())
    values['scan_laser_pose'] = tuple(float(v) for v in values['scan_laser_pose'] or ())
    return NodeParams(**values)
