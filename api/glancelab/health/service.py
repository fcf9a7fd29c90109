"""Whether this node's API came up, and if not why: what its init script and systemd unit
print (`glancelab service wait` after a start, `glancelab service status`), so that a
refused configuration is read where the start was typed, not only in the log."""

from __future__ import annotations

import dataclasses
import json
import os
import time
import urllib.error
import urllib.request

NAME = "glancelab-api"
LOG_LINES = 15


@dataclasses.dataclass(frozen=True)
class Probe:
    healthy: bool
    said: str  # what /healthcheck answered, or why nothing did


def health_url(bind_host: str, bind_port: int) -> str:
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(bind_host, bind_host)
    return f"http://{f'[{host}]' if ':' in host else host}:{bind_port}/healthcheck"


def probe(url: str, timeout: float = 2.0) -> Probe:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return Probe(True, f"{url} answers {answer.status}")
    except urllib.error.HTTPError as refused:
        body = refused.read(2000).decode("utf-8", "replace").strip()
        try:  # ?detailed answers JSON; the plain one text such as "DISABLED BY FILE"
            body = "; ".join(json.loads(body).get("reasons", [])) or body
        except (ValueError, AttributeError):
            pass
        return Probe(False, f"{url} answers {refused.code}: {body or refused.reason}")
    except (urllib.error.URLError, OSError) as unreachable:
        reason = getattr(unreachable, "reason", unreachable)
        return Probe(False, f"nothing answers on {url} ({reason})")


def running(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    return True


def pid_in(pid_file: str | None) -> int | None:
    if not pid_file:
        return None
    try:
        with open(pid_file) as text:
            return int(text.read().strip())
    except (OSError, ValueError):
        return None


def log_tail(path: str | None, since: int = 0, lines: int = LOG_LINES) -> list[str]:
    """The last `lines` lines written to the log after byte `since` (a start's own)."""
    if not path:
        return []
    try:
        with open(path, "rb") as log:
            size = log.seek(0, os.SEEK_END)
            start = max(since if since <= size else 0, size - 64 * 1024)
            log.seek(start)
            text = log.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]


def wait(url: str | None, pid: int | None, pid_file: str | None, timeout: float) -> \
        tuple[bool, str]:
    """(up, what to print): until /healthcheck answers 200, the process ends, or
    `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    last = Probe(False, "the configuration names no address to check")
    while True:
        current = pid if pid is not None else pid_in(pid_file)
        if url is not None:
            last = probe(url)
            if last.healthy:
                return True, f"{NAME} is up: {last.said}."
        if (pid is not None or pid_file) and not running(current):
            return False, f"{NAME} stopped while starting."
        if time.monotonic() >= deadline:
            return False, f"{NAME} did not become healthy within {timeout:g} s: {last.said}."
        time.sleep(0.25)


def status(url: str | None, pid: int | None) -> tuple[int, str]:
    """(LSB status code, what to print): 0 running, 1 dead with a pid file, 3 stopped."""
    if not running(pid):
        return (1 if pid is not None else 3), f"{NAME} is not running."
    if url is None:
        return 0, f"{NAME} is running (pid {pid})."
    health = probe(url)
    if health.healthy:
        return 0, f"{NAME} is running (pid {pid}) and healthy: {health.said}."
    return 0, f"{NAME} is running (pid {pid}) but not healthy: {health.said}."
