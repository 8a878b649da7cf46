"""Two hosts on one machine: network namespaces joined by a veth pair, with link faults.

`TwoHosts` creates a robot host and a policy host (network namespaces) joined by a veth pair
(link-local addresses; nothing is routed out of the namespaces), and injects the faults of the
two-host test: random loss with an nftables `numgen random` rule, a bandwidth squeeze with a
`tbf` qdisc, and the link going down. It needs root with CAP_NET_ADMIN, `ip` (iproute2), `tc`
and `nft` (nftables; scripts/setup.sh installs them); `unavailable_reason()` says why not.

Processes run on a host by prefixing their command line with `host.prefix` (`ip netns exec`),
which keeps the process id (exec), so signals and process groups work as usual. Both hosts
share CLOCK_MONOTONIC with the caller, so times recorded on either side compare directly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import List, Optional, Sequence

TOOLS = ('ip', 'tc', 'nft')


def _run(args: Sequence[str], check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=30)


def unavailable_reason() -> str:
    """'' when network namespaces can be made here, else why not (for a skip message)."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return (f'missing {", ".join(missing)} (scripts/setup.sh installs iproute2 and '
                'nftables as root)')
    if os.geteuid() != 0:
        return 'needs root with CAP_NET_ADMIN to create network namespaces'
    probe = f'vlaprobe{os.getpid()}'
    res = _run(['ip', 'netns', 'add', probe], check=False)
    if res.returncode != 0:
        return f'cannot create a network namespace (CAP_NET_ADMIN?): {res.stderr.strip()}'
    _run(['ip', 'netns', 'del', probe], check=False)
    return ''


@dataclass(frozen=True)
class Host:
    """One end of the link."""

    name: str           # network namespace
    device: str         # its veth end
    address: str        # IPv4 on the veth

    @property
    def prefix(self) -> List[str]:
        return ['ip', 'netns', 'exec', self.name]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return _run(self.prefix + list(args), check=check)


class TwoHosts:
    """Robot host <-veth-> policy host. Use as a context manager (removes everything)."""

    TABLE = 'vla_faults'

    def __init__(self, tag: Optional[str] = None) -> None:
        tag = tag or str(os.getpid() % 100000)
        # Link-local /30: the two test hosts only, never routed beyond the namespaces.
        octet = 1 + (int(tag) % 250 if tag.isdigit() else 97)
        self.robot = Host(f'vla_robot_{tag}', f'vlar{tag}', f'169.254.{octet}.1')
        self.policy = Host(f'vla_policy_{tag}', f'vlap{tag}', f'169.254.{octet}.2')
        self._up = False

    # --- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> 'TwoHosts':
        self.create()
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    def create(self) -> None:
        self.destroy()
        r, p = self.robot, self.policy
        for h in (r, p):
            _run(['ip', 'netns', 'add', h.name])
        self._up = True
        _run(['ip', 'link', 'add', r.device, 'type', 'veth', 'peer', 'name', p.device])
        for h in (r, p):
            _run(['ip', 'link', 'set', h.device, 'netns', h.name])
            h.run('ip', 'addr', 'add', f'{h.address}/30', 'dev', h.device)
            h.run('ip', 'link', 'set', 'lo', 'up')
            h.run('ip', 'link', 'set', h.device, 'up')
            # DDS discovery uses multicast (239.255.0.1): route it onto the veth.
            h.run('ip', 'route', 'replace', '224.0.0.0/4', 'dev', h.device)
            h.run('nft', 'add', 'table', 'inet', self.TABLE)
            h.run('nft', 'add', 'chain', 'inet', self.TABLE, 'out',
                  '{ type filter hook output priority 0; policy accept; }')
            # Counts what crosses the link (proves the traffic is on the veth, not elsewhere).
            h.run('nft', 'add', 'rule', 'inet', self.TABLE, 'out', 'oifname', h.device,
                  'counter')

    def destroy(self) -> None:
        for h in (self.robot, self.policy):
            _run(['ip', 'netns', 'del', h.name], check=False)   # removes its veth end too
        self._up = False

    # --- faults ------------------------------------------------------------------------------
    def set_loss(self, percent: int) -> None:
        """Drop `percent` % of the packets leaving each host on the link (0 removes it)."""
        for h in (self.robot, self.policy):
            h.run('nft', 'flush', 'chain', 'inet', self.TABLE, 'out')
            h.run('nft', 'add', 'rule', 'inet', self.TABLE, 'out', 'oifname', h.device,
                  'counter')
            if percent > 0:
                h.run('nft', 'add', 'rule', 'inet', self.TABLE, 'out', 'oifname', h.device,
                      'numgen', 'random', 'mod', '100', '<', str(int(percent)), 'drop')

    def squeeze(self, rate: str = '1mbit', burst: str = '32kbit',
                latency: str = '400ms') -> None:
        """Token-bucket limit both directions of the link."""
        for h in (self.robot, self.policy):
            h.run('tc', 'qdisc', 'replace', 'dev', h.device, 'root', 'tbf', 'rate', rate,
                  'burst', burst, 'latency', latency)

    def unsqueeze(self) -> None:
        for h in (self.robot, self.policy):
            h.run('tc', 'qdisc', 'del', 'dev', h.device, 'root', check=False)

    def link(self, up: bool) -> None:
        """Bring the link down or up (both ends, so neither side queues into a dead link)."""
        for h in (self.robot, self.policy):
            h.run('ip', 'link', 'set', h.device, 'up' if up else 'down')
            if up:   # the kernel drops the device's routes when it goes down
                h.run('ip', 'route', 'replace', '224.0.0.0/4', 'dev', h.device)

    def clear(self) -> None:
        self.set_loss(0)
        self.unsqueeze()
        self.link(True)

    def packets_sent(self, host: Host) -> int:
        """Packets `host` sent on the link so far (the nftables counter)."""
        out = host.run('nft', 'list', 'chain', 'inet', self.TABLE, 'out').stdout
        for line in out.splitlines():
            if 'counter packets' in line and 'drop' not in line:
                return int(line.split('counter packets')[1].split()[0])
        return 0
