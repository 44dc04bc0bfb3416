"""The trainers' progress bar without the log dicts: transformers' `ProgressCallback` writes every
log dict above the bar (and `PrinterCallback`, used when tqdm is off, prints them), which buries the
stage lines of a run under dozens of dicts. `bar_only(trainer)` keeps the bar and shows a few of the
logged values in its postfix instead; the full logs still reach our callbacks and the event log.
Not for: logging (each stage's callback does that)."""
from __future__ import annotations

# Values worth a glance while a stage runs (SFT logs loss, GRPO reward too): logged key -> label.
POSTFIX_KEYS = {"loss": "loss", "reward": "reward", "frac_reward_zero_std": "zero_std", "entropy": "entropy"}


def bar_only(trainer) -> None:
    """Replace `trainer`'s ProgressCallback by one that puts POSTFIX_KEYS on the bar and prints no
    dicts, and drop PrinterCallback (present when the bar is off)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    class _BarOnly(ProgressCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero and self.training_bar is not None and logs:
                shown = {label: f"{float(logs[k]):.3g}" for k, label in POSTFIX_KEYS.items()
                         if isinstance(logs.get(k), (int, float))}
                if shown:
                    self.training_bar.set_postfix(shown, refresh=False)

    trainer.remove_callback(PrinterCallback)
    if any(type(cb) is ProgressCallback for cb in trainer.callback_handler.callbacks):
        trainer.remove_callback(ProgressCallback)
        trainer.add_callback(_BarOnly())
