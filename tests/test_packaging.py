"""The content folders ship inside the wheel and are found the same way as in a checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_wheel_ships_content_folders_and_finds_them(tmp_path):
    src = tmp_path / "src"
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes((REPO / name).read_bytes())
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-c", f"from setuptools import build_meta as b; b.build_wheel({str(dist)!r})"],
                   cwd=src, check=True, capture_output=True)
    wheel = next(dist.glob("emc_bench-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("builders", "tasks", "cards", "baselines"):
        shipped = [n for n in files if n.startswith(f"{folder}/") and "__pycache__" not in n]
        missing = [n for n in shipped if f"emc_bench/{n}" not in names]
        assert not missing, f"not in the wheel: {missing[:5]}"
    assert not any(n.startswith(("tests/", "emc_bench/tests/")) for n in names)
    code = [n for n in files if n.startswith("emc_bench/") and n.endswith((".py", ".jinja", ".json"))]
    assert not [n for n in code if n not in names], "every module of the package is in the wheel"
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    found = subprocess.run([sys.executable, "-c", "from emc_bench.paths import builders_dir, cards_dir;"
                            "print(builders_dir()); print(cards_dir())"],
                           cwd=tmp_path, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
                           capture_output=True, text=True, check=True).stdout.split()
    assert found == [str(site / "emc_bench" / "builders"), str(site / "emc_bench" / "cards")]
