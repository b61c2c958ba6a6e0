"""cpu_budget reads cgroup v2 / v1 quotas and the affinity mask, from fake /proc and /sys trees in tmp dirs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from videoctl.domain.ladder import DEFAULT_LADDER, rung_size
from videoctl.domain.sizing import DEFAULT_SIZING, ContainerSize, parse_sizing
from videoctl.domain.threads import ThreadPlan, plan_threads
from videoctl.media.cpus import CpuBudget, cpu_budget

V2_MOUNT = "30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
V1_CPU_MOUNT = "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
V1_MEMORY_MOUNT = "33 31 0:30 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"


def _tree(root: Path, *, mountinfo: str, cgroup: str, files: dict[str, str]) -> Path:
    (root / "proc/self").mkdir(parents=True)
    (root / "proc/self/mountinfo").write_text(mountinfo)
    (root / "proc/self/cgroup").write_text(cgroup)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_cgroup_v2_quota_in_a_cgroup_namespace(tmp_path: Path) -> None:
    # A container with its own cgroup namespace (Fargate, Docker's default on v2): it sees its group as "/".
    root = _tree(tmp_path, mountinfo=V2_MOUNT, cgroup="0::/\n", files={"sys/fs/cgroup/cpu.max": "400000 100000\n"})
    assert cpu_budget(root=root, affinity=16) == CpuBudget(4.0, "cgroup v2 cpu.max 400000/100000")


def test_cgroup_v2_fractional_quota(tmp_path: Path) -> None:
    root = _tree(tmp_path, mountinfo=V2_MOUNT, cgroup="0::/\n", files={"sys/fs/cgroup/cpu.max": "150000 100000\n"})
    assert cpu_budget(root=root, affinity=8).cpus == 1.5


def test_cgroup_v2_without_a_limit_leaves_the_affinity_mask(tmp_path: Path) -> None:
    root = _tree(tmp_path, mountinfo=V2_MOUNT, cgroup="0::/\n", files={"sys/fs/cgroup/cpu.max": "max 100000\n"})
    assert cpu_budget(root=root, affinity=6) == CpuBudget(6.0, "affinity mask of 6 CPUs")


def test_cgroup_v2_a_parent_group_caps_its_child(tmp_path: Path) -> None:
    root = _tree(tmp_path, mountinfo=V2_MOUNT, cgroup="0::/batch/job-1\n", files={
        "sys/fs/cgroup/batch/job-1/cpu.max": "800000 100000\n",
        "sys/fs/cgroup/batch/cpu.max": "200000 100000\n",
    })
    assert cpu_budget(root=root, affinity=16) == CpuBudget(2.0, "cgroup v2 cpu.max 200000/100000")


def test_cgroup_v2_host_path_under_a_mount_of_the_groups_own_directory(tmp_path: Path) -> None:
    # No cgroup namespace: /proc/self/cgroup has the host path, and the mount's root is that directory.
    mount = "30 23 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
    root = _tree(tmp_path, mountinfo=mount, cgroup="0::/docker/abc\n", files={"sys/fs/cgroup/cpu.max": "300000 100000\n"})
    assert cpu_budget(root=root, affinity=16).cpus == 3.0


def test_cgroup_v1_quota(tmp_path: Path) -> None:
    root = _tree(tmp_path, mountinfo=V1_CPU_MOUNT + V1_MEMORY_MOUNT, cgroup="5:memory:/\n4:cpu,cpuacct:/\n", files={
        "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "250000\n",
        "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
        "sys/fs/cgroup/memory/cpu.cfs_quota_us": "100000\n",  # not the cpu controller: ignored
        "sys/fs/cgroup/memory/cpu.cfs_period_us": "100000\n",
    })
    assert cpu_budget(root=root, affinity=16) == CpuBudget(2.5, "cgroup v1 cpu.cfs_quota_us 250000/100000")


def test_cgroup_v1_unlimited_and_hybrid_v2_without_controllers(tmp_path: Path) -> None:
    # systemd's hybrid layout: cgroup2 at /sys/fs/cgroup/unified (no cpu.max), cpu in v1 with -1.
    unified = "29 23 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
    root = _tree(tmp_path, mountinfo=unified + V1_CPU_MOUNT, cgroup="4:cpu,cpuacct:/\n0::/\n", files={
        "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
        "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
        "sys/fs/cgroup/unified/cgroup.procs": "1\n",
    })
    assert cpu_budget(root=root, affinity=2) == CpuBudget(2.0, "affinity mask of 2 CPUs")


def test_the_affinity_mask_wins_when_it_is_smaller(tmp_path: Path) -> None:
    root = _tree(tmp_path, mountinfo=V2_MOUNT, cgroup="0::/\n", files={"sys/fs/cgroup/cpu.max": "400000 100000\n"})
    assert cpu_budget(root=root, affinity=1) == CpuBudget(1.0, "affinity mask of 1 CPU")


@pytest.mark.parametrize("junk", ["", "garbage\n", "100000\n", "abc 100000\n", "100000 0\n"])
def test_an_unreadable_quota_is_no_limit(tmp_path: Path, junk: str) -> None:
    root = _tree(tmp_path, mountinfo=V2_MOUNT, cgroup="0::/\n", files={"sys/fs/cgroup/cpu.max": junk})
    assert cpu_budget(root=root, affinity=3).cpus == 3.0


def test_no_proc_or_cgroups_at_all(tmp_path: Path) -> None:
    assert cpu_budget(root=tmp_path, affinity=4) == CpuBudget(4.0, "affinity mask of 4 CPUs")


def test_an_override_wins(tmp_path: Path) -> None:
    root = _tree(tmp_path, mountinfo=V2_MOUNT, cgroup="0::/\n", files={"sys/fs/cgroup/cpu.max": "100000 100000\n"})
    assert cpu_budget(3.5, root=root, affinity=1) == CpuBudget(3.5, "override")
    with pytest.raises(ValueError, match="positive"):
        cpu_budget(0)


def test_this_machine_reads_its_own_affinity_mask() -> None:
    budget = cpu_budget()
    assert 0 < budget.cpus <= len(os.sched_getaffinity(0))


# ---------------------------------------------------------------- memory (what an attempt's usage records)

MEMINFO = "MemTotal:       16303520 kB\nMemFree:         1000000 kB\n"


def test_memory_v2_limit_is_the_task_size(tmp_path: Path) -> None:
    from videoctl.media.cpus import memory_budget_mib

    root = _tree(tmp_path, mountinfo=V2_MOUNT, cgroup="0::/\n",
                 files={"sys/fs/cgroup/memory.max": f"{8192 << 20}\n", "proc/meminfo": MEMINFO})
    assert memory_budget_mib(root=root) == 8192


def test_memory_without_a_limit_is_the_machines(tmp_path: Path) -> None:
    from videoctl.media.cpus import memory_budget_mib

    root = _tree(tmp_path, mountinfo=V2_MOUNT, cgroup="0::/\n",
                 files={"sys/fs/cgroup/memory.max": "max\n", "proc/meminfo": MEMINFO})
    assert memory_budget_mib(root=root) == 16303520 // 1024


def test_memory_v1_limit_and_its_no_limit_number(tmp_path: Path) -> None:
    from videoctl.media.cpus import memory_budget_mib

    files = {"sys/fs/cgroup/memory/memory.limit_in_bytes": f"{4096 << 20}\n", "proc/meminfo": MEMINFO}
    root = _tree(tmp_path / "a", mountinfo=V1_MEMORY_MOUNT, cgroup="5:memory:/\n", files=files)
    assert memory_budget_mib(root=root) == 4096
    files["sys/fs/cgroup/memory/memory.limit_in_bytes"] = "9223372036854771712\n"  # v1's "no limit"
    root = _tree(tmp_path / "b", mountinfo=V1_MEMORY_MOUNT, cgroup="5:memory:/\n", files=files)
    assert memory_budget_mib(root=root) == 16303520 // 1024


# ---------------------------------------------------------------- a container sized to its video

#: The plan each size of the default VIDEOCTL_SIZING gives the default ladder of a 1080p source
#: (decoder, filters, x264 per rung from 1080p down): docs/encoding.md, "Threads".
SIZED_PLANS = {2: ThreadPlan(3, 2, (2, 1, 1, 1)), 4: ThreadPlan(5, 4, (5, 2, 1, 1)),
               8: ThreadPlan(9, 8, (9, 4, 2, 1)), 16: ThreadPlan(16, 16, (18, 8, 4, 2))}


@pytest.mark.parametrize("size", [step.size for step in parse_sizing(DEFAULT_SIZING).steps], ids=str)
@pytest.mark.parametrize("limited_by", ["vm", "quota"])
def test_a_sized_container_plans_its_threads_for_its_size(tmp_path: Path, size: ContainerSize, limited_by: str) -> None:
    """Nothing pins the plan to the job definition's size: a Fargate task of the size SubmitJob asked
    for sees that many CPUs (its VM's, or a quota on a bigger one) and that much memory, and the
    ladder's threads follow."""
    from videoctl.media.cpus import memory_budget_mib

    vcpus = int(size.vcpus)
    vm_kb = (size.memory_mib + 512) * 1024  # Fargate's VM holds a little more than the task's limit
    files = {"sys/fs/cgroup/memory.max": f"{size.memory_mib << 20}\n", "proc/meminfo": f"MemTotal: {vm_kb} kB\n",
             "sys/fs/cgroup/cpu.max": "max 100000\n" if limited_by == "vm" else f"{vcpus * 100000} 100000\n"}
    root = _tree(tmp_path, mountinfo=V2_MOUNT, cgroup="0::/\n", files=files)
    budget = cpu_budget(root=root, affinity=vcpus if limited_by == "vm" else 64)
    assert budget.cpus == size.vcpus and memory_budget_mib(root=root) == size.memory_mib
    rates = [w * h for w, h in (rung_size(1920, 1080, rung.height) for rung in DEFAULT_LADDER)]
    assert plan_threads(budget.cpus, rates) == SIZED_PLANS[vcpus]
