"""Where the points of a sweep run: one interface, a local process pool or a Ray cluster.

A point is a pure function of picklable arguments (a configuration as a dict, a cache
directory) that returns picklable figures, so it runs the same in a worker process on this
machine or on any node of a Ray cluster. Tool runs are cached by the content that decides
their result (design, scripts, tool versions: :class:`vrex.synth.yosys.ToolRun`), under the
cache directory of whichever machine runs them, so a node reuses a report only where the same
tools would produce it. Ray is an optional extra (``pip install -e ".[cluster]"``); a local
pool needs nothing.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Callable

__all__ = ["Executor", "LocalExecutor", "RayExecutor", "executor_for", "ClusterError"]

INSTALL = 'pip install -e ".[cluster]"  (or: pip install "ray>=2.9")'


class ClusterError(RuntimeError):
    """Ray is missing, or the cluster cannot be reached."""


class Executor:
    """Runs ``fn(*args)`` for each ``args`` of a list; results in the list's order."""

    name = "executor"

    def map(self, fn: Callable, calls: list[tuple], *, label: str = "points",
            progress=None, tick: Callable[[], None] | None = None) -> list:
        """``tick()`` is called about once a second while the points run (e.g. to show the
        tool runs they started)."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _report(progress, label: str, done: int, total: int) -> None:
    """Finished points on a bar (``progress.count``, on a terminal; started at 0 so that its
    rate and time left count every point) and, every tenth of the way, as a message (which a
    bar-less log keeps)."""
    if hasattr(progress, "count"):
        progress.count(label, done, total, "point")
    if progress and done and (done == total or done % max(1, total // 10) == 0):
        progress(f"{label}: {done} of {total} points done")


class LocalExecutor(Executor):
    """A pool of ``jobs`` worker processes on this machine."""

    def __init__(self, jobs: int = 2):
        if jobs < 1:
            raise ValueError(f"jobs must be a positive integer, not {jobs}")
        self.jobs = jobs
        self.name = f"local pool of {jobs}"

    def map(self, fn, calls, *, label="points", progress=None, tick=None):
        if not calls:
            return []
        results = [None] * len(calls)
        # Spawned, not forked: the driver has threads (progress bars, log watchers) that a
        # fork would copy mid-flight.
        with ProcessPoolExecutor(max_workers=min(self.jobs, len(calls)),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            pending = {pool.submit(fn, *args): i for i, args in enumerate(calls)}
            done = 0
            _report(progress, label, 0, len(calls))
            while pending:
                finished, _ = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                if tick:
                    tick()
                for future in finished:
                    results[pending.pop(future)] = future.result()
                    done += 1
                    _report(progress, label, done, len(calls))
        if hasattr(progress, "done"):
            progress.done(label)
        return results


class RayExecutor(Executor):
    """The points as Ray tasks on the cluster at ``address`` (``HOST:PORT`` or
    ``ray://HOST:PORT``); ``auto`` finds the cluster this machine belongs to (``RAY_ADDRESS``,
    or a head started with ``ray start``) and, if there is none, starts a local instance of
    ``num_cpus``. Every node needs vrex installed at the same version."""

    def __init__(self, address: str = "auto", *, num_cpus: int | None = None,
                 progress=None):
        try:
            import ray
        except ImportError:
            raise ClusterError(f"--ray needs Ray, an optional extra: {INSTALL}") from None
        self._ray = ray
        # Quiet: the sweep's own progress is the user's; Ray's logs stay in its session dir.
        quiet = dict(include_dashboard=False, log_to_driver=False, configure_logging=False,
                     ignore_reinit_error=True)
        try:
            try:
                ray.init(address=address, **quiet)
                where = address
            except ConnectionError:
                if address != "auto":
                    raise
                if progress:
                    progress(f"Ray: no cluster running here; starting a local instance of "
                             f"{num_cpus or 'all'} CPUs")
                ray.init(num_cpus=num_cpus, **quiet)
                where = "a local instance"
        except (ConnectionError, ValueError, RuntimeError) as error:
            raise ClusterError(f"--ray {address}: {error}") from None
        cpus = int(ray.cluster_resources().get("CPU", 0))
        self.name = f"Ray, {where} ({cpus} CPUs)"

    def map(self, fn, calls, *, label="points", progress=None, tick=None):
        ray = self._ray
        remote = ray.remote(num_cpus=1)(fn)
        refs = [remote.remote(*args) for args in calls]
        order = {ref: i for i, ref in enumerate(refs)}
        results, pending, done = [None] * len(refs), list(refs), 0
        _report(progress, label, 0, len(refs))
        try:
            while pending:
                finished, pending = ray.wait(pending, num_returns=1, timeout=1.0)
                if tick:
                    tick()          # a local instance's tool runs; a remote node's are not seen
                for ref in finished:
                    results[order[ref]] = ray.get(ref)
                    done += 1
                    _report(progress, label, done, len(refs))
        except ray.exceptions.RayTaskError as error:
            raise error.as_instanceof_cause() from None
        if hasattr(progress, "done"):
            progress.done(label)
        return results

    def close(self) -> None:
        self._ray.shutdown()


def executor_for(ray: str | None, jobs: int = 2, progress=None) -> Executor:
    """A Ray executor when ``ray`` names a cluster (``auto``, ``HOST:PORT`` or
    ``ray://HOST:PORT``; a local instance started for ``auto`` gets ``jobs`` CPUs), else a
    local pool of ``jobs`` processes."""
    if jobs < 1:
        raise ValueError(f"jobs must be a positive integer, not {jobs}")
    if ray is None:
        return LocalExecutor(jobs)
    return RayExecutor(ray, num_cpus=jobs, progress=progress)
