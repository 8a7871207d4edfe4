"""Progress reporting for long work: bytes moved, and jobs running.

Three modes, chosen with one ``progress`` argument wherever long work happens
(:class:`~avatars.Runner`, the ``avatars`` command):

* ``True`` (default of the Runner): ``tqdm`` bars on stderr when ``tqdm`` is
  installed (``pip install 'avatar-anonymization-client[progress]'``) and stderr is a terminal;
  otherwise nothing is shown.
* ``False`` or ``None``: nothing is shown.
* an object with ``on_bytes``/``on_job`` methods (a :class:`ProgressListener`):
  your own reporting.  :class:`LoggingProgress` is one, for CI: progress as
  log lines (``progress=LoggingProgress()``).

``tqdm`` is imported only when a bar is actually shown.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Dict, Optional, Protocol, Tuple, Union, runtime_checkable

from .models import JobResponse
from .transfer import ProgressCallback

__all__ = [
    "ProgressListener",
    "QuietProgress",
    "TqdmProgress",
    "LoggingProgress",
    "ProgressOption",
    "resolve_progress",
]

_logger = logging.getLogger(__name__)


@runtime_checkable
class ProgressListener(Protocol):
    """Receives progress events. Both methods are called in the working thread."""

    def on_bytes(self, label: str, done_bytes: int, total_bytes: Optional[int]) -> None:
        """An upload or download named ``label`` moved ``done_bytes`` of ``total_bytes``."""

    def on_job(self, job: JobResponse) -> None:
        """A job was polled; ``job.progress`` is 0..1 or ``None``."""


class QuietProgress:
    """Shows nothing."""

    def on_bytes(self, label: str, done_bytes: int, total_bytes: Optional[int]) -> None:
        return None

    def on_job(self, job: JobResponse) -> None:
        return None


class TqdmProgress:
    """One ``tqdm`` bar per transfer and per job, on ``file`` (stderr by default)."""

    def __init__(self, file: Any = None) -> None:
        import tqdm  # imported only when bars are wanted

        self._tqdm = tqdm.tqdm
        self._file = file if file is not None else sys.stderr
        self._bars: Dict[str, Any] = {}

    def _bar(self, key: str, **kwargs: Any) -> Any:
        bar = self._bars.get(key)
        if bar is None:
            bar = self._tqdm(file=self._file, leave=True, dynamic_ncols=True, **kwargs)
            self._bars[key] = bar
        return bar

    def on_bytes(self, label: str, done_bytes: int, total_bytes: Optional[int]) -> None:
        bar = self._bar(f"bytes:{label}", desc=label, total=total_bytes, unit="B", unit_scale=True, unit_divisor=1024)
        bar.update(done_bytes - bar.n)
        if total_bytes is not None and done_bytes >= total_bytes:
            bar.close()

    def on_job(self, job: JobResponse) -> None:
        label = f"{job.kind} {job.name[:8]}"
        bar = self._bar(f"job:{job.name}", desc=label, total=100, unit="%")
        done = 100 if job.is_terminal else int(round((job.progress or 0.0) * 100))
        bar.update(done - bar.n)
        bar.set_postfix_str(str(job.status), refresh=False)
        if job.is_terminal:
            bar.close()

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()


class LoggingProgress:
    """Progress as log records, for CI logs and services (no terminal needed).

    A transfer is logged when it starts, at each ``step`` of its size
    (25 %, 50 %...) and when it ends; with no known size, every
    ``bytes_step`` bytes.  A job is logged when its status changes and at each
    ``step`` of its progress.  Records go to ``logger`` (default
    ``avatars.progress``) at ``level`` (default ``INFO``)::

        logging.basicConfig(level=logging.INFO)
        runner = manager.create_runner("nightly", progress=LoggingProgress())
    """

    def __init__(
        self,
        logger: Optional[logging.Logger] = None,
        level: int = logging.INFO,
        *,
        step: float = 0.25,
        bytes_step: int = 16 * 1024 * 1024,
    ) -> None:
        if not 0 < step <= 1:
            raise ValueError("step must be a fraction in (0, 1]")
        if bytes_step < 1:
            raise ValueError("bytes_step must be positive")
        self.logger = logger if logger is not None else _logger
        self.level = level
        self.step = step
        self.bytes_step = bytes_step
        self._bytes: Dict[str, int] = {}
        self._jobs: Dict[str, Tuple[str, int]] = {}

    def on_bytes(self, label: str, done_bytes: int, total_bytes: Optional[int]) -> None:
        if total_bytes:
            mark = min(int(done_bytes / total_bytes / self.step), int(1 / self.step))
        else:
            mark = done_bytes // self.bytes_step
        previous = self._bytes.get(label)
        if previous is not None and mark <= previous:
            return
        self._bytes[label] = mark
        if total_bytes:
            self.logger.log(
                self.level,
                "%s: %d of %d bytes (%.0f%%)",
                label,
                done_bytes,
                total_bytes,
                100 * done_bytes / total_bytes,
            )
        else:
            self.logger.log(self.level, "%s: %d bytes", label, done_bytes)

    def on_job(self, job: JobResponse) -> None:
        status = str(job.status)
        fraction = 1.0 if job.is_terminal else (job.progress or 0.0)
        mark = int(fraction / self.step)
        previous = self._jobs.get(job.name)
        if previous is not None and previous[0] == status and mark <= previous[1]:
            return
        self._jobs[job.name] = (status, mark)
        suffix = f", {job.exception}" if job.exception else ""
        self.logger.log(self.level, "job %s %s: %s (%.0f%%)%s", job.kind, job.name, status, 100 * fraction, suffix)


#: What a ``progress=`` argument accepts.
ProgressOption = Union[bool, None, ProgressListener]


def resolve_progress(option: ProgressOption) -> ProgressListener:
    """Turn a ``progress=`` argument into a listener (see the module docstring)."""
    if option is None or option is False:
        return QuietProgress()
    if option is True:
        stream = sys.stderr
        if stream is None or not getattr(stream, "isatty", lambda: False)():
            return QuietProgress()
        try:
            return TqdmProgress(stream)
        except ImportError:
            return QuietProgress()
    if isinstance(option, ProgressListener):
        return option
    raise TypeError("progress must be True, False, None or an object with on_bytes() and on_job()")


def bytes_callback(listener: ProgressListener, label: str) -> ProgressCallback:
    """Adapt a listener to the ``progress(done, total)`` callback of the transfers."""

    def callback(done_bytes: int, total_bytes: Optional[int]) -> None:
        listener.on_bytes(label, done_bytes, total_bytes)

    return callback
