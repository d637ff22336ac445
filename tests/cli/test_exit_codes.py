"""One exit-status convention over ``axion-stage3``: 0 done, 1 own gate failed, 2 bad input, 3 flagged."""

import pytest
from inference.scene_data import tiny_model, write_checkpoint, write_pair

from axion_terratorch.cli import SUBCOMMANDS, main
from axion_terratorch.cli.errors import EXIT_STATUSES, FLAGGED, INPUT_ERROR, SUCCESS


def test_predict_and_check_exit_alike_on_the_same_output(tmp_path, capsys):
    s1, opt = write_pair(tmp_path, 48, 40)
    ckpt = write_checkpoint(tiny_model(), tmp_path / "model.ckpt")
    out = tmp_path / "grounded.tif"
    scene = ["--s1", str(s1), "--optical", str(opt)]
    run = ["--window", "32", "--overlap", "8", "--no-lpips", "--quiet"]
    predicted = main(["predict", "--checkpoint", str(ckpt), *scene, "--output", str(out), *run])
    flag = capsys.readouterr().out.split(": ")[1].split(",")[0]
    checked = main(["check", *scene, "--grounded", str(out), "--no-lpips"])
    assert capsys.readouterr().out.split(": ")[1].split(",")[0] == flag
    assert predicted == checked == (SUCCESS if flag == "production" else FLAGGED)
    # the input itself is a production output (an unchanged input passes), whichever command judges it
    assert main(["check", *scene, "--grounded", str(opt), "--no-lpips"]) == SUCCESS


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as done:
        main(["check", "--s1", "a.tif"])
    assert done.value.code == INPUT_ERROR
    assert main(["evaluate", "--identity"]) == INPUT_ERROR


@pytest.mark.parametrize("command", [None, *SUBCOMMANDS])
def test_help_states_the_convention_shows_defaults_and_no_markup(command, capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"] if command is None else [command, "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert " ".join(EXIT_STATUSES.split()) in text
    assert "``" not in text
    if command == "predict":
        for default in ("in px (default: 256)", "(default: 32)", "forward pass (default: 4)"):
            assert default in text


def test_check_compare_bands_and_its_old_name(tmp_path, capsys):
    s1, opt = write_pair(tmp_path, 32, 32)
    scene = ["--s1", str(s1), "--optical", str(opt), "--grounded", str(opt), "--no-lpips"]
    assert main(["check", *scene, "--compare-bands", "B02", "B03", "B04"]) == SUCCESS
    assert main(["check", *scene, "--bands", "B02", "B03", "B04"]) == SUCCESS
    assert "--bands is deprecated, use --compare-bands" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["predict", "evaluate", "export", "train", "memory-report"])
def test_every_command_taking_a_config_takes_dash_c(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "-c CONFIG, --config CONFIG" in capsys.readouterr().out
