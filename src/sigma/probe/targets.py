"""The round's targets, packed: 34 bytes a target instead of ~200 as Python objects.

A probe keeps the targets of the last round (it falls back on them when the server cannot be
reached) and its memory budget is 40 MB at 10,000 targets: each target's VPS id is kept as
its 16 bytes, its address as 16 bytes (with its family apart) and its SSH port as two. A
Target (strings, as the server sent them) is built when a round reaches it. A VPS id that is
not a UUID in its canonical text, or an address not in its canonical text, is kept as sent,
apart, so that the results name exactly what the server named.
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from array import array
from collections.abc import Iterator
from typing import Any, NamedTuple


class Target(NamedTuple):
    """What a round needs of a target (the server sends hostname and label too)."""

    vps_id: str
    ip: str
    ssh_port: int


class Targets:
    """A sequence of Target, packed."""

    def __init__(self) -> None:
        self._ids = bytearray()
        self._ips = bytearray()
        self._v6 = bytearray()
        self._ports = array("H")
        self._odd: dict[int, Target] = {}  # kept as sent

    def add(self, vps_id: str, ip: str, ssh_port: int) -> None:
        i = len(self._ports)
        try:
            vid = uuid.UUID(vps_id)
            address = ipaddress.ip_address(ip)
            if str(vid) != vps_id or str(address) != ip or not 0 < ssh_port < 65536:
                raise ValueError(ip)
            self._ids += vid.bytes
            self._ips += address.packed.rjust(16, b"\0")
            self._v6.append(address.version == 6)
            self._ports.append(ssh_port)
        except ValueError:
            self._odd[i] = Target(vps_id, ip, ssh_port)
            self._ids += bytes(16)
            self._ips += bytes(16)
            self._v6.append(0)
            self._ports.append(0)

    def __len__(self) -> int:
        return len(self._ports)

    def __getitem__(self, i: int) -> Target:
        if not 0 <= i < len(self._ports):
            raise IndexError(i)
        odd = self._odd.get(i)
        if odd is not None:
            return odd
        packed = bytes(self._ips[16 * i : 16 * i + 16])
        address: Any = (
            ipaddress.IPv6Address(packed) if self._v6[i] else ipaddress.IPv4Address(packed[12:])
        )
        return Target(
            str(uuid.UUID(bytes=bytes(self._ids[16 * i : 16 * i + 16]))),
            str(address),
            self._ports[i],
        )

    def __iter__(self) -> Iterator[Target]:
        return (self[i] for i in range(len(self._ports)))


def parse(text: str) -> tuple[Targets, int]:
    """The targets of the server's answer (a JSON list of objects with vps_id, ip and
    ssh_port) and how many of its items were not targets. Each object is packed as it is
    parsed (json's object_hook): the dicts never pile up. A ValueError when the answer is not
    a list."""
    targets = Targets()

    def hook(obj: dict[str, Any]) -> Any:
        try:
            targets.add(str(obj["vps_id"]), str(obj["ip"]), int(obj.get("ssh_port") or 22))
            return True
        except (KeyError, TypeError, ValueError):
            return obj

    data = json.loads(text, object_hook=hook)
    if not isinstance(data, list):
        raise ValueError("the answer is not a list")
    return targets, sum(1 for item in data if item is not True)
