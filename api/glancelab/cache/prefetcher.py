"""The API's own prefetcher: queued images are cached without cron (Glance 33 does this too).

Each API worker runs one daemon thread. It wakes every cache_prefetcher_interval seconds,
and at once when this worker queues an image (PUT /v2/cache/{id}); a lock file in the
cache directory lets one worker of a node run a pass at a time, so an image is fetched
once per node.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading

from glancelab.cache.service import prefetch
from glancelab.db import database
from glancelab.runtime import Runtime

LOG = logging.getLogger(__name__)
LOCK_FILE = "prefetcher.lock"


class Prefetcher:
    def __init__(self, rt: Runtime, interval: float):
        self.rt = rt
        self.interval = interval
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="glancelab-prefetcher",
                                        daemon=True)

    def start(self) -> "Prefetcher":
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - the thread must outlive one bad pass
                LOG.exception("prefetcher pass failed; next pass in %ss", self.interval)
            finally:
                database.close()

    def run_once(self) -> dict[str, str] | None:
        """One pass, unless another worker of this node is running one (then None)."""
        path = os.path.join(self.rt.cache.directory, LOCK_FILE)
        with open(path, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None
            if not self.rt.cache.queued():
                return {}
            results = prefetch(self.rt)
        for image_id, outcome in results.items():
            LOG.info("prefetcher: %s", outcome, extra={"image_id": image_id})
        return results
