"""The shipped energy tables are exactly what the build script derives from the shared data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_builtin_energy_tables_are_up_to_date(shared_data: Path) -> None:
    done = subprocess.run(
        [sys.executable, "scripts/build_energy_tables.py", "--shared", str(shared_data), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
