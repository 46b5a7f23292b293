"""Run the real tritonserver that ships in the ``nvidia-pytriton`` wheel, on loopback.

The wheel has the server binary, the python backend and one backend stub per Python
version.  We assemble a backend folder with the stub of the running interpreter and
make this environment's site-packages (and this package, even when installed
editable) importable by the stub, so ``model.py`` can import ``layoutlmv3_triton``.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from layoutlmv3_triton import contract
from layoutlmv3_triton.errors import ServerError
from layoutlmv3_triton.local.allocator import allocator_environment
from layoutlmv3_triton.repository import python_backend
from layoutlmv3_triton.repository.writer import STUB_PATH_ENV

log = logging.getLogger(__name__)

# APIs that can change the server or read its internals: repository control (index,
# load, unload), log settings (log file path), shared-memory registration (maps host
# memory) and trace settings (trace file path).  Inference, health, metadata, config
# and statistics stay open.  A restricted API answers 403 / PERMISSION_DENIED unless
# the request carries ADMIN_HEADER with the key of this start.
RESTRICTED_APIS = ("model-repository", "logging", "shared-memory", "trace")
ADMIN_HEADER = "x-layoutlmv3-admin-key"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def pytriton_root() -> Path:
    try:
        import pytriton
    except ImportError as exc:
        raise ServerError(
            "tritonserver comes from the nvidia-pytriton wheel: pip install 'layoutlmv3-triton[serve]'"
        ) from exc
    root = Path(pytriton.__file__).parent / "tritonserver"
    if not (root / "bin" / "tritonserver").is_file():
        raise ServerError(f"no tritonserver binary under {root}")
    return root


def backend_directory(cache: Path | None = None) -> Path:
    """A backends/ folder whose python backend has the stub for this interpreter."""
    root = pytriton_root()
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = root / "python_backend_stubs" / version / "triton_python_backend_stub"
    if not stub.is_file():
        raise ServerError(f"the nvidia-pytriton wheel has no python backend stub for Python {version}")
    cache = cache or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "layoutlmv3-triton"
    backends = cache / f"backends-py{version}"
    python_dir = backends / "python"
    python_dir.mkdir(parents=True, exist_ok=True)
    for source in (*(root / "backends" / "python").glob("*.*"), stub):
        if source.is_file():
            target = python_dir / source.name
            if not target.exists() or target.stat().st_size != source.stat().st_size:
                shutil.copy2(source, target)
    return backends


def stub_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for tritonserver and the python stubs it spawns."""
    env = dict(os.environ if base is None else base)
    import layoutlmv3_triton

    source_root = Path(layoutlmv3_triton.__file__).resolve().parents[1]  # src/ (or site-packages)
    package_root = str(source_root)
    client_root = str(source_root.parent / "client")
    paths = [package_root, sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    if Path(client_root).is_dir():
        paths.append(client_root)
    existing = env.get("PYTHONPATH", "")
    env[STUB_PATH_ENV] = os.pathsep.join(dict.fromkeys(paths + ([existing] if existing else [])))
    # the stub links against libpython of the base interpreter
    # The stub links against libpython of the base interpreter and, because it is copied
    # out of the wheel, needs the wheel's bundled libraries on the path too.
    libdir = sysconfig.get_config_var("LIBDIR") or str(Path(sys.base_prefix) / "lib")
    wheel_libs = str(pytriton_root().parents[1] / "nvidia_pytriton.libs")
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (libdir, wheel_libs, env.get("LD_LIBRARY_PATH", "")) if p)
    env.setdefault("OMP_THREAD_LIMIT", "1")  # one Tesseract thread per preprocess instance
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return allocator_environment(env)  # jemalloc: flat memory under load (docs/memory.md)


@dataclass
class LocalTritonServer:
    """A tritonserver process on loopback; use as a context manager."""

    repository: Path
    host: str = "127.0.0.1"
    http_port: int = field(default_factory=free_port)
    grpc_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    log_verbose: int = 0
    extra_args: tuple[str, ...] = ()
    log_file: Path | None = None
    quiet: bool = True  # without a log file: discard the server log (True) or share this terminal (False)
    restrict_apis: bool = True  # RESTRICTED_APIS need ADMIN_HEADER: admin_key
    process: subprocess.Popen | None = None
    # A fresh random key per start, kept in memory only: never in a file or in the log.
    admin_key: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)

    def command(self) -> list[str]:
        binary = pytriton_root() / "bin" / "tritonserver"
        restricted = []
        if self.restrict_apis:
            rule = f"{','.join(RESTRICTED_APIS)}:{ADMIN_HEADER}={self.admin_key}"
            restricted = [f"--http-restricted-api={rule}", f"--grpc-restricted-protocol={rule}"]
        return [
            str(binary),
            f"--model-repository={Path(self.repository).resolve()}",
            f"--backend-directory={backend_directory()}",
            "--model-control-mode=none",  # no remote load/unload
            f"--http-address={self.host}",
            f"--http-port={self.http_port}",
            f"--grpc-address={self.host}",
            f"--grpc-port={self.grpc_port}",
            f"--metrics-address={self.host}",
            f"--metrics-port={self.metrics_port}",
            "--allow-metrics=true",
            "--allow-gpu-metrics=false",
            "--strict-readiness=true",
            "--exit-on-error=true",
            f"--log-verbose={self.log_verbose}",
            # the same python-backend shared memory as the container: one largest preprocess response
            *python_backend.backend_config_flags(),
            *restricted,
            *self.extra_args,
        ]

    def redacted_command(self) -> list[str]:
        return [arg.replace(self.admin_key, "<admin-key>") for arg in self.command()]

    @property
    def admin_headers(self) -> dict[str, str]:
        """The HTTP header that unlocks RESTRICTED_APIS on this start of the server."""
        return {ADMIN_HEADER: self.admin_key}

    @property
    def grpc_admin_headers(self) -> dict[str, str]:
        """The same over gRPC: tritonserver expects the metadata key with this prefix."""
        return {f"triton-grpc-protocol-{ADMIN_HEADER}": self.admin_key}

    @property
    def http_url(self) -> str:
        return f"{self.host}:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    def start(self, timeout_s: float = 180.0) -> LocalTritonServer:
        if self.process is not None:
            raise ServerError("server already started")
        if self.restrict_apis:
            self.admin_key = secrets.token_urlsafe(32)
        out = open(self.log_file, "ab") if self.log_file else (subprocess.DEVNULL if self.quiet else None)
        log.info("starting %s", " ".join(self.redacted_command()))
        try:
            self.process = subprocess.Popen(
                self.command(), env=stub_environment(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            if hasattr(out, "close"):  # the child has its own copy; a restart must not leak ours
                out.close()
        try:
            self.wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _get(self, path: str, timeout: float = 2.0) -> int:
        try:
            with urllib.request.urlopen(f"http://{self.http_url}{path}", timeout=timeout) as r:
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except (urllib.error.URLError, OSError):
            return 0

    def is_ready(self, model: str = contract.ENSEMBLE) -> bool:
        return self._get(f"/v2/models/{model}/ready") == 200

    def wait_ready(self, timeout_s: float = 180.0, model: str = contract.ENSEMBLE) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServerError(
                    f"tritonserver exited with code {self.process.returncode} while loading "
                    f"{self.repository}{self._log_hint()}"
                )
            if self.is_ready(model):
                return
            time.sleep(0.25)
        raise ServerError(f"{model} not ready after {timeout_s:.0f}s{self._log_hint()}")

    def _log_hint(self) -> str:
        if self.log_file and Path(self.log_file).is_file():
            tail = Path(self.log_file).read_text(errors="replace").splitlines()[-25:]
            return "; server log tail:\n" + "\n".join(tail)
        return ""

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL: the whole process group, so no stub outlives the server."""
        proc, self.process = self.process, None
        if proc is None:
            return None
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        try:  # stubs live in the same process group
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return proc.returncode

    def __enter__(self) -> LocalTritonServer:
        return self if self.process else self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
