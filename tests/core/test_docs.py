"""docs/parameters.md is generated from the parameter descriptions and kept up to date."""

from levelset_studio.core.cli import main
from levelset_studio.core.surface.reconstruction.config import ReconstructionConfig
from tests.conftest import ROOT


def test_parameters_page_is_up_to_date(capsys):
    assert main(["docs", "--check", "--output", str(ROOT / "docs")]) == 0, capsys.readouterr().err


def test_parameters_page_lists_every_flag_with_its_default():
    text = (ROOT / "docs" / "parameters.md").read_text()
    cfg = ReconstructionConfig()
    assert "`--time-budget` | `60.0`" in text and cfg.time_budget == 60.0
    assert "`--trim-distance`" in text and "`--seed`" in text


def test_a_stale_page_is_reported(tmp_path, capsys):
    (tmp_path / "parameters.md").write_text("# old\n")
    assert main(["docs", "--check", "--output", str(tmp_path)]) == 2
    assert "out of date" in capsys.readouterr().err
