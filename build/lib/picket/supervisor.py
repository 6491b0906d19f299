"""Child processes of `picket run`, each restarted when it dies.

`picket run` keeps the worker and the gateway in processes of their own: each gets a core and a
GIL, and either can crash (or be killed) while the other goes on. A child dies with the
supervisor (`PR_SET_PDEATHSIG`), announces readiness with a line on its stdout, and has its pid
in `<data dir>/run/<name>.pid`, so operators (and the crash tests) can signal it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from pathlib import Path

from picket.bus.loopback import die_with_parent

log = logging.getLogger("picket.supervisor")

RESTART_DELAY = 0.25
MAX_RESTART_DELAY = 10.0
STOP_TIMEOUT = 30.0


class ChildExited(RuntimeError):
    pass


class Child:
    """One `picket <role>` subprocess. `start()` spawns it and keeps restarting it whenever it
    exits, until `stop()`; `wait_for(text)` waits until it prints a line containing `text`."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], run_dir: Path, ready: str) -> None:
        self.name = name
        self.argv = [sys.executable, "-m", "picket.cli", *argv]
        self.env = env
        self.pid_file = run_dir / f"{name}.pid"
        self.ready = ready
        self._proc: asyncio.subprocess.Process | None = None
        self._lines: dict[str, asyncio.Event] = {}
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def waiter(self, text: str) -> asyncio.Event:
        """An event set when the running child prints a line containing `text`."""
        return self._lines.setdefault(text, asyncio.Event())

    async def _spawn(self) -> None:
        for event in self._lines.values():
            event.clear()
        self._proc = await asyncio.create_subprocess_exec(
            *self.argv, env=self.env, stdout=asyncio.subprocess.PIPE, preexec_fn=die_with_parent,
        )
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.write_text(f"{self._proc.pid}\n")

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            for text, event in self._lines.items():
                if text in line:
                    event.set()
        await proc.wait()

    async def wait_for(self, text: str, timeout: float) -> None:
        """Wait until the child prints `text`; ChildExited if it exits first."""
        proc = self._proc
        assert proc is not None
        event = self.waiter(text)
        exited = asyncio.create_task(proc.wait())
        seen = asyncio.create_task(event.wait())
        try:
            done, _ = await asyncio.wait({exited, seen}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            exited.cancel()
            seen.cancel()
        if seen in done:
            return
        if exited in done:
            raise ChildExited(f"picket {self.name} exited with {proc.returncode} before it was ready")
        raise TimeoutError(f"picket {self.name} not ready in {timeout:.0f}s")

    async def start(self) -> None:
        self.waiter(self.ready)
        await self._spawn()
        self._task = asyncio.create_task(self._supervise())

    async def _supervise(self) -> None:
        delay = RESTART_DELAY
        while True:
            proc = self._proc
            assert proc is not None
            started = time.monotonic()
            await self._read(proc)
            if self._stopping:
                return
            # A child that keeps dying at start is restarted less and less often.
            lived = time.monotonic() - started
            delay = RESTART_DELAY if lived > MAX_RESTART_DELAY else min(delay * 2, MAX_RESTART_DELAY)
            log.warning("picket %s exited with %s; restarting it in %.1fs", self.name, proc.returncode, delay)
            await asyncio.sleep(delay)
            if self._stopping:
                return
            await self._spawn()

    async def stop(self) -> None:
        self._stopping = True
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(FileNotFoundError):
            self.pid_file.unlink()


def child_env(**overrides: str | None) -> dict[str, str]:
    """This process's environment with `overrides` applied (None removes a variable)."""
    env = dict(os.environ)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env
