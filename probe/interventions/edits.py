"""What an intervention does to one site of the residual stream, `blocks.{L}.hook_resid_post` (the
output of decoder layer L, before any final norm: the site `probe.capture` reads).

- `AddVector(layer, vector, alpha)`: h + alpha * vector at every position (the transplant and its
  random control);
- `Patch(layer, donor)`: h replaced by the donor model's residual at the same site and positions, the
  donor being run on the same input ids (`EditedLM` runs it; see there how positions are matched
  while decoding);
- `Erase(layer, eraser)`: h -> eraser(h) at every position (a LEACE eraser, `erasure.py`).

An edit is a small frozen value: `new(h, donor_h)` returns the edited residual (same shape and dtype).
Not for: running a model (`edited.py`), or choosing the vector or the eraser (`directions.py`,
`erasure.py`).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, eq=False)
class AddVector:
    """Add `alpha * vector` (a [d] tensor) to the residual at layer `layer`, at every position."""
    layer: int
    vector: object
    alpha: float = 1.0
    kind: str = field(default="add", init=False)

    def new(self, h, donor_h=None):
        v = self.vector.to(device=h.device, dtype=h.dtype)
        return h + self.alpha * v


@dataclass(frozen=True, eq=False)
class Patch:
    """Replace the residual at layer `layer` by `donor`'s (an HF causal LM with the same hidden size)."""
    layer: int
    donor: object
    kind: str = field(default="patch", init=False)

    def new(self, h, donor_h=None):
        if donor_h is None:
            raise ValueError("Patch.new needs the donor's residual")
        if donor_h.shape != h.shape:
            raise ValueError(f"donor residual {tuple(donor_h.shape)} does not match {tuple(h.shape)}: the two "
                             "models must share the hidden size and see the same input ids")
        return donor_h.to(dtype=h.dtype)


@dataclass(frozen=True, eq=False)
class Erase:
    """Apply `eraser` (a callable on [..., d] tensors, e.g. concept_erasure's LeaceEraser) at layer `layer`."""
    layer: int
    eraser: object
    kind: str = field(default="erase", init=False)
    _moved: dict = field(default_factory=dict, init=False, repr=False)

    def new(self, h, donor_h=None):
        return self.on(h.device)(h.float()).to(dtype=h.dtype)

    def on(self, device):
        """The eraser with its tensors on `device`, moved once per device (an eraser fitted on the CPU edits a
        model on a GPU). A LeaceEraser's tensors are `proj_left`, `proj_right` and `bias`; any other callable
        is used as it is."""
        if device not in self._moved:
            e = self.eraser
            tensors = (e.proj_left, e.proj_right, e.bias) if hasattr(e, "proj_left") else None
            self._moved[device] = e if tensors is None or tensors[0].device == device else \
                type(e)(*(None if t is None else t.to(device) for t in tensors))
        return self._moved[device]
