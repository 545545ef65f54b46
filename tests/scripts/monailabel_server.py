"""Helpers of the MONAI Label tests: run ``scripts/monailabel.sh`` and call a running server's REST API.

The server is the real MONAI Label 0.8.5 of ``.venv-monailabel`` (built by the script the first
time). ``DCA_MONAI_SKIP_MONAILABEL=1`` skips the tests that need it, loudly, where that environment
cannot be built. ``Server`` serves a studies folder or a PACS, for ``test_monailabel.py`` and
``test_pacs.py``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "monailabel.sh"

__all__ = ["REPO_ROOT", "SCRIPT", "Server", "free_port", "run_script", "setup_app", "skip_without_monailabel"]


def skip_without_monailabel() -> None:
    """Skip, saying so, when ``DCA_MONAI_SKIP_MONAILABEL=1``."""
    if os.environ.get("DCA_MONAI_SKIP_MONAILABEL") == "1":
        pytest.skip("DCA_MONAI_SKIP_MONAILABEL=1: MONAI Label environment not built on this machine; NOT TESTED")


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_script(
    script: Path, *args: str, timeout: float = 3600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``bash script args`` from the repository root, output captured; ``env`` adds environment variables."""
    return subprocess.run(
        ["bash", str(script), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )


def setup_app(app: Path, bundles: str) -> Path:
    """Lay out the monaibundle app at ``app`` with ``bundles`` (``--setup-only``); fail with the script's output."""
    setup = run_script(SCRIPT, "--setup-only", "--app-dir", str(app), "--bundles", bundles)
    output = setup.stdout[-3000:] + setup.stderr[-5000:]
    assert setup.returncode == 0, f"scripts/monailabel.sh --setup-only failed:\n{output}"
    return app


class Server:
    """``scripts/monailabel.sh`` started in the background on a free port; ``request`` calls its REST API.

    Args:
        app: the app folder.
        studies: ``["--studies", DIR]`` or ``["--pacs", URL]``.
        bundles: the served bundles, comma-separated.
        log: file that receives the server's output.
        env: extra environment variables.
    """

    def __init__(
        self, app: Path, studies: list[str], bundles: str, log: Path, env: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.log = log
        self.process = subprocess.Popen(
            ["bash", str(SCRIPT), "--app-dir", str(app), *studies, "--bundles", bundles]
            + ["--host", "127.0.0.1", "--port", str(self.port)],
            cwd=REPO_ROOT,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"server exited early:\n{self.log_tail()}"
            try:
                self.request("GET", "/info/", timeout=5)
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(2)
        self.stop()
        raise AssertionError(f"server not answering /info/ after 300 s:\n{self.log_tail()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        timeout: float = 600,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> bytes:
        """The answer's body; an HTTP error raises ``urllib.error.HTTPError`` (its ``read()`` is the body)."""
        if body is not None:
            data, headers = json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})}
        request = urllib.request.Request(f"{self.url}{path}", data=data or b"", method=method, headers=headers or {})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        os.killpg(self.process.pid, 15)
        self.process.wait(timeout=60)
