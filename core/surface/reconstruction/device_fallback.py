"""What a reconstruction does when its device fails mid-run (out of memory, GPU lost).

A training step that raises a device failure (``torch.OutOfMemoryError``, a CUDA/MPS
runtime error such as an unavailable or lost device) is handled by
:func:`handle_device_failure`, called from the trainer's step loop:

- policy ``"cpu"`` (the default): the network, the optimizer state and the samples move
  to the CPU and the failed step is repeated there; training goes on, the CPU's own
  failure (a second one) stops the run;
- policy ``"stop"``: the run stops with a :class:`~levelset_studio.core.errors.DeviceError`
  whose message says what happened.

Either way the network trained so far is kept: the ``Reconstructor`` holds it (on the
CPU when the device's memory can no longer be read, from the last copy taken), so it
can be meshed, saved as a checkpoint or continued.
"""

from __future__ import annotations

from typing import Any

import torch

from levelset_studio.core.errors import DeviceError

DEVICE_ERROR_POLICIES = ("cpu", "stop")

# Text of the runtime errors CUDA and MPS raise when the device fails or runs out of memory.
_DEVICE_FAILURE_TEXT = (
    "out of memory",
    "cuda error",
    "cudaerror",
    "cublas_status",
    "cudnn_status",
    "device-side assert",
    "no cuda gpus are available",
    "device not ready",
    "unspecified launch failure",
    "mps backend",
    "device lost",
)


def is_device_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is the device failing (not a bug or a user error)."""
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    if isinstance(exc, RuntimeError):
        text = str(exc).lower()
        return any(t in text for t in _DEVICE_FAILURE_TEXT)
    return False


def _describe(exc: BaseException) -> str:
    if isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower():
        return "ran out of memory"
    first = str(exc).strip().splitlines()
    return f"failed ({first[0][:100] if first else type(exc).__name__})"


def handle_device_failure(rec: Any, exc: BaseException) -> str | None:
    """Deal with ``exc`` raised by ``rec``'s training step.

    Returns ``None`` when ``exc`` is not a device failure (the caller re-raises it), a
    message when training moved to the CPU (the caller repeats the step), and raises
    ``DeviceError`` when the run must stop (policy ``stop``, or the CPU failed too).
    """
    if not is_device_failure(exc):
        return None
    where = rec.device.type.upper()
    what = f"the {where} {_describe(exc)} at step {rec.step}"
    if rec.on_device_error == "stop":
        _move_to_cpu(rec)
        raise DeviceError(f"{what}; stopped (the network trained so far is kept)") from None
    if rec.device_fallbacks >= 1 and rec.device.type == "cpu":
        raise DeviceError(
            f"{what} after falling back to the CPU; stopped (the network trained so far is kept); "
            "lower the batch size or the resolution"
        ) from None
    _move_to_cpu(rec)
    rec.device_fallbacks += 1
    return f"{what}; training goes on on the CPU"


def _move_to_cpu(rec: Any) -> None:
    """Move everything the trainer keeps on its device to the CPU (in place)."""
    cpu = torch.device("cpu")
    if rec.device.type != "cpu" and rec.device.type == "cuda":
        # free what the failed step left (cached blocks, the graph) before copying
        rec.opt.zero_grad(set_to_none=True)
        torch.cuda.empty_cache()
    rec.net.to(cpu)
    for state in rec.opt.state.values():
        for key, value in list(state.items()):
            if isinstance(value, torch.Tensor):
                state[key] = value.to(cpu)
    rec._points = rec._points.to(cpu)
    if rec._normals is not None:
        rec._normals = rec._normals.to(cpu)
    sampler = rec._sampler
    if sampler.points is not None:
        sampler.points = sampler.points.to(cpu)
    if sampler.ok is not None:
        sampler.ok = sampler.ok.to(cpu)
    rec._distance = None  # rebuilt on the CPU at the next step
    rec.device = cpu
