"""Where and with what a `rag bench` run happened: machine, package versions, commit, time.

`machine()` describes the computer (cores, RAM, CPU model, load average), `package_versions()`
the installed versions of the packages whose speed the figures depend on, `git_commit()` the
commit of the checkout (and whether it had local changes), `started_at()` the UTC time. It
reads only; it never imports torch (that would add torch's memory to every figure after it).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from evals.bench.results import Commit, Machine

PACKAGES = (
    "chromadb",
    "onnxruntime",
    "llama-cpp-python",
    "torch",
    "sentence-transformers",
    "transformers",
    "bm25s",
    "langchain-chroma",
    "langchain-huggingface",
)


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _ram_gb() -> float | None:
    try:
        import psutil

        return round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        try:
            return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
        except (ValueError, OSError, AttributeError):
            return None


def machine() -> Machine:
    """This computer, now."""
    torch = sys.modules.get("torch")  # only when something already loaded it
    return Machine(
        cpus=os.cpu_count(),
        cpu_model=_cpu_model(),
        ram_gb=_ram_gb(),
        torch_threads=torch.get_num_threads() if torch is not None else None,
        python=platform.python_version(),
        platform=platform.platform(terse=True),
        load_average=load_average(),
    )


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages now."""
    return [round(x, 2) for x in os.getloadavg()]


def package_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each package (None: not installed)."""
    out: dict[str, str | None] = {}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _git(repo: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def git_commit(repo: Path) -> Commit | None:
    """The checked-out commit, and whether tracked files differ from it; None outside git."""
    sha = _git(repo, "rev-parse", "HEAD")
    if not sha:
        return None
    status = _git(repo, "status", "--porcelain", "--untracked-files=no")
    return Commit(sha=sha, local_changes=bool(status))


def started_at() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
