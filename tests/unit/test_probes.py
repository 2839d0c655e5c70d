"""Custom monitoring probes: the files of remotes/im that no package owns, on real sh."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from oneupgrade.opennebula import probes


def test_files_no_package_owns_are_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    im = tmp_path / "im"
    for rel in ("kvm-probes.d/host/monitor/cpu.sh", "kvm-probes.d/host/monitor/my gpu.rb",
                "kvm.d/monitord-client.rb", "lxc-probes.d/host/system/custom_numa.sh"):  # fmt: skip
        (im / rel).parent.mkdir(parents=True, exist_ok=True)
        (im / rel).write_text("#!/bin/sh\n")
    owned = [im / "kvm-probes.d/host/monitor/cpu.sh", im / "kvm.d/monitord-client.rb"]
    monkeypatch.setitem(probes._OWNED, "deb", "printf '%s\\n' " + " ".join(f"'{p}'" for p in owned))
    command = probes.unowned_command("deb").replace(probes.PROBES_DIR, str(im))
    out = subprocess.run(["sh", "-c", command], check=True, capture_output=True, text=True).stdout
    assert out.splitlines() == [
        f"{im}/kvm-probes.d/host/monitor/my gpu.rb",
        f"{im}/lxc-probes.d/host/system/custom_numa.sh",
    ]


def test_no_probes_directory_prints_nothing(tmp_path: Path) -> None:
    command = probes.unowned_command("deb").replace(probes.PROBES_DIR, str(tmp_path / "none"))
    run = subprocess.run(["sh", "-c", command], check=True, capture_output=True, text=True)
    assert run.stdout == ""
