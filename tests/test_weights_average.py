"""Checkpoint averaging: the API (models.weights_average) and `gre average-weights`."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch

from models.architectures import build_network, named_config
from models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from models.registry import sha256_of
from models.weights_average import average_checkpoints, averaged_sources


def _save(path: Path, seed: int, config_name: str = "tiny_psm", step: int | None = None,
          arch: str = "masknet") -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    net = build_network(arch, named_config(arch, config_name))
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    save_checkpoint(path, state, arch=arch, config=named_config(arch, config_name),
                    config_name=config_name, sample_rate_hz=16_000, tasks=("denoise",),
                    extra_metadata=None if step is None else {"step": str(step)})
    return state


@pytest.mark.parametrize("arch,config_name", [("masknet", "tiny_psm"), ("gre", "tiny")])
def test_average_is_the_elementwise_mean_and_records_its_sources(tmp_path, arch, config_name):
    states = [_save(tmp_path / f"c{i}.safetensors", seed=i, step=100 * (i + 1), arch=arch, config_name=config_name)
              for i in range(3)]
    out = tmp_path / "avg.safetensors"
    sources = average_checkpoints([tmp_path / f"c{i}.safetensors" for i in range(3)], out)
    assert [s.step for s in sources] == [100, 200, 300]
    assert [s.sha256 for s in sources] == [sha256_of(tmp_path / f"c{i}.safetensors") for i in range(3)]
    assert averaged_sources(out) == sources
    assert averaged_sources(tmp_path / "c0.safetensors") is None
    avg = load_checkpoint(out)
    assert avg.arch == arch and avg.config_name == config_name and avg.tasks == ("denoise",)
    for key, value in avg.state_dict.items():
        expected = (states[0][key].double() + states[1][key].double() + states[2][key].double()) / 3
        assert value.dtype == states[0][key].dtype
        torch.testing.assert_close(value.double(), expected, rtol=0, atol=1e-7)
    from models.api import load_model

    model = load_model(str(out), device="cpu")
    y = model(torch.randn(1, 4000) * 0.1)
    assert y.shape == (1, 4000) and torch.isfinite(y).all()


def test_a_step_missing_from_the_metadata_is_read_from_a_step_file_name(tmp_path):
    _save(tmp_path / "step-0000500.safetensors", seed=1)
    _save(tmp_path / "other.safetensors", seed=2)
    sources = average_checkpoints([tmp_path / "step-0000500.safetensors", tmp_path / "other.safetensors"],
                                  tmp_path / "avg.safetensors")
    assert [s.step for s in sources] == [500, None]


def test_a_config_written_before_a_field_existed_averages_with_one_that_has_it(tmp_path):
    """A fine-tune's config lists a field added after its starting checkpoint was saved (at the
    default, so the same network); the two average. A field at another value is still refused."""
    from dataclasses import asdict

    old, new, changed = (tmp_path / f"{n}.safetensors" for n in ("old", "new", "changed"))
    config = named_config("masknet", "tiny_psm")
    older_json = {k: v for k, v in asdict(config).items() if k != "refine_time_dilation"}
    assert older_json != asdict(config)
    torch.manual_seed(1)
    state = {k: v.detach().clone() for k, v in build_network("masknet", config).state_dict().items()}
    save_checkpoint(old, state, arch="masknet", config=older_json, config_name="tiny_psm",
                    sample_rate_hz=16_000, tasks=("denoise",))
    _save(new, seed=2)
    average_checkpoints([old, new], tmp_path / "avg.safetensors")
    assert load_checkpoint(tmp_path / "avg.safetensors").state_dict.keys() == state.keys()
    save_checkpoint(changed, state, arch="masknet", config={**asdict(config), "iam_max": 3.0},
                    config_name="tiny_psm", sample_rate_hz=16_000, tasks=("denoise",))
    with pytest.raises(CheckpointError, match="changed.safetensors: its config differs"):
        average_checkpoints([new, changed], tmp_path / "avg2.safetensors")


def test_unusable_inputs_are_refused_naming_the_file(tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    _save(a, seed=1)
    _save(b, seed=2)
    out = tmp_path / "avg.safetensors"
    with pytest.raises(CheckpointError, match="at least two"):
        average_checkpoints([a], out)
    copy = tmp_path / "a-copy.safetensors"
    copy.write_bytes(a.read_bytes())
    with pytest.raises(CheckpointError, match="a-copy.safetensors: the same weights as a.safetensors"):
        average_checkpoints([a, copy], out)
    other_target = tmp_path / "iam.safetensors"  # same shapes, another config: not one run
    _save(other_target, seed=3, config_name="tiny_iam")
    with pytest.raises(CheckpointError, match="iam.safetensors: its config differs"):
        average_checkpoints([a, other_target], out)
    bigger = tmp_path / "big.safetensors"
    _save(bigger, seed=4, config_name="psm")
    with pytest.raises(CheckpointError, match="big.safetensors"):
        average_checkpoints([a, bigger], out)
    with pytest.raises(CheckpointError, match="missing.safetensors: checkpoint file not found"):
        average_checkpoints([a, tmp_path / "missing.safetensors"], out)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.safetensors"):
        average_checkpoints([a, junk], out)
    assert not out.exists() and [p.name for p in tmp_path.glob(".*tmp")] == []


def test_cli_averages_and_refuses_bad_input_with_one_line(gre, tmp_path):
    a, b = tmp_path / "step-0000010.safetensors", tmp_path / "step-0000020.safetensors"
    _save(a, seed=1, step=10)
    _save(b, seed=2, step=20)
    out = tmp_path / "avg.safetensors"
    done = subprocess.run([gre, "average-weights", str(a), str(b), "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "average of 2 checkpoints (steps 10, 20)" in done.stdout
    assert [s.step for s in averaged_sources(out)] == [10, 20]
    model, tune = tmp_path / "model.safetensors", tmp_path / "tune.safetensors"  # no steps: named by file
    _save(model, seed=3)
    _save(tune, seed=4)
    done = subprocess.run([gre, "average-weights", str(model), str(tune), "-o", str(tmp_path / "soup.safetensors")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "average of 2 weight files (model.safetensors, tune.safetensors)" in done.stdout

    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"x")
    for args, words in (([str(a), str(junk), "-o", str(tmp_path / "x.safetensors")], "junk.safetensors"),
                        ([str(a), "-o", str(tmp_path / "x.safetensors")], "at least two"),
                        ([str(a), str(b), "-o", str(a)], "also an input"),
                        ([str(a), str(b), "-o", str(tmp_path / "x.pt")], "must end in .safetensors"),
                        ([str(a), str(b), "-o", str(tmp_path / "no" / "x.safetensors")], "no such folder")):
        bad = subprocess.run([gre, "average-weights", *args], capture_output=True, text=True)
        assert bad.returncode == 2, args
        lines = bad.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], bad.stderr
    assert not (tmp_path / "x.safetensors").exists()


def _run_weights_folder(tmp_path, steps):
    """A `gre train --keep-weights` folder: one step-N checkpoint per step (different weights each)."""
    folder = tmp_path / "weights"
    folder.mkdir()
    for step in steps:
        _save(folder / f"step-{step:07d}.safetensors", seed=step, step=step)
    return folder


def test_cli_takes_a_folder_and_the_last_n_checkpoints(gre, tmp_path):
    folder = _run_weights_folder(tmp_path, (500, 1000, 1500, 2000))
    out = tmp_path / "avg.safetensors"
    done = subprocess.run([gre, "average-weights", str(folder), "--last", "3", "-o", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert [s.step for s in averaged_sources(out)] == [1000, 1500, 2000]
    inside = folder / "avg.safetensors"  # an average written into the folder is not taken as an input
    subprocess.run([gre, "average-weights", str(folder), "--last", "2", "-o", str(inside)], check=True)
    done = subprocess.run([gre, "average-weights", str(folder), "-o", str(out)], capture_output=True, text=True)
    assert [s.step for s in averaged_sources(out)] == [500, 1000, 1500, 2000]
    empty = tmp_path / "empty"
    empty.mkdir()
    unstepped = tmp_path / "x.safetensors"
    _save(unstepped, seed=9)
    for args, words in (([str(empty), "-o", str(out)], "no .safetensors files"),
                        ([str(folder), str(unstepped), "--last", "2", "-o", str(out)], "step is not recorded"),
                        ([str(folder), "--last", "-1", "-o", str(out)], "--last -1")):
        bad = subprocess.run([gre, "average-weights", *args], capture_output=True, text=True)
        assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and words in bad.stderr, bad.stderr


def test_cli_takes_the_checkpoints_from_a_step_on(gre, tmp_path):
    folder = _run_weights_folder(tmp_path, (500, 1000, 1500, 2000))
    out = tmp_path / "avg.safetensors"
    for args, steps in ((["--from-step", "1000"], [1000, 1500, 2000]),
                        (["--from-step", "1001"], [1500, 2000]),
                        (["--from-step", "0"], [500, 1000, 1500, 2000]),
                        (["--from-step", "600", "--last", "2"], [1500, 2000])):
        done = subprocess.run([gre, "average-weights", str(folder), *args, "-o", str(out)],
                              capture_output=True, text=True)
        assert done.returncode == 0, (args, done.stderr)
        assert [s.step for s in averaged_sources(out)] == steps, args
    unstepped = tmp_path / "x.safetensors"
    _save(unstepped, seed=9)
    out.unlink()
    for args, words in ((["--from-step", "2500"], "give an earlier --from-step"),
                        (["--from-step", "2500"], "no checkpoint at or after step 2500 (the latest is step 2000)"),
                        (["--from-step", "2000"], "at least two"),
                        (["--from-step", "-5"], "--from-step -5"),
                        ([str(unstepped), "--from-step", "500"], "without --from-step")):
        bad = subprocess.run([gre, "average-weights", str(folder), *args, "-o", str(out)], capture_output=True, text=True)
        assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and words in bad.stderr, bad.stderr
    assert not out.exists()


def test_select_by_step_names_its_own_parameters_unless_told_the_options_of_a_command(tmp_path):
    from models.weights_average import select_by_step

    folder = _run_weights_folder(tmp_path, (500, 1000))
    files = sorted(folder.glob("*.safetensors"))
    unstepped = tmp_path / "x.safetensors"
    _save(unstepped, seed=9)
    assert select_by_step(files, from_step=600) == files[1:]
    for kwargs, words in (({"last": 1}, "without last"), ({"from_step": 0}, "without from_step")):
        with pytest.raises(CheckpointError, match=words) as err:
            select_by_step([*files, unstepped], **kwargs)
        assert "--" not in str(err.value)
    with pytest.raises(CheckpointError, match="give an earlier from_step$"):
        select_by_step(files, from_step=5000)
    with pytest.raises(CheckpointError, match="give an earlier --from-step$"):
        select_by_step(files, from_step=5000, names=("--last", "--from-step"))
