"""Input discovery for `gre enhance`: recursion, lists, dedupe, symlink loops, mirroring, shards."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from models.enhance_inputs import Job, Shard, discover


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF")
    return path


def outputs(discovery) -> list[str]:
    return sorted(j.output for j in discovery.jobs)


def test_folders_are_walked_recursively_and_mirrored(tmp_path):
    touch(tmp_path / "in" / "a.wav")
    touch(tmp_path / "in" / "deep" / "er" / "b c.flac")
    touch(tmp_path / "in" / "notes.txt")  # not audio: ignored in a folder walk
    d = discover([str(tmp_path / "in")], str(tmp_path / "out"))
    assert outputs(d) == [str(tmp_path / "out" / "a.wav"), str(tmp_path / "out" / "deep" / "er" / "b c.flac")]
    assert not d.problems


def test_same_file_twice_is_listed_once(tmp_path):
    f = touch(tmp_path / "in" / "ü x.wav")
    os.symlink(f, tmp_path / "in" / "alias.wav")
    d = discover([str(f), str(tmp_path / "in"), str(f)], str(tmp_path / "out"))
    assert len(d.jobs) == 1 and d.duplicates == 3  # the alias and the second mention


def test_symlink_loop_is_reported_once_and_not_walked(tmp_path):
    touch(tmp_path / "in" / "sub" / "a.wav")
    os.symlink(tmp_path / "in", tmp_path / "in" / "sub" / "loop")
    os.symlink("self", tmp_path / "in" / "self")  # a link pointing at itself
    d = discover([str(tmp_path / "in")], str(tmp_path / "out"))
    assert len(d.jobs) == 1
    reasons = [p.error for p in d.problems]
    assert len(reasons) == 2 and all("symlink loop" in r for r in reasons)
    assert sum("loop" in r and "sub/loop" in r for r in reasons) == 1


def test_a_second_link_to_a_folder_is_not_a_loop(tmp_path):
    touch(tmp_path / "in" / "a" / "x.wav")
    os.symlink(tmp_path / "in" / "a", tmp_path / "in" / "b")
    d = discover([str(tmp_path / "in")], str(tmp_path / "out"))
    assert len(d.jobs) == 1 and not d.problems


def test_list_files_and_missing_inputs(tmp_path):
    a = touch(tmp_path / "data" / "x" / "a.wav")
    b = touch(tmp_path / "data" / "y" / "a.wav")
    listing = tmp_path / "list.txt"
    listing.write_text(f"# comment\n{a}\n\ndata/y/a.wav\n{tmp_path / 'gone.wav'}\n")
    d = discover([f"@{listing}"], str(tmp_path / "out"))
    # mirrored below the deepest folder the entries share, so equal names do not collide
    assert outputs(d) == [str(tmp_path / "out" / "x" / "a.wav"), str(tmp_path / "out" / "y" / "a.wav")]
    assert len(d.problems) == 1 and "gone.wav" in d.problems[0].error
    assert b.exists()


def test_colliding_outputs_are_refused_not_overwritten(tmp_path):
    a = touch(tmp_path / "x" / "a.wav")
    b = touch(tmp_path / "y" / "a.wav")
    d = discover([str(a), str(b)], str(tmp_path / "out"))
    assert len(d.jobs) == 1 and "would overwrite" in d.problems[0].error


def test_output_folder_inside_the_input_is_not_walked(tmp_path):
    touch(tmp_path / "in" / "a.wav")
    touch(tmp_path / "in" / "enhanced" / "a.wav")  # the previous run's output
    d = discover([str(tmp_path / "in")], str(tmp_path / "in" / "enhanced"))
    assert [j.input for j in d.jobs] == [str(tmp_path / "in" / "a.wav")]


def test_shards_partition_the_inputs_deterministically():
    jobs = [Job(f"{i}.wav", f"o/{i}.wav", f"/abs/{i:03d}.wav") for i in range(23)]
    shards = [Shard.parse(f"{k}/4").select(list(reversed(jobs))) for k in range(1, 5)]
    keys = [j.key for s in shards for j in s]
    assert sorted(keys) == sorted(j.key for j in jobs) and len(set(keys)) == 23
    assert [len(s) for s in shards] == [6, 6, 6, 5]
    assert Shard.parse("2/4").select(jobs) == shards[1]  # independent of listing order


@pytest.mark.parametrize("bad", ["0/4", "5/4", "1/0", "x", "1/2/3"])
def test_bad_shard_specs_are_usage_errors(bad):
    with pytest.raises(ValueError, match="shard"):
        Shard.parse(bad)
