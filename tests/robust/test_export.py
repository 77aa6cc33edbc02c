"""Checkpoints and torch.export programs round-trip; bad files are typed errors."""

from __future__ import annotations

import pytest
import torch

from levelset_studio.core.errors import CheckpointError, ModelError
from levelset_studio.core.robust.checkpoint import load_classifier, save_classifier
from levelset_studio.core.robust.data import DatasetConfig, load_dataset
from levelset_studio.core.robust.export import export_classifier
from levelset_studio.core.robust.models import ModelConfig, build_model, load_user_model
from levelset_studio.core.robust.training import RobustTrainer, TrainConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_checkpoint_round_trip_and_resume(tmp_path):
    data = load_dataset(DatasetConfig(name="blobs", n_samples=200, seed=2))
    mc, tc = ModelConfig(width=16, activation="tanh"), TrainConfig(epochs=2, batch_size=32, lr=1e-2, device="cpu")
    trainer = RobustTrainer(build_model(mc, data.input_shape, data.num_classes, seed=0), data, tc)
    list(trainer.run())
    path = save_classifier(
        tmp_path / "blobs.ckpt",
        trainer.model,
        mc,
        data.config,
        tc,
        trainer.optimizer,
        trainer.epoch,
        class_names=data.class_names,
        history=trainer.history,
    )
    clf = load_classifier(path)
    model, mc2, dc2, tc2 = clf  # unpacks as the four things most callers need
    assert (mc2, dc2, tc2) == (mc, data.config, tc)
    assert clf.epoch == 2 and clf.input_shape == (2,) and clf.num_classes == 3
    assert clf.class_names == ("0", "1", "2") and len(clf.history) == 2
    assert torch.equal(model(data.x_test), trainer.model(data.x_test))
    # resuming from the file gives exactly the run that never stopped
    resumed = RobustTrainer(model, data, tc, optimizer_state=clf.optimizer_state, epoch=clf.epoch)
    list(resumed.run())
    list(trainer.run())
    for a, b in zip(trainer.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)


def test_bad_checkpoints_are_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no such"):
        load_classifier(tmp_path / "missing.ckpt")
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_classifier(junk)
    other = tmp_path / "other.ckpt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(CheckpointError, match="not a LevelSet Studio classifier"):
        load_classifier(other)
    m = build_model(ModelConfig(width=4), (2,), 2)
    good = save_classifier(tmp_path / "good.ckpt", m, ModelConfig(width=4), DatasetConfig(), TrainConfig())
    ckpt = torch.load(good, weights_only=True)
    ckpt["model_config"]["width"] = 5  # weights no longer fit the architecture
    torch.save(ckpt, tmp_path / "bad.ckpt")
    with pytest.raises(CheckpointError, match="invalid checkpoint contents"):
        load_classifier(tmp_path / "bad.ckpt")
    with pytest.raises(CheckpointError, match="folder does not exist"):
        save_classifier(tmp_path / "nowhere" / "x.ckpt", m, ModelConfig(width=4), DatasetConfig(), TrainConfig())


@pytest.mark.parametrize("arch, shape", [("mlp", (2,)), ("smallcnn", (1, 8, 8)), ("mlp", (1, 28, 28))])
def test_export_program_matches_the_model(tmp_path, arch, shape):
    model = build_model(ModelConfig(arch=arch, width=16), shape, 10 if len(shape) == 3 else 2, seed=1)
    path = export_classifier(model, shape, tmp_path / "model.pt2")
    program = torch.export.load(str(path)).module()
    for n in (1, 7):
        x = torch.rand(n, *shape)
        assert torch.allclose(program(x), model(x), atol=1e-6), (arch, shape, n)
    assert load_user_model(path, shape)(torch.rand(3, *shape)).shape[0] == 3
    assert not list(tmp_path.glob("*.tmp*"))
    with pytest.raises(ModelError, match=".pt2"):
        export_classifier(model, shape, tmp_path / "model.onnx")
