"""How many CPUs this process may really use: the container's CPU quota and affinity mask.

``os.cpu_count()`` is the host's CPU count. A container gets less: a CFS quota (a Batch
job's vCPUs on EC2, Docker's ``--cpus``), read from cgroup v2 ``cpu.max`` or cgroup v1
``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``, and an affinity mask (``taskset``,
``--cpuset-cpus``). The budget is the smallest of them; a quota may be fractional
(1.5 CPUs). Every cgroup from the process's own up to the mount's root counts, since a
parent's quota caps its children.

The cgroup directories are found the way the kernel documents them: the process's
cgroup path from ``/proc/self/cgroup``, made relative to the root of a cgroup mount
listed in ``/proc/self/mountinfo``. All paths are read under ``root`` so tests can
build a fake ``/proc`` and ``/sys`` in a temporary directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


@dataclass(frozen=True)
class CpuBudget:
    """CPUs available to the encode, and what limited them (for the logs)."""

    cpus: float
    source: str


@dataclass(frozen=True)
class _Mount:
    root: PurePosixPath
    mount_point: PurePosixPath
    fstype: str
    super_options: frozenset[str]


def cpu_budget(override: float | None = None, *, root: Path = Path("/"), affinity: int | None = None) -> CpuBudget:
    """The CPU budget: ``override`` when given, else min(affinity mask, cgroup quotas)."""
    if override is not None:
        if not override > 0:
            raise ValueError(f"a CPU budget override must be positive, got {override}")
        return CpuBudget(float(override), "override")
    affinity = affinity if affinity is not None else _affinity()
    budget = CpuBudget(float(affinity), f"affinity mask of {affinity} CPU{'s' if affinity != 1 else ''}")
    for quota in _quotas(root):
        if quota.cpus < budget.cpus:
            budget = quota
    return budget


def _affinity() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux: no affinity call, and no cgroups either
        return os.cpu_count() or 1


def _quotas(root: Path) -> list[CpuBudget]:
    mounts = _mounts(root)
    groups = _cgroups(root)
    quotas: list[CpuBudget] = []
    for mount in mounts:
        if mount.fstype == "cgroup2" and "" in groups:
            for directory in _directories(root, mount, groups[""]):
                quotas += _v2_quota(directory)
        elif mount.fstype == "cgroup" and "cpu" in mount.super_options and "cpu" in groups:
            for directory in _directories(root, mount, groups["cpu"]):
                quotas += _v1_quota(directory)
    return quotas


def _mounts(root: Path) -> list[_Mount]:
    """cgroup mounts from mountinfo: ``ID PARENT MAJ:MIN ROOT POINT OPTS [TAGS…] - FSTYPE SOURCE SUPEROPTS``."""
    mounts = []
    for line in _read_lines(root / "proc/self/mountinfo"):
        fields, sep, tail = line.partition(" - ")
        before, after = fields.split(), tail.split()
        if not sep or len(before) < 5 or len(after) < 3 or after[0] not in ("cgroup", "cgroup2"):
            continue
        mounts.append(_Mount(PurePosixPath(before[3]), PurePosixPath(before[4]), after[0],
                             frozenset(after[2].split(","))))
    return mounts


def _cgroups(root: Path) -> dict[str, PurePosixPath]:
    """The process's cgroup path per v1 controller, and under ``""`` its v2 path."""
    groups: dict[str, PurePosixPath] = {}
    for line in _read_lines(root / "proc/self/cgroup"):
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for controller in controllers.split(",") if controllers else [""]:
            groups[controller] = PurePosixPath(path)
    return groups


def _directories(root: Path, mount: _Mount, group: PurePosixPath) -> list[Path]:
    """The group's directory under the mount and each parent up to the mount point.

    Without a cgroup namespace the process's path is the host's (``/docker/abc``) and the
    mount's root may be that same directory; a path outside the mount's root means the
    mount shows only the root.
    """
    try:
        relative = group.relative_to(mount.root)
    except ValueError:
        relative = PurePosixPath(".")
    base = root / mount.mount_point.relative_to("/")
    directories = [base / relative]
    directories += [base / parent for parent in relative.parents]
    return [directory for directory in directories if directory.is_dir()]


def _v2_quota(directory: Path) -> list[CpuBudget]:
    """``cpu.max`` is ``QUOTA PERIOD`` in microseconds, or ``max PERIOD`` for no limit."""
    fields = _read_text(directory / "cpu.max").split()
    if len(fields) != 2 or fields[0] == "max":
        return []
    return _ratio(fields[0], fields[1], f"cgroup v2 cpu.max {fields[0]}/{fields[1]}")


def _v1_quota(directory: Path) -> list[CpuBudget]:
    """``cpu.cfs_quota_us`` is -1 for no limit."""
    quota = _read_text(directory / "cpu.cfs_quota_us").strip()
    period = _read_text(directory / "cpu.cfs_period_us").strip()
    return _ratio(quota, period, f"cgroup v1 cpu.cfs_quota_us {quota}/{period}")


def _ratio(quota: str, period: str, source: str) -> list[CpuBudget]:
    try:
        cpus = int(quota) / int(period)
    except (ValueError, ZeroDivisionError):
        return []  # unreadable or "no limit": the other limits decide
    return [CpuBudget(cpus, source)] if cpus > 0 else []


def memory_budget_mib(*, root: Path = Path("/")) -> int:
    """The memory this process may use, in MiB: the smallest cgroup limit (v2 ``memory.max``,
    v1 ``memory.limit_in_bytes``) on its path, else the machine's (``MemTotal``).

    A Fargate task's limit is its memory size: what it is billed for.
    """
    limits = [_total_memory(root)]
    groups = _cgroups(root)
    for mount in _mounts(root):
        if mount.fstype == "cgroup2" and "" in groups:
            names, group = ("memory.max",), groups[""]
        elif mount.fstype == "cgroup" and "memory" in mount.super_options and "memory" in groups:
            names, group = ("memory.limit_in_bytes",), groups["memory"]
        else:
            continue
        for directory in _directories(root, mount, group):
            for name in names:
                value = _read_text(directory / name).strip()
                if value.isdigit() and int(value) > 0:  # "max": no limit; v1 says so with a huge number
                    limits.append(int(value))
    found = [limit for limit in limits if limit]
    return max(1, min(found) >> 20) if found else 1


def _total_memory(root: Path) -> int:
    for line in _read_lines(root / "proc/meminfo"):
        name, _, rest = line.partition(":")
        if name == "MemTotal" and rest.split() and rest.split()[0].isdigit():
            return int(rest.split()[0]) * 1024  # kB
    return 0


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _read_lines(path: Path) -> list[str]:
    return [line for line in _read_text(path).splitlines() if line.strip()]
