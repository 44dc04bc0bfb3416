"""A synthetic world of programming tasks rendered in six languages (a model organism for Parallel-SFT).

>>> from evals.world import World, WorldConfig
>>> w = World(WorldConfig(seed=0, n_tasks=6000))
>>> task = w.split("train")[0]
>>> program = task.program("lua", task.solution("lua"))   # runs through evals.execution

Modules: `primitives` (semantics + per-language templates), `grammar` (compositions), `describe`
(English), `tests_gen` (test inputs, semantic signatures), `render` (prompt / completion / harness /
stop), `task` (the Task record), `world` (splits and corpora), `io_form` and `io_task` (the world in I/O form:
whole stdin/stdout programs, `WorldConfig.form = "io"`). Standard library only.
"""
from .io_form import FORMS
from .io_task import IOTask
from .langs import DEFAULT_LANG_MIX, LANGS
from .task import Signature, Task
from .tests_gen import TestCase
from .world import SPLITS, World, WorldConfig

__all__ = ["DEFAULT_LANG_MIX", "FORMS", "IOTask", "LANGS", "SPLITS", "Signature", "Task", "TestCase", "World", "WorldConfig"]
