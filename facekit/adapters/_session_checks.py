"""Checks that an ONNX Runtime session has the inputs and outputs an adapter needs.

Adapters call these once, at construction. A mismatch raises
:class:`ModelLoadError` naming the model, what was expected and what the
session actually has. The signature is only ever checked, never used to
guess which model a file is.
"""

from __future__ import annotations

from collections.abc import Sequence

import onnxruntime as ort

from facekit.errors import ModelLoadError

Dim = int | str | None


def model_label(session: ort.InferenceSession, name: str | None) -> str:
    """A short human name for the model behind `session`."""
    if name:
        return name
    path = getattr(session, "_model_path", None)
    return str(path) if path else "ONNX model"


def describe_signature(session: ort.InferenceSession) -> str:
    """All inputs and outputs as `name[d0,d1,...]` lists."""
    inputs = ", ".join(_describe(arg.name, arg.shape) for arg in session.get_inputs())
    outputs = ", ".join(_describe(arg.name, arg.shape) for arg in session.get_outputs())
    return f"inputs {inputs or 'none'}; outputs {outputs or 'none'}"


def mismatch(session: ort.InferenceSession, label: str, expected: str) -> ModelLoadError:
    """The error for a session whose signature is not what an adapter needs."""
    return ModelLoadError(
        f"{label} does not have the inputs/outputs this adapter needs: expected {expected}, found {describe_signature(session)}.",
        hint="Check that the model entry points at the right file for this model family.",
    )


def is_fixed(dim: Dim) -> bool:
    return isinstance(dim, int) and dim > 0


def image_input(
    session: ort.InferenceSession,
    label: str,
    size: tuple[int, int] | None = None,
) -> tuple[str, tuple[int, int] | None]:
    """Check for exactly one NCHW 3-channel image input.

    `size` is (height, width) the adapter requires when the model fixes it.
    Returns the input name and the model's fixed (height, width), or None
    when the spatial size is dynamic.
    """
    inputs = session.get_inputs()
    wanted = "one image input [N,3,H,W]" if size is None else f"one image input [N,3,{size[0]},{size[1]}]"
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        raise mismatch(session, label, wanted)
    shape = inputs[0].shape
    if is_fixed(shape[1]) and shape[1] != 3:
        raise mismatch(session, label, wanted)
    fixed = (shape[2], shape[3]) if is_fixed(shape[2]) and is_fixed(shape[3]) else None
    if size is not None and fixed is not None and fixed != size:
        raise mismatch(session, label, wanted)
    return inputs[0].name, fixed


def require_outputs(session: ort.InferenceSession, label: str, names: Sequence[str]) -> None:
    """Check that every name in `names` is an output of the session."""
    present = {arg.name for arg in session.get_outputs()}
    missing = [name for name in names if name not in present]
    if missing:
        raise mismatch(session, label, f"outputs named {', '.join(names)} (missing {', '.join(missing)})")


def single_output(
    session: ort.InferenceSession,
    label: str,
    width: int | None = None,
) -> tuple[str, Dim]:
    """Check for exactly one [N, D] output (D == `width` when given); return its name and D."""
    outputs = session.get_outputs()
    wanted = "one output [N,D]" if width is None else f"one output [N,{width}]"
    if len(outputs) != 1 or len(outputs[0].shape) != 2:
        raise mismatch(session, label, wanted)
    last = outputs[0].shape[1]
    if width is not None and last != width:
        raise mismatch(session, label, wanted)
    return outputs[0].name, last


def _describe(name: str, shape: Sequence[Dim]) -> str:
    dims = ",".join("?" if d is None else str(d) for d in shape)
    return f"{name}[{dims}]"
