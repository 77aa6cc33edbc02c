"""A device that fails mid-run: the error is a real torch exception raised from inside the
training step (a forward hook on the real network), not a mock of torch."""

from __future__ import annotations

import pytest
import torch

from levelset_studio.core.errors import DeviceError
from levelset_studio.core.events import Message
from levelset_studio.core.jobs import drain
from levelset_studio.core.surface.reconstruction.config import ReconstructionConfig
from levelset_studio.core.surface.reconstruction.device_fallback import is_device_failure
from levelset_studio.core.surface.reconstruction.trainer import Reconstructor
from levelset_studio.core.surface.scans.scanio import load_scan
from tests.faults.conftest import SMALL


def _fail_at(rec: Reconstructor, calls: set[int], exc: BaseException) -> list[int]:
    """Make the network's forward pass raise ``exc`` on the given call numbers."""
    seen = [0]

    def hook(_module, _inputs):
        seen[0] += 1
        if seen[0] in calls:
            raise exc

    rec.net.register_forward_pre_hook(hook)
    return seen


@pytest.fixture
def rec(scan_file, one_torch_thread_package):
    return Reconstructor(load_scan(scan_file), ReconstructionConfig(iterations=8, **SMALL))


OOM = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 8.00 GiB total capacity)")


def test_out_of_memory_mid_run_goes_on_on_the_cpu(rec):
    drain(rec.run(iterations=3))
    _fail_at(rec, {4}, OOM)  # during the 4th step's forward passes
    events: list = []
    result = drain(rec.run(iterations=5), on_event=events.append)
    notes = [e.text for e in events if isinstance(e, Message)]
    assert len(notes) == 1 and "ran out of memory" in notes[0] and "on the CPU" in notes[0]
    assert result.steps == 8 and rec.device.type == "cpu" and rec.device_fallbacks == 1
    assert not result.mesh.is_empty


def test_stop_policy_stops_with_the_message_and_keeps_the_network(rec, tmp_path):
    rec.on_device_error = "stop"
    drain(rec.run(iterations=3))
    before = {k: v.clone() for k, v in rec.net.state_dict().items()}
    _fail_at(rec, {1}, RuntimeError("CUDA error: an illegal memory access was encountered"))
    with pytest.raises(DeviceError) as err:
        drain(rec.run(iterations=5))
    assert "failed" in str(err.value) and "at step 3" in str(err.value) and "kept" in str(err.value)
    assert rec.step == 3
    for k, v in rec.net.state_dict().items():
        torch.testing.assert_close(v, before[k])  # the network trained so far, as it was
    # and it is usable: saved, meshed, continued
    rec.save_checkpoint(tmp_path / "kept.ckpt")
    rec.on_device_error = "cpu"
    assert drain(rec.run(iterations=2)).steps == 5


def test_a_second_failure_on_the_cpu_stops(rec):
    _fail_at(rec, set(range(1, 10_000)), OOM)
    with pytest.raises(DeviceError, match="after falling back to the CPU"):
        drain(rec.run(iterations=4))
    assert rec.step == 0


def test_other_errors_are_not_taken_for_a_device_failure(rec):
    _fail_at(rec, {2}, ValueError("a bug"))
    with pytest.raises(ValueError, match="a bug"):
        drain(rec.run(iterations=4))
    assert not is_device_failure(RuntimeError("shape mismatch")) and is_device_failure(OOM)
