"""``axion-stage3 predict --scenes/--scenes-dir``: many scenes on Lightning's predict loop."""

import csv
import json
import subprocess
import sys
import time

import pytest
from scene_data import tiny_model, write_checkpoint, write_pair

from axion_terratorch.cli import main
from axion_terratorch.datasets.scene_list import find_scene_pairs, read_scene_csv

from forked import forked
from run_configs import REPO

TILING = ["--window", "32", "--overlap", "8", "--batch-size", "2", "--no-lpips", "--quiet"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_checkpoint(tiny_model(), tmp_path_factory.mktemp("ckpt") / "model.ckpt")


def scene_folder(folder, seeds=(0, 1)):
    """Pairs ``<name>_S1.tif`` / ``<name>_S2.tif`` of 40 x 48 px (one per seed) in ``folder``."""
    names = []
    for seed in seeds:
        s1, opt = write_pair(folder / f"tmp{seed}", 40, 48, seed=seed)
        name = f"scene{seed}"
        s1.rename(folder / f"{name}_S1.tif")
        opt.rename(folder / f"{name}_S2.tif")
        (folder / f"tmp{seed}").rmdir()
        names.append(name)
    return names


def single(checkpoint, s1, opt, out, *extra):
    assert main(["predict", "--checkpoint", str(checkpoint), "--s1", str(s1), "--optical", str(opt),
                 "--output", str(out), *TILING, *extra]) == 0  # fmt: skip


def scenes(checkpoint, *args):
    return main(["predict", "--checkpoint", str(checkpoint), *TILING, *args])


def report(out):
    with (out / "run.csv").open() as f:
        rows = {row["name"]: row for row in csv.DictReader(f)}
    return rows, json.loads((out / "run.json").read_text())


def test_csv_list_matches_single_scene_predict_and_reports_a_bad_scene(tmp_path, checkpoint, capsys):
    data = tmp_path / "data"
    data.mkdir()
    scene_folder(data)
    (data / "scenes.csv").write_text(
        "s1,optical,name\n"
        "scene0_S1.tif,scene0_S2.tif,first\n"
        "scene1_S1.tif,scene1_S2.tif,\n"  # name: the optical file's stem
        "missing_S1.tif,scene1_S2.tif,broken\n"
    )
    out = tmp_path / "out"
    csv_list = str(data / "scenes.csv")
    assert scenes(checkpoint, "--scenes", csv_list, "--output-dir", str(out), "--dn", "--quicklook") == 2
    assert "broken: failed" in capsys.readouterr().out
    rows, run = report(out)
    assert {name: row["status"] for name, row in rows.items()} == {
        "first": "grounded",
        "scene1_S2": "grounded",
        "broken": "failed",
    }
    assert "missing_S1.tif" in rows["broken"]["error"]
    assert (run["totals"]["grounded"], run["totals"]["failed"]) == (2, 1)
    assert not (out / "broken.tif").exists()
    for name, seed in (("first", 0), ("scene1_S2", 1)):
        alone = tmp_path / "alone" / f"{name}.tif"
        single(checkpoint, data / f"scene{seed}_S1.tif", data / f"scene{seed}_S2.tif", alone, "--dn")
        assert (out / f"{name}.tif").read_bytes() == alone.read_bytes()
        listed, own = (json.loads(p.with_suffix(".json").read_text()) for p in (out / f"{name}.tif", alone))
        assert {k: v for k, v in listed.items() if k != "output"} == {
            k: v for k, v in own.items() if k != "output"
        }
        assert rows[name]["verdict"] == own["quality_flag"]
        assert int(rows[name]["windows"]) == 4
        assert (out / f"{name}.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_folder_list_resumes_after_an_interruption(tmp_path, checkpoint):
    data = tmp_path / "data"
    data.mkdir()
    scene_folder(data)
    (data / "lonely_S1.tif").write_bytes((data / "scene0_S1.tif").read_bytes())
    assert [e.name for e in find_scene_pairs(data, r"(?P<tile>.+)_S1\.tif", r"(?P<tile>.+)_S2\.tif")] == [
        "lonely",
        "scene0",
        "scene1",
    ]
    out = tmp_path / "out"
    args = ["--scenes-dir", str(data), "--output-dir", str(out)]
    assert scenes(checkpoint, *args, "--on-error", "stop") == 2  # lonely (first) has no optical partner
    assert [row["status"] for row in report(out)[0].values()] == ["failed"]
    assert not (out / "scene0.tif").exists()
    assert scenes(checkpoint, *args) == 2  # --on-error skip: the others are written
    rows, _ = report(out)
    assert "lonely_S1.tif has no S2 partner" in rows["lonely"]["error"]
    first = {n: (out / f"{n}.tif").read_bytes() for n in ("scene0", "scene1")}
    # An interrupted run: scene0 finished, scene1 left only a temporary file under another name.
    (data / "lonely_S1.tif").unlink()
    (out / "scene1.tif").unlink()
    (out / "scene1.json").unlink()
    (out / ".scene1.tif.abcd1234.tmp").write_bytes(b"partial")
    finished = (out / "scene0.tif").stat().st_mtime_ns
    assert scenes(checkpoint, *args) == 0
    rows, run = report(out)
    assert (rows["scene0"]["status"], rows["scene1"]["status"]) == ("skipped", "grounded")
    assert (run["totals"]["skipped"], run["totals"]["grounded"]) == (1, 1)
    assert (out / "scene0.tif").stat().st_mtime_ns == finished
    assert {n: (out / f"{n}.tif").read_bytes() for n in first} == first
    assert not list(out.glob(".*"))
    # Another option regrounds a finished scene (as --overwrite does).
    assert scenes(checkpoint, *args, "--fallback", "input") == 0
    assert {row["status"] for row in report(out)[0].values()} == {"grounded"}


def test_scene_list_errors_name_the_csv_row(tmp_path):
    (tmp_path / "a.csv").write_text("s1,opt\nx.tif,y.tif\n")
    with pytest.raises(ValueError, match=r"a.csv: no column\(s\) \['optical'\]"):
        read_scene_csv(tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("s1,optical\nx.tif,d/y.tif\nz.tif,e/y.tif\n")
    with pytest.raises(ValueError, match="two scenes are named 'y'"):
        read_scene_csv(tmp_path / "b.csv")


@pytest.mark.slow
def test_two_processes_write_each_scene_once_as_one_process(tmp_path, checkpoint, monkeypatch):
    """Lightning gives each of N CPU processes cores / N threads, and float sums depend on the thread
    count: both runs use one thread per process, as OMP_NUM_THREADS=1 makes them."""
    import torch

    data = tmp_path / "data"
    data.mkdir()
    names = scene_folder(data, seeds=(0, 1, 2))
    one, two = tmp_path / "one", tmp_path / "two"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert scenes(checkpoint, "--scenes-dir", str(data), "--output-dir", str(one)) == 0
    finally:
        torch.set_num_threads(threads)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    command = [sys.executable, "-m", "axion_terratorch.cli", "predict", "--checkpoint", str(checkpoint),
               *TILING, "--scenes-dir", str(data), "--output-dir", str(two), "--devices", "2", "--strategy", "ddp"]  # fmt: skip
    subprocess.run(command, check=True, cwd=tmp_path, timeout=600)
    rows, run = report(two)
    assert {name: row["rank"] for name, row in rows.items()} == {"scene0": "0", "scene1": "1", "scene2": "0"}
    assert run["totals"]["grounded"] == len(names)
    for name in names:
        assert (two / f"{name}.tif").read_bytes() == (one / f"{name}.tif").read_bytes()


@pytest.mark.slow
def test_terratorch_predict_with_the_scene_config_writes_the_same_files(tmp_path, monkeypatch):
    """``terratorch predict`` run in-process, through the function the ``terratorch`` command calls."""
    import torch
    import yaml
    from scene_data import TINY_CONFIG
    from terratorch.cli_tools import build_lightning_cli

    from axion_terratorch import SARGroundingTask
    from axion_terratorch.losses import Stage3Loss
    from axion_terratorch.metrics import GroundingMetrics

    task = SARGroundingTask(
        model=tiny_model(), loss=Stage3Loss(use_lpips=False), metrics=GroundingMetrics(lpips=False)
    )
    ckpt = tmp_path / "task.ckpt"
    torch.save(
        {"epoch": 0, "global_step": 2, "pytorch-lightning_version": "2.6.6",
         "state_dict": task.state_dict(),
         "hyper_parameters": {  # as terratorch fit saves them: LightningCLI predict parses them
             "_class_path": "axion_terratorch.SARGroundingTask", "model": TINY_CONFIG,
             "loss": {"class_path": "axion_terratorch.losses.Stage3Loss", "init_args": {"use_lpips": False}},
             "metrics": {"class_path": "axion_terratorch.metrics.GroundingMetrics", "init_args": {"lpips": False}},
         }},
        ckpt,
    )  # fmt: skip
    data = tmp_path / "data"
    data.mkdir()
    names = scene_folder(data)
    (data / "scenes.csv").write_text(
        "s1,optical,name\n" + "".join(f"{n}_S1.tif,{n}_S2.tif,{n}\n" for n in names)
    )
    config = yaml.safe_load((REPO / "configs" / "predict.scenes.yaml").read_text())
    config["trainer"]["accelerator"] = "cpu"
    writer = config["trainer"]["callbacks"][0]["init_args"]
    writer.update(output_dir=str(tmp_path / "tt"), progress=False)
    config["model"]["init_args"]["model"] = TINY_CONFIG
    config["data"]["init_args"].update(scenes=str(data / "scenes.csv"), window=32, overlap=8, batch_size=2)
    (tmp_path / "predict.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.chdir(tmp_path)
    build_lightning_cli(["predict", "-c", str(tmp_path / "predict.yaml"), "--ckpt_path", str(ckpt)])
    assert scenes(ckpt, "--scenes", str(data / "scenes.csv"), "--output-dir", str(tmp_path / "axion")) == 0
    assert not list((tmp_path / "tt").glob("*.pt"))  # terratorch's per-batch writer was left out
    for name in names:
        assert (tmp_path / "tt" / f"{name}.tif").read_bytes() == (
            tmp_path / "axion" / f"{name}.tif"
        ).read_bytes()
        sidecars = [json.loads((tmp_path / d / f"{name}.json").read_text()) for d in ("tt", "axion")]
        assert [s.pop("output") for s in sidecars] != [None, None]
        assert sidecars[0] == sidecars[1]


@pytest.mark.slow
def test_a_scene_list_killed_mid_run_resumes_to_the_outputs_of_an_uninterrupted_run(
    tmp_path, checkpoint, one_torch_thread
):
    data = tmp_path / "data"
    data.mkdir()
    names = scene_folder(data, seeds=range(6))
    reference, out = tmp_path / "reference", tmp_path / "out"
    args = ["--scenes-dir", str(data)]
    assert scenes(checkpoint, *args, "--output-dir", str(reference)) == 0
    command = ["predict", "--checkpoint", str(checkpoint), *TILING, *args, "--output-dir", str(out)]
    child = forked(main, command)
    deadline = time.monotonic() + 240
    try:
        while child.is_alive() and time.monotonic() < deadline and not (out / "scene0.json").exists():
            time.sleep(0.002)
        if not child.is_alive():
            pytest.fail(f"the run ended (exit {child.exitcode}) before its first scene was written")
    finally:
        child.kill()
        child.join()
    done = sorted(p.stem for p in out.glob("scene*.json"))
    assert 1 <= len(done) < len(names), done  # killed mid-run: some scenes finished, others not
    assert scenes(checkpoint, *args, "--output-dir", str(out)) == 0  # the same command again
    rows, run = report(out)
    assert {name: rows[name]["status"] for name in names} == {
        name: "skipped" if name in done else "grounded" for name in names
    }
    assert (run["totals"]["skipped"], run["totals"]["grounded"]) == (len(done), len(names) - len(done))
    for name in names:
        assert (out / f"{name}.tif").read_bytes() == (reference / f"{name}.tif").read_bytes(), name
    assert not list(out.glob(".*"))  # the killed scene's temporary files are gone


def test_scenes_of_many_batches_each_are_all_written(tmp_path, checkpoint):
    """The loader reads the next scene ahead while the last one is written: both in one GDAL environment."""
    data = tmp_path / "data"
    data.mkdir()
    for seed in range(2):
        s1, opt = write_pair(data / f"tmp{seed}", 320, 320, seed=seed)
        s1.rename(data / f"scene{seed}_S1.tif")
        opt.rename(data / f"scene{seed}_S2.tif")
    out = tmp_path / "out"
    args = ["--scenes-dir", str(data), "--output-dir", str(out), "--window", "128", "--batch-size", "4"]
    assert main(["predict", "--checkpoint", str(checkpoint), *TILING, *args]) == 0
    rows, _ = report(out)
    assert {name: row["status"] for name, row in rows.items()} == {"scene0": "grounded", "scene1": "grounded"}
