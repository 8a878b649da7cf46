"""The shared skeleton of the simulator nodes (`mobile_base`'s mujoco_sim, `arm_sim`).

One simulation thread owns the world (MuJoCo's OpenGL contexts are per thread) and does all
stepping, rendering and publishing; the executor thread only stores incoming commands and
hands episode requests to it. This class owns that thread and what every simulator needs
around it:

* sim time: `/clock` every tick (`TICK_RATE`, 100 Hz of sim time), continuous over episodes;
* pacing: `realtime_factor` (1.0 = wall clock, 2.0 = twice as fast, 0 = as fast as possible);
* lockstep (`lockstep: true`): the simulation never runs more than `lockstep_max_lag` s of
  sim time past the last command it received, and waits (up to `lockstep_timeout` wall s)
  for the next one, so a slow controller slows the simulation down instead of seeing a world
  that moved on. Only while the command topic has a publisher and the episode runs. With
  factor 0 the simulation runs as fast as the controller answers; with a factor > 0 it runs
  at that pace and lockstep only acts when the controller falls behind (after a wait the
  pacing starts over: no burst to catch up);
* episode requests from service callbacks, answered by the simulation thread;
* memory: blocks of 1 MiB and more get their own mapping, unmapped when freed
  (`map_large_allocations`), so the model, data and render context every episode rebuilds
  cannot pile up in the heap;
* shutdown: the thread is stopped and joined before the node is destroyed (it publishes);
  use `simulation_factory` as the node's `main` factory so SIGINT/SIGTERM end the spin
  cleanly (see vla_common.node_main.install_interrupt_handlers).

A subclass implements the hooks (`create_world`, `start_episode`, `step_tick`,
`publish_tick`, ...) and calls `notify_command()` from its command callbacks. What the
MuJoCo simulators also share is here too, on three conventions: the declared parameters in
`params`, the world in `world` (`time`, `steps`, `close()`) and the running episode's
(scenario, seed) in `_current`: the world-backed hooks, `on_set_parameters` and
`on_start_episode` callbacks, and the `/diagnostics` status with the timing figures.
"""

from __future__ import annotations

import ctypes
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image

from vla_common import topics
from vla_common.image import fill_image
from vla_common.node_main import add_signal_wakeup, install_interrupt_handlers
from vla_common.params import declare
from vla_common.qos import RELIABLE_QOS
from vla_common.stamps import time_msg

TICK_RATE = 100.0        # Hz of sim time: /clock, command updates, episode checks
STOP_TIMEOUT = 5.0       # wall s to wait for the simulation thread to stop
START_TIMEOUT = 120.0    # wall s for the world to load
LARGE_ALLOCATION = 1 << 20   # bytes: from this size up, a block is mapped on its own
_M_MMAP_THRESHOLD = -3       # glibc <malloc.h>


def map_large_allocations(threshold: int = LARGE_ALLOCATION) -> bool:
    """Have malloc serve every block of `threshold` bytes or more by its own mmap, unmapped
    (returned to the system) when it is freed; False where that cannot be set (not glibc).

    Every episode builds a new MuJoCo model, its data and a render context (the offscreen
    framebuffers of one multisampled 640x480 context are ~10 MB) and frees the previous
    ones. glibc raises its mmap threshold to the size of a mapped block when that block is
    freed (the dynamic threshold, up to 32 MB), so after the first episode those blocks came
    from the simulation thread's heap, where a freed block below a live one stays resident:
    the simulator's RSS grew in ~12 MB steps over a 30 min soak while the world alone did not
    (docs/reliability.md). A fixed threshold also ends the dynamic adjustment.
    """
    try:
        return bool(ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, int(threshold)))
    except (OSError, AttributeError):
        return False


class EpisodeRequest:
    """An episode request handed from a service callback to the simulation thread."""

    def __init__(self, scenario: str, seed: int) -> None:
        self.scenario, self.seed = scenario, seed
        self.done = threading.Event()
        self.success = False
        self.message = ''


class SimulationNode(Node):
    """Base class: call `declare_timing_parameters()` and `start_simulation()` in __init__."""

    def __init__(self, node_name: str, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self.timing: Dict[str, Any] = {}
        self._lock = threading.Condition()
        self._command_fresh = False           # a command arrived, not yet consumed
        self._command_sim_time = 0.0          # sim time when the last command was taken
        self._requests: List[EpisodeRequest] = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: Optional[BaseException] = None
        self._thread: Optional[threading.Thread] = None
        self.params: Dict[str, Any] = {}
        self.world: Any = None
        self._current: Tuple[str, int] = ('', 0)
        self._schedule_start = 0.0                # sim time the output schedules count from
        self._due_at: Dict[str, float] = {}       # output -> sim time it is next due
        self.pub_clock = self.create_publisher(Clock, topics.CLOCK, RELIABLE_QOS)
        self.pub_diag = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, RELIABLE_QOS)

    # --- parameters ----------------------------------------------------------------------------
    def declare_timing_parameters(self, command: str) -> Dict[str, Any]:
        """Declare realtime_factor and the lockstep parameters (`command` names the topic the
        simulator locksteps on, for the descriptions)."""
        d = self
        self.timing = {
            'realtime_factor': declare(d, 'realtime_factor', 1.0,
                                       'sim seconds per wall second; 0 = as fast as possible',
                                       0.0, 100.0),
            'lockstep': declare(d, 'lockstep', False,
                                f'never run more than lockstep_max_lag of sim time past the '
                                f'last {command} (while it has a publisher and the episode '
                                'runs): a slow controller slows the sim instead of falling '
                                'behind (with realtime_factor > 0: only when it falls behind)'),
            'lockstep_max_lag': declare(d, 'lockstep_max_lag', 0.1,
                                        f'sim s the simulation may run ahead of the last '
                                        f'{command} in lockstep (>= the controller period)',
                                        0.01, 10.0),
            'lockstep_timeout': declare(d, 'lockstep_timeout', 1.0,
                                        'longest wait (wall s) for a command in lockstep, '
                                        'per 10 ms tick', 0.001, 60.0),
        }
        return self.timing

    def update_timing(self, name: str, value: Any) -> bool:
        """A runtime change of a timing parameter (from the node's on-set callback)."""
        if name in self.timing:
            self.timing[name] = value
            return True
        return False

    def on_set_parameters(self, params: List[Any]) -> SetParametersResult:
        """The on-set callback: rclpy has checked the ranges (descriptors); the accepted
        values go live in `params` and the timing."""
        for param in params:
            if param.name in self.params:
                self.params[param.name] = param.value
            self.update_timing(param.name, param.value)
        return SetParametersResult(successful=True)

    def on_start_episode(self, request: Any, response: Any) -> Any:
        """The `~/start_episode` callback (vla_msgs/StartEpisode): an empty scenario repeats
        the current one."""
        response.success, response.message = self.request_episode(
            request.scenario.strip() or self._current[0], int(request.seed))
        return response

    # --- hooks (simulation thread unless noted) --------------------------------------------------
    def create_world(self) -> None:
        raise NotImplementedError

    def close_world(self) -> None:
        """Release the world (renderer contexts)."""
        if self.world is not None:
            self.world.close()

    def start_episode(self, scenario: str, seed: int) -> Tuple[bool, str]:
        raise NotImplementedError

    def auto_start(self) -> Optional[Tuple[str, int]]:
        """The episode to start when the world is up (the configured one with the
        `auto_start` parameter), or None to idle until a request."""
        return self._current if self.params.get('auto_start') else None

    def has_episode(self) -> bool:
        """False while there is nothing to simulate (idle until a request)."""
        return True

    def lockstep_active(self) -> bool:
        """Whether lockstep may wait now (e.g. the command topic has a publisher, the episode
        runs)."""
        return False

    def sim_time(self) -> float:
        return float(self.world.time)

    def step_tick(self) -> None:
        """Apply the newest commands and advance one tick (1 / TICK_RATE s)."""
        raise NotImplementedError

    def publish_tick(self, stamp: Any) -> None:
        """Publish what is due at the current sim time (after /clock), stamped `stamp` (the
        time of that /clock)."""

    def publish_diagnostics(self, real_time_factor: float, steps_per_s: float) -> None:
        """Called about once per wall second."""

    def physics_steps(self) -> int:
        return 0 if self.world is None else int(self.world.steps)

    def simulation_status(self, name: str, hardware_id: str, real_time_factor: float,
                          steps_per_s: float, **values: Any) -> DiagnosticStatus:
        """An OK status with the timing figures, then `values` (key=value, as text), for
        `publish_diagnostics` to complete."""
        status = DiagnosticStatus(level=DiagnosticStatus.OK, name=name,
                                  hardware_id=hardware_id)
        status.message = f'real-time factor {real_time_factor:.2f}'
        status.values = [
            KeyValue(key='real_time_factor', value=f'{real_time_factor:.3f}'),
            KeyValue(key='physics_steps_per_s', value=f'{steps_per_s:.0f}'),
            KeyValue(key='sim_time', value=f'{self.sim_time():.2f}'),
        ] + [KeyValue(key=key, value=str(value)) for key, value in values.items()]
        return status

    def log_episode_end(self, text: str, success: bool) -> None:
        """An episode's outcome: info when it succeeded, a warning otherwise (one call site per
        severity: rclpy refuses a call site that changes severity)."""
        if success:
            self.get_logger().info(text)
        else:
            self.get_logger().warning(text)

    def publish_image(self, publisher: Any, rgb: Any, stamp: Any, frame_id: str) -> None:
        """Publish a rendered RGB frame as a sensor_msgs/Image stamped with sim time."""
        msg = fill_image(Image(), rgb, 'rgb8')
        msg.header.stamp = stamp
        msg.header.frame_id = frame_id
        publisher.publish(msg)

    def publish_status(self, status: DiagnosticStatus) -> None:
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.pub_diag.publish(msg)

    def ready_message(self, *details: str) -> str:
        """Logged once when the simulation loop starts (tests and operators wait for it): the
        node's name, `details` (a subclass's), the cameras (with a `camera_rate` parameter)
        and the timing."""
        parts = list(details)
        if 'camera_rate' in self.params:
            o = self.world.options
            parts.append(f'{o.image_width}x{o.image_height} cameras at '
                         f'{self.params["camera_rate"]} Hz')
        parts += [f'realtime_factor {self.timing["realtime_factor"]}',
                  f'lockstep {self.timing["lockstep"]}']
        return f'{self.get_name()} ready: ' + ', '.join(parts)

    # --- executor-thread helpers ---------------------------------------------------------------
    def notify_command(self) -> None:
        """A command arrived (call from the subscription callback, any thread)."""
        with self._lock:
            self._command_fresh = True
            self._lock.notify_all()

    def take_command_flag(self) -> bool:
        """Simulation thread: consume the 'fresh command' flag; True if one arrived."""
        with self._lock:
            fresh, self._command_fresh = self._command_fresh, False
        if fresh:
            self._command_sim_time = self.sim_time()
        return fresh

    def reset_lockstep(self) -> None:
        """An episode (re)started: the controller gets a full lag before lockstep waits."""
        self._command_sim_time = self.sim_time()

    def episode_restarted(self) -> None:
        """Simulation thread, at an episode start: drop a pending command flag, give the
        controller a full lockstep lag and publish every output from now on its schedule."""
        self.take_command_flag()
        self.reset_lockstep()
        self._schedule_start = self.sim_time()
        self._due_at.clear()

    def due(self, output: str, rate: float) -> bool:
        """Whether `output`, published `rate` times per sim second (0: never), is due at the
        current sim time; advances its schedule when it is."""
        next_at = self._due_at.get(output, self._schedule_start)
        if rate <= 0.0 or self.sim_time() + 1e-9 < next_at:
            return False
        self._due_at[output] = next_at + 1.0 / rate
        return True

    def request_episode(self, scenario: str, seed: int, timeout: float = 60.0
                        ) -> Tuple[bool, str]:
        """From a service callback: have the simulation thread start an episode."""
        req = EpisodeRequest(scenario, seed)
        with self._lock:
            self._requests.append(req)
            self._lock.notify_all()
        if not req.done.wait(timeout=timeout):
            return False, 'simulation thread did not respond'
        return req.success, req.message

    # --- the thread ----------------------------------------------------------------------------
    def start_simulation(self) -> None:
        """Start the simulation thread and wait until the world is up (or raise)."""
        if not map_large_allocations():
            self.get_logger().warning('could not set the malloc mmap threshold (not glibc): '
                                      'memory may grow over many episodes')
        self._thread = threading.Thread(target=self._run, name=self.get_name(), daemon=True)
        self._thread.start()
        try:
            if not self._ready.wait(timeout=START_TIMEOUT):
                raise RuntimeError(f'simulation thread did not start within {START_TIMEOUT} s')
            if self._error is not None:
                raise RuntimeError(f'simulation failed to start: {self._error}') from self._error
        except BaseException:
            # Failed, or interrupted (SIGINT/SIGTERM) while the world loads: no node is handed
            # to the caller, so stop the thread and free the node here.
            self.destroy_node()
            raise

    def _run(self) -> None:
        try:
            self.create_world()
            first = self.auto_start()
            if first is not None:
                ok, message = self.start_episode(*first)
                if not ok:
                    raise ValueError(message)
        except BaseException as exc:  # noqa: BLE001 - reported to the constructor
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop()
        except Exception as exc:  # noqa: BLE001 - a dead sim must be loud, not silent
            if self._stop.is_set() or not self.context.ok():
                return  # shutting down: publishers die under the loop, nothing crashed
            self.get_logger().fatal(f'simulation thread crashed: {type(exc).__name__}: {exc}')
            raise
        finally:
            self.close_world()
        self.get_logger().info('simulation thread stopped')

    def _serve_requests(self) -> bool:
        with self._lock:
            requests, self._requests = self._requests, []
        for req in requests:
            try:
                req.success, req.message = self.start_episode(req.scenario, req.seed)
            except Exception as exc:  # noqa: BLE001 - answer the caller with the reason
                req.success, req.message = False, f'{type(exc).__name__}: {exc}'
            if not req.success:
                self.get_logger().error(f'start_episode refused: {req.message}')
            req.done.set()
        return bool(requests)

    def _wait_for_command(self) -> bool:
        """Lockstep: hold sim time until the controller's next command; False on timeout."""
        deadline = time.monotonic() + self.timing['lockstep_timeout']
        with self._lock:
            while not self._command_fresh and not self._requests and not self._stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0.0:
                    return False
                self._lock.wait(remaining)
        return True

    def _loop(self) -> None:
        wall0, sim0 = time.monotonic(), self.sim_time()
        stats_wall, stats_sim, stats_steps = time.monotonic(), self.sim_time(), \
            self.physics_steps()
        last_factor = self.timing['realtime_factor']
        self.get_logger().info(self.ready_message())
        while not self._stop.is_set():
            if self._serve_requests():     # an episode reset takes wall time: re-synchronise
                wall0, sim0 = time.monotonic(), self.sim_time()
            if not self.has_episode():     # idle until start_episode
                with self._lock:
                    if not self._requests:
                        self._lock.wait(0.1)
                wall0, sim0 = time.monotonic(), self.sim_time()
                continue
            if self.timing['lockstep'] and self.lockstep_active() \
                    and self.sim_time() - self._command_sim_time \
                    >= self.timing['lockstep_max_lag']:
                if not self._wait_for_command():
                    # Give the silent controller another lag's worth of sim time.
                    self._command_sim_time = self.sim_time()
                    self.get_logger().warning(
                        f'lockstep: no command for {self.timing["lockstep_timeout"]} s '
                        '(wall); stepping on', throttle_duration_sec=10.0)
                # Paced: the wait is not time to catch up on (no burst past the controller).
                wall0, sim0 = time.monotonic(), self.sim_time()
            self.step_tick()
            stamp = time_msg(self.sim_time())
            self.pub_clock.publish(Clock(clock=stamp))
            self.publish_tick(stamp)
            # Pacing against the wall clock.
            factor = self.timing['realtime_factor']
            if factor != last_factor:
                wall0, sim0, last_factor = time.monotonic(), self.sim_time(), factor
            if factor > 0.0:
                target = wall0 + (self.sim_time() - sim0) / factor
                delay = target - time.monotonic()
                if delay > 0.0:
                    self._stop.wait(delay)
                elif delay < -0.5:
                    self.get_logger().warning(
                        f'running {-delay:.1f} s behind real time x{factor}; re-synchronising',
                        throttle_duration_sec=10.0)
                    wall0, sim0 = time.monotonic(), self.sim_time()
            now = time.monotonic()
            if now - stats_wall >= 1.0:
                steps = self.physics_steps()
                self.publish_diagnostics((self.sim_time() - stats_sim) / (now - stats_wall),
                                         (steps - stats_steps) / (now - stats_wall))
                stats_wall, stats_sim, stats_steps = now, self.sim_time(), steps

    def stop_simulation(self) -> bool:
        """Stop the simulation thread and wait for it (it publishes: call this while the
        context is valid, before destroying the node); False if it did not stop in time."""
        thread = self._thread
        if thread is None:
            return True
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        if thread.is_alive() and threading.current_thread() is not thread:
            thread.join(timeout=STOP_TIMEOUT)
        return not thread.is_alive()

    def destroy_node(self) -> None:
        if not self.stop_simulation():
            self.get_logger().warning(
                f'simulation thread did not stop within {STOP_TIMEOUT} s; destroying the node '
                'under it')
        super().destroy_node()


def simulation_factory(node_class: Callable[[], SimulationNode]) -> Callable[[], SimulationNode]:
    """A `run_node` factory for a simulator node.

    rclpy's own SIGINT/SIGTERM handlers shut the context down under the running simulation
    thread (its next publish raised RCLError), and with use_sim_time the executor could miss
    the shutdown and wait forever. The factory replaces them before the node starts its
    thread: the signal ends the start-up wait or the spin, `run_node` destroys the node (which
    stops and joins the simulation thread) while the context is still valid, and returns 0.
    """
    def factory() -> SimulationNode:
        install_interrupt_handlers()
        node = node_class()
        add_signal_wakeup(node)   # nothing else is sure to wake the executor
        return node
    return factory


__all__ = ['EpisodeRequest', 'LARGE_ALLOCATION', 'map_large_allocations', 'SimulationNode',
           'START_TIMEOUT', 'STOP_TIMEOUT', 'TICK_RATE', 'simulation_factory']
