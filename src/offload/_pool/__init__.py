"""The worker pool: ``offload.Pool``, ``offload.PoolExecutor``, task handles, statistics.

One task, from the caller to a process worker and back (a reader starts here)::

  caller (event loop)                               template          worker process
  ───────────────────                               ────────          ──────────────
  Pool.run(fn, *args)                 _pool.py: the public front
   │  Scheduler.submit()              _scheduler.py
   │   ├─ Task(fn, args, future)      _task.py
   │   ├─ backend.prepare(task)       _kind_process.py: context vars, pickle
   │   │    (callable head: _functions.py; big buffers: offload._shm)
   │   ├─ queue.append(task)
   │   └─ dispatch(): a READY WorkerSlot takes it: state SENT, seq n,
   │        slot.inflight.append(task); timeout armed when it becomes the head
   │  ProcessWorker.send([task])      TASK frame (offload._wire) ──────────▶ read
   │                                  (forked from the template on      │ _kind_process_child.py
   │                                   SPAWN: _kind_process_template)   │ writes seq n to the
   │                                                                    │ control page, runs fn
   │  ProcessWorker reads the frame  ◀───────── OK / ERR / SKIPPED frame ┘ (REPORT, LOG,
   │   └─ WorkerEvents.on_done(worker, n, ok, value, run_time)            RETIRE on the way)
   │  Scheduler.on_done(): slot.inflight.popleft(), future.set_result(value),
   │   task.release() (frees its shared memory), next task's timer armed
   ▼
  await task.future -> value (or the task's exception with the worker's traceback)

A worker that dies is reported as ``on_exited(worker, WorkerEnd(exitcode, signal))``: the template
sends the wait status, the scheduler fails the task the control page says was running
(``WorkerCrashed``), requeues the rest and starts a replacement. Cancel and timeout:
the scheduler sets the task's flag in the control page, then kills the worker if the task
is still running after the grace period (``Worker.kill_if_running``).

Modules:

- ``_pool`` the public front (checks, run/submit/map/stats/executor, close)
- ``_config`` the options, checked once (shared with ``PoolExecutor``)
- ``_scheduler`` queue, worker slots and states, dispatch, cancel, crash, close
- ``_events`` the six events a worker reports (``WorkerEvents``)
- ``_backend`` what a worker kind implements (``Backend``, ``Worker``)
- ``_kinds`` kind name -> backend class: the one factory point
- ``_kind_process`` / ``_kind_process_template`` / ``_kind_process_child`` process
  workers: parent side, fork server, worker-side loop; ``_kind_process_messages`` their
  message kinds and control page (frames: ``offload._wire``)
- ``_kind_interpreter`` / ``_kind_interpreter_child`` sub-interpreter workers (3.13+),
  fed like process workers
- ``_kind_thread`` thread workers; ``_kind_fake`` in-memory workers for scheduler tests
- ``_task`` a task and its handle; ``_functions`` callables (cache, checks);
  ``_map`` ``Pool.map``; ``_executor`` ``PoolExecutor``; ``_stats``; ``_report``
  ``offload.report()``
"""

from ._executor import PoolExecutor
from ._pool import Pool
from ._stats import PoolStats
from ._task import TaskHandle

__all__ = ["Pool", "PoolExecutor", "PoolStats", "TaskHandle"]
