"""``hlhbayes`` as a separate process: paused at a named step, then resumed, killed or interrupted.

A command started with ``pause_at=STEP`` stops when it reaches ``STEP`` (the ``HLHBAYES_PAUSE_AT``
hook of :mod:`hlhbayes.journal`): it creates a flag file and waits until the flag is removed.
:meth:`Command.paused` waits for the flag; :meth:`Command.resume` removes it; :meth:`Command.kill`
is ``kill -9`` (of the command and any process it started); :meth:`Command.interrupt` is Ctrl-C
in a terminal (SIGINT to the command's process group).
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HLHBAYES = Path(sys.executable).with_name("hlhbayes")
PAUSE_AT = "HLHBAYES_PAUSE_AT"
_numbers = itertools.count()


class Command:
    """One ``hlhbayes ARGS`` process, its output collected as it comes."""

    def __init__(
        self,
        args: list[str],
        cwd: Path,
        pause_at: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.args = args
        self.flag = Path(cwd) / f".pause-{os.getpid()}-{next(_numbers)}"
        environment = {k: v for k, v in os.environ.items() if k not in ("HLHBAYES_DATA", PAUSE_AT)}
        environment.update(env or {})
        if pause_at is not None:
            environment[PAUSE_AT] = f"{pause_at}={self.flag}"
        self.process = subprocess.Popen(
            [str(HLHBAYES), *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
            start_new_session=True,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in (
                (self.process.stdout, self.stdout),
                (self.process.stderr, self.stderr),
            )
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, lines: list[str]) -> None:
        with stream:
            for line in stream:
                lines.append(line)

    def _until(self, condition, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None and not condition():
                time.sleep(0.2)  # let the readers catch up
                if condition():
                    return
                raise AssertionError(
                    f"hlhbayes {' '.join(self.args)} ended ({self.process.returncode}) before "
                    f"{what}:\n{''.join(self.stderr)}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} after {timeout} s:\n{''.join(self.stderr)}")
            time.sleep(0.02)

    def paused(self, timeout: float = 180) -> Command:
        """Wait until the command has reached its pause step."""
        self._until(self.flag.exists, "pause", timeout)
        return self

    def said(self, text: str, timeout: float = 180) -> Command:
        """Wait until the command has written a stderr line containing ``text``."""
        self._until(lambda: any(text in line for line in self.stderr), repr(text), timeout)
        return self

    def resume(self) -> Command:
        """Let a paused command go on."""
        self.flag.unlink()
        return self

    def kill(self) -> None:
        """``kill -9`` the command and everything it started; wait until it is gone."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=60)

    def interrupt(self) -> Command:
        """Ctrl-C: SIGINT to the command's process group, as a terminal sends it."""
        os.killpg(self.process.pid, signal.SIGINT)
        return self

    def finish(self, timeout: float = 300) -> tuple[int, str, str]:
        """Wait for the end: exit status, stdout and stderr."""
        code = self.process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=10)
        return code, "".join(self.stdout), "".join(self.stderr)
