"""Start a private Docker-API service with Podman when no container engine is running.

On a machine with Debian's ``podman``, ``buildah`` and ``runc`` but no Docker daemon,
:class:`PodmanService` writes a ``containers.conf`` (``default_ulimits = []`` and the
``runc`` runtime, which is what works as root in a container-less VM), starts
``podman system service`` on a unix socket in a private folder, and stops it again.
The state folder remembers the process so that ``sarcoma-xnat engine stop`` works
from another shell.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

from sarcoma_xnat.errors import ContainerError

__all__ = ["CONTAINERS_CONF", "PodmanService", "default_state_dir", "podman_available"]

CONTAINERS_CONF = """\
# written by sarcoma-xnat: settings that let root podman run inside a plain VM
[containers]
default_ulimits = []

[engine]
runtime = "runc"
"""


def podman_available() -> bool:
    """Return whether the ``podman`` program is installed."""
    return shutil.which("podman") is not None


def default_state_dir() -> Path:
    """Return the folder for the socket, config and pid (``SARCOMA_XNAT_ENGINE_DIR`` or a temp dir)."""
    return Path(os.environ.get("SARCOMA_XNAT_ENGINE_DIR") or "/tmp/sarcoma-xnat-engine")


def _alive(pid: int) -> bool:
    """Return whether process ``pid`` runs (reaping it if it is our exited child)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class PodmanService:
    """A ``podman system service`` on a private socket; use as a context manager.

    Parameters
    ----------
    state_dir : path-like, optional
        Where the socket, ``containers.conf``, pid file and log live.
    """

    def __init__(self, state_dir: str | os.PathLike[str] | None = None) -> None:
        self.state_dir = Path(state_dir or default_state_dir())
        self.socket = self.state_dir / "podman.sock"
        self.conf = self.state_dir / "containers.conf"
        self.pid_file = self.state_dir / "service.pid"
        self.log_file = self.state_dir / "service.log"
        self._started_here = False

    @property
    def url(self) -> str:
        """Return the Docker API address of the service."""
        return f"unix://{self.socket}"

    def environment(self) -> dict[str, str]:
        """Return the environment podman and buildah need (the private ``containers.conf``)."""
        return {**os.environ, "CONTAINERS_CONF": str(self.conf)}

    def running(self) -> bool:
        """Return whether a service started from this state folder is alive."""
        try:
            pid = int(self.pid_file.read_text())
        except (OSError, ValueError):
            return False
        return _alive(pid) and self.socket.is_socket()

    def start(self, timeout: float = 30.0) -> str:
        """Start the service unless it runs already; return its URL."""
        if self.running():
            return self.url
        if not podman_available():
            raise ContainerError("podman is not installed (apt-get install podman buildah runc)")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(CONTAINERS_CONF)
        self.socket.unlink(missing_ok=True)
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                ["podman", "system", "service", "--time=0", self.url],
                env=self.environment(), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid_file.write_text(str(proc.pid))
        self._started_here = True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ContainerError(f"podman system service exited with {proc.returncode}; "
                                     f"see {self.log_file}")
            if self.socket.is_socket():
                return self.url
            time.sleep(0.2)
        self.stop()
        raise ContainerError(f"podman system service did not open {self.socket} in {timeout:.0f} s")

    def stop(self) -> None:
        """Stop the service started from this state folder (if any)."""
        try:
            pid = int(self.pid_file.read_text())
        except (OSError, ValueError):
            return
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                if not _alive(pid):
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        self.socket.unlink(missing_ok=True)

    def __enter__(self) -> PodmanService:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._started_here:
            self.stop()
