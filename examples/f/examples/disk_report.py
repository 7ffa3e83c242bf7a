"""Report how full the worker's disks are, and fail when one is too full.

On a schedule, a failed run shows up in the job history (and the schedule's
failure handler, when it has one, is told).
"""

import shutil


def main(paths: list[str] = ["/"], warn_percent: float = 90) -> list[dict]:  # noqa: B006
    """Measure each path's file system.

    Args:
        paths: Mount points (or any directory on them) to check.
        warn_percent: Fail the run when a disk is fuller than this.
    """
    report = []
    for path in paths:
        usage = shutil.disk_usage(path)
        used = round(100 * usage.used / usage.total, 1)
        print(f"{path}: {used}% used, {usage.free // 2**30} GiB free")  # noqa: T201 - a script's output is its log
        report.append({"path": path, "used_percent": used, "free_bytes": usage.free})
    full = [r["path"] for r in report if r["used_percent"] > warn_percent]
    if full:
        raise RuntimeError(f"more than {warn_percent}% used: {', '.join(full)}")
    return report
