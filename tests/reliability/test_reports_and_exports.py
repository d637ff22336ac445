"""Issue 22, sections 6 and 7: ``evaluate --compare`` refuses malformed CSVs by name, and
``export --overwrite`` says what it deletes and keeps a folder holding anything else."""

import logging
import re

import pytest
from inference.scene_data import tiny_model, write_checkpoint

from axion_terratorch.checkpoints.export import CONFIG_FILE, MARKER_FILE, MARKER_TEXT
from axion_terratorch.cli import main

GOOD = "tile,sar_agreement\na,0.5\nb,0.6\nc,0.7\n"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "name,sar_agreement\na,0.5\nb,0.6\n",
            r"bad\.csv: no 'tile' column \(columns: \['name', 'sar_agreement'\]\)",
        ),
        (
            f"tile,sar_agreement\na,{'9' * 200_000}\n",
            r"bad\.csv: not a readable CSV \(field larger than field limit",
        ),
        (
            "tile,sar_agreement\na,nan\nb,0.6\nc,0.7\n",
            r"run 'baseline' tile 'a' sar_agreement: 'nan' is not a finite number",
        ),
        (
            "tile,sar_agreement\na,0.5\nb,inf\nc,0.7\n",
            r"tile 'b' sar_agreement: 'inf' is not a finite number",
        ),
        ("tile,sar_agreement\na,0.5\nb,x\nc,0.7\n", r"tile 'b' sar_agreement: 'x' is not a finite number"),
        ("tile,sar_agreement\na,0.5\nb,0.6\na,0.9\n", r"bad\.csv: tile 'a' appears twice \(lines 2 and 4\)"),
    ],
    ids=["no-tile-column", "huge-field", "nan", "inf", "text", "duplicate-tile"],
)
def test_compare_refuses_a_malformed_csv_by_name(tmp_path, capsys, content, expected):
    bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
    bad.write_text(content)
    good.write_text(GOOD)
    assert main(["evaluate", "--compare", str(bad), str(good)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "Traceback" not in err
    assert re.search(expected, err), err


def test_overwrite_keeps_an_export_holding_foreign_files(tmp_path, capsys):
    """The reported case: ``export --overwrite`` deleted a folder the user added inside an earlier export."""
    folder = tmp_path / "export"
    (folder / "mine").mkdir(parents=True)
    (folder / "mine" / "notes.txt").write_text("keep me")
    (folder / MARKER_FILE).write_text(MARKER_TEXT)
    (folder / CONFIG_FILE).write_text("kind: adapter\n")
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"")
    assert main(["export", "--checkpoint", str(ckpt), "--output", str(folder), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "it holds files an export does not write (mine, mine/notes.txt); move them out first" in err
    assert (folder / "mine" / "notes.txt").read_text() == "keep me"


def test_overwrite_says_what_it_deletes(tmp_path, caplog):
    ckpt = write_checkpoint(tiny_model(), tmp_path / "model.ckpt")
    folder = tmp_path / "export"
    assert main(["export", "--checkpoint", str(ckpt), "--output", str(folder)]) == 0
    with caplog.at_level(logging.WARNING, logger="axion_terratorch.checkpoints.export"):
        assert (
            main(["export", "--checkpoint", str(ckpt), "--output", str(folder), "--merged", "--overwrite"])
            == 0
        )
    (message,) = [r.getMessage() for r in caplog.records if "replaced the earlier export" in r.getMessage()]
    assert "config.yaml" in message
    assert "extra_weights.safetensors" in message
