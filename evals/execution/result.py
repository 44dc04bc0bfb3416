"""Verdicts of running one program: the status vocabulary, the limits, and the result record.

Not for: running anything (see `executor.py`), or deciding pass/fail of a whole benchmark problem.
"""
from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field


class Status(str, enum.Enum):
    PASSED = "passed"            # exit 0 within every limit
    FAILED = "failed"            # ran, and a test assertion failed (non-zero exit, assertion-like error)
    TIMEOUT = "timeout"          # wall-clock or CPU limit hit
    MEMORY = "memory"            # memory limit hit (allocation failure or out-of-memory error)
    SYNTAX_ERROR = "syntax_error"  # did not parse / did not compile
    RUNTIME_ERROR = "runtime_error"  # any other non-zero exit or fatal signal
    SANDBOX_ERROR = "sandbox_error"  # our fault: the sandbox could not run the program
    UNAVAILABLE = "unavailable"  # the language's runtime is not installed

    def __str__(self) -> str:  # print as plain value
        return self.value


@dataclass(frozen=True)
class Limits:
    """Resource limits for one program (each build and run step gets them afresh)."""

    timeout_s: float = field(default=10.0, metadata={"help": "Wall-clock limit of the run step, seconds."})
    build_timeout_s: float = field(default=60.0, metadata={"help": "Wall-clock limit of the build step."})
    memory_mb: int = field(default=1024, metadata={"help": "Address-space / heap limit, MiB."})
    max_procs: int = field(default=64, metadata={"help": "Processes and threads of the sandbox user."})
    max_file_mb: int = field(default=64, metadata={"help": "Largest file a program may write, MiB."})
    max_open_files: int = field(default=256, metadata={"help": "Open file descriptors."})
    output_bytes: int = field(default=16384, metadata={"help": "Tail of stdout/stderr kept, bytes."})
    stdout_max_bytes: int = field(default=1 << 24, metadata={
        "help": "Runs on inputs (`Program.inputs`): stdout is kept whole, from its start, up to this many bytes; "
                "a run that writes more is stopped there (`Result.stdout_complete` false)."})

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Result:
    """What happened to one program. `stdout`/`stderr` are tails of at most `Limits.output_bytes`."""

    status: Status
    exit_code: int | None = None
    duration_s: float = 0.0     # the deciding step's wall time (the run, or the build that failed)
    stdout: str = ""
    stderr: str = ""
    signal: int | None = None
    detail: str = ""            # one line: why this status (e.g. "AssertionError", "killed after 10 s")
    phase: str = "run"          # "build" or "run": which step decided the status
    lang: str = ""
    build_s: float = 0.0        # wall time of the build step, for compiled languages
    # Programs run on inputs (`Program.inputs`): one record per input, in order (fewer when runs were
    # skipped after a timeout). `status` then says how the runs ended (the first that did not exit 0 within
    # the limits, else passed), not whether their outputs are right: the caller compares them.
    runs: list[Result] = field(default_factory=list)
    stdout_complete: bool = True  # False: the run wrote more than `Limits.stdout_max_bytes` and was stopped

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    def to_dict(self) -> dict:
        d = asdict(self)
        d["status"] = self.status.value
        d["runs"] = [r.to_dict() for r in self.runs]
        return d
