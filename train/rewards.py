"""Unit-test rewards for RL, in trl's reward-function shape: `(prompts, completions, **columns) -> list[float]`.

`TestReward(executor, tasks_by_id, mode)` reads the `task_id` and `lang` dataset columns (trl passes
every extra column as a keyword list), gets each completion's program and verdict function from `judged`
(for a function task `task.program(lang, completion)`, which cuts the completion with the world's stop
rule, so text generated after the function never counts; for a stdin/stdout task the whole program run on
every test input, its outputs compared on the host) and runs the whole batch through `executor.map` at once.

- mode "all": 1.0 if every test passes, else 0.0 (one program per completion, ONE `executor.map`).
- mode "fraction": the fraction of the task's tests that pass. The world's harness stops at the first
  failing check and reports no count, so this runs in two rounds: the full programs first (PASSED ->
  1.0; did not parse / timed out / out of memory -> 0.0), then, for programs that ran and failed
  (FAILED or RUNTIME_ERROR), one program per test case (`dataclasses.replace(task, tests=(case,))`) in
  a second `executor.map` (capped below 1.0: only the full program passing earns 1.0). A harness that counted passing checks would make this one round.
  A stdin/stdout task's verdict counts its passing tests (`n_passed` of `n_tests`), so it takes one round.

Every call records its wall time (`timings`, `seconds_total`, `pop_seconds()`) so the GRPO stage can
log the share of a step spent on rewards; inside trl it also reports `reward_time_s` through the
`log_metric` keyword trl hands to reward functions.
Not for: sampling completions (trl does that) or evaluation scores (`train.evaluate`).
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence

MODES = ("all", "fraction")
_RERUN = ("failed", "runtime_error")  # statuses worth splitting into per-test programs


def completion_text(completion) -> str:
    """A completion as text: plain strings pass through; conversational completions (a list of
    messages, or one message dict) give the content of the last message."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        return str(completion.get("content", ""))
    if isinstance(completion, Sequence) and completion:
        return completion_text(completion[-1])
    return ""


def judged(task, lang: str, completion: str, id: str | None = None):
    """(the executor `Program`, the function from its `Result` to the verdict) of `completion` for `task`:
    the task's own `judged` (world tasks, in either form; stdin/stdout tasks judge by outputs), else the
    sealed program of `task.program(lang, completion)` and its `Result` as the verdict (benchmark function
    tasks). A verdict has `status`, `passed` and `detail` (a stdin/stdout one also `n_passed`, `n_tests`)."""
    own = getattr(task, "judged", None)
    if own is not None:
        return own(lang, completion, id)
    from evals.execution import Program
    from evals.languages import sealable
    return Program(lang, task.program(lang, completion), id=id, proof=sealable(lang)), _as_is


def _as_is(result):
    return result


class TestReward:
    """Reward = tests passed, by running the program in the sandbox. See the module docstring."""

    __test__ = False  # not a pytest class

    def __init__(self, executor, tasks: Mapping[str, object] | Sequence, mode: str = "all", limits=None):
        if mode not in MODES:
            raise ValueError(f"TestReward.mode must be one of {MODES}, got {mode!r}")
        self.executor = executor
        self.tasks = dict(tasks) if isinstance(tasks, Mapping) else {t.id: t for t in tasks}
        self.mode = mode
        self.limits = limits
        self.__name__ = f"test_reward_{mode}"  # trl names the metric after the function
        self.timings: list[dict] = []
        self.seconds_total = 0.0
        self._unread = 0.0

    def pop_seconds(self) -> float:
        """Seconds spent in calls since the last `pop_seconds()`."""
        s, self._unread = self._unread, 0.0
        return s

    def __call__(self, prompts, completions, task_id, lang, **kwargs) -> list[float]:
        t0 = time.perf_counter()
        n = len(completions)
        if isinstance(lang, str):
            lang = [lang] * n
        if isinstance(task_id, str):
            task_id = [task_id] * n
        if not (len(task_id) == len(lang) == n):
            raise ValueError(f"TestReward: {n} completions but {len(task_id)} task_id and {len(lang)} lang values")
        missing = sorted({t for t in task_id if t not in self.tasks})
        if missing:
            raise KeyError(f"TestReward: unknown task ids {missing[:5]} (pass every task of the dataset)")
        from evals.execution import Program
        from evals.languages import sealable
        texts = [completion_text(c) for c in completions]
        tasks = [self.tasks[t] for t in task_id]
        judging = [judged(t, la, c, id=f"{t.id}/{la}") for t, la, c in zip(tasks, lang, texts)]
        results = [v(r) for (_, v), r in zip(judging, self.executor.map([p for p, _ in judging], limits=self.limits))]
        rewards = [1.0 if r.passed else 0.0 for r in results]
        reruns = 0
        if self.mode == "fraction":
            for i, r in enumerate(results):   # verdicts that count their tests (stdin/stdout): one round
                if not r.passed and getattr(r, "n_tests", 0):
                    rewards[i] = min(r.n_passed, r.n_tests - 1) / r.n_tests
            todo = [i for i, r in enumerate(results) if r.status.value in _RERUN and not hasattr(r, "n_tests")]
            per_test, owner = [], []
            for i in todo:
                for k, case in enumerate(tasks[i].tests):
                    single = dataclasses.replace(tasks[i], tests=(case,))
                    per_test.append(Program(lang[i], single.program(lang[i], texts[i]), id=f"{task_id[i]}/{lang[i]}/{k}",
                                            proof=sealable(lang[i])))
                    owner.append(i)
            if per_test:
                passed: dict[int, int] = {}
                for i, r in zip(owner, self.executor.map(per_test, limits=self.limits)):
                    passed[i] = passed.get(i, 0) + int(r.passed)
                for i in todo:  # the full program failed: never 1.0, even if each test passes alone
                    n_tests = len(tasks[i].tests)
                    rewards[i] = min(passed.get(i, 0), n_tests - 1) / n_tests
            reruns = len(per_test)
        seconds = time.perf_counter() - t0
        self.timings.append({"n": n, "programs": n + reruns, "seconds": seconds, "langs": sorted(set(lang)),
                             "tasks": len(set(task_id)), "mean_reward": sum(rewards) / n if n else 0.0})
        self.seconds_total += seconds
        self._unread += seconds
        log_metric = kwargs.get("log_metric")
        if callable(log_metric):
            log_metric("reward_time_s", seconds)
        return rewards
