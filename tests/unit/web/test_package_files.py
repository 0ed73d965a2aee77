"""The web console's templates and static files are in the repository, not only on this disk: a
clean clone (CI, a user's checkout) serves the same pages. (A .gitignore rule for the Cython
annotation pages once kept the templates out.)"""
import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[3] / "web"


def test_every_template_and_static_file_is_tracked_by_git():
    if shutil.which("git") is None or not (WEB.parent / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = set(subprocess.run(["git", "ls-files", "templates", "static"], cwd=WEB, capture_output=True, text=True,
                                 check=True).stdout.split())
    on_disk = {str(p.relative_to(WEB)) for d in ("templates", "static") for p in (WEB / d).iterdir() if p.is_file()}
    assert on_disk and on_disk == tracked, f"not in git: {sorted(on_disk - tracked)}"
