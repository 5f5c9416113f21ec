"""The worker loop behind ``crm worker`` (and, later, the scheduler inside ``crm serve``).

Every ``interval`` seconds a worker fires the time rules that are due
(:class:`~.scheduler.Scheduler`) and delivers the outbox's due e-mails and webhooks
(:class:`~crm_platform.runtime.messaging.outbox.Deliverer`). Any number of workers may run
against one PostgreSQL: firings are claimed through a unique key, deliveries through
row locks and leases. SIGTERM and SIGINT stop the loop after the current batch: a
batch is one transaction, so a stop never leaves half a batch behind (and a SIGKILL
leaves nothing, the open transaction rolls back).

``crm_platform.compose.build_worker(platform)`` builds one wired to a platform.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

import sqlalchemy as sa

from crm_platform.runtime.messaging.delivery import Deliverer

from .scheduler import RunReport, Scheduler

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 5.0
#: Deliveries claimed per round; rounds repeat while they come back full.
DELIVERY_BATCH = 20


@dataclass(frozen=True)
class WorkerRound:
    """What one round did: the scheduler's report and how many deliveries were attempted."""

    firings: RunReport
    deliveries: int

    def __str__(self) -> str:
        return f"{self.firings}; {self.deliveries} delivery attempt(s)"


class Worker:
    """Runs rounds of scheduler + deliverer until stopped."""

    def __init__(
        self,
        scheduler: Scheduler,
        deliverer: Deliverer | None,
        *,
        interval: float = DEFAULT_INTERVAL,
        jobs: Sequence[Callable[[dt.datetime], object]] = (),
    ) -> None:
        self.scheduler = scheduler
        self.deliverer = deliverer
        self.interval = interval
        #: Other periodic work run each round with the round's time (approval escalation).
        self.jobs = tuple(jobs)
        self.stop = threading.Event()

    def run_once(self, now: dt.datetime | None = None) -> WorkerRound:
        """One round: fire what is due at ``now`` (default: the clock), then deliver what is due."""
        now = now or self.scheduler.clock()
        report = self.scheduler.run_due(now)
        for job in self.jobs:
            job(now)
        deliveries = 0
        if self.deliverer is not None:
            while True:
                attempted = self.deliverer.run_once(DELIVERY_BATCH)
                deliveries += attempted
                if attempted < DELIVERY_BATCH or self.stop.is_set():
                    break
        return WorkerRound(report, deliveries)

    def run(self) -> None:
        """Rounds every ``interval`` seconds until :attr:`stop` is set (SIGTERM/SIGINT set it)."""
        while not self.stop.is_set():
            try:
                result = self.run_once()
                if result.firings.total or result.deliveries or result.firings.failures:
                    log.info("%s: %s", self.scheduler.worker_id, result)
            except sa.exc.OperationalError as exc:  # the database went away for a moment: try again
                log.warning("%s: database unavailable: %s", self.scheduler.worker_id, exc)
            self.stop.wait(self.interval)

    def start(self) -> threading.Thread:
        """Run :meth:`run` in a background thread (``crm serve``); set :attr:`stop` to end it."""
        thread = threading.Thread(target=self.run, name=f"crm-worker-{self.scheduler.worker_id}", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        """Release the deliverer's HTTP client."""
        if self.deliverer is not None:
            self.deliverer.close()


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGTERM and SIGINT while inside the block; the old handlers come back after."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: stopping after the current batch", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
