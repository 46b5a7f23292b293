"""Send documents to the served ensemble and get the result document back.

tritonclient is imported on first use so that ``--help`` and annotation stay fast and
work without it.  Both protocols raise :mod:`.errors` exceptions, never tritonclient's,
so callers handle one set of errors.  :meth:`DocumentClient.infer` sends a document
again after a transient error (overloaded, timed out, unreachable), up to ``retries``
times with backoff.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from layoutlmv3_triton import contract

from .errors import BadInputError, ClientError, ModelNotReadyError, ServerUnavailableError, TransientError
from .request import build_inputs, parse_result, split_url, translate_error, unreachable
from .retry import DEFAULT_RETRIES, RetryPolicy

DEFAULT_TIMEOUT_S = 120.0

Item = bytes | Callable[[], bytes]


@dataclass
class Outcome:
    """One document of :meth:`DocumentClient.infer_many`: its input index and result or error."""

    index: int
    result: dict | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class DocumentClient:
    """A client for one model (the ensemble by default) on one Triton server."""

    def __init__(
        self,
        url: str | None = None,
        protocol: str = "grpc",
        model: str = contract.ENSEMBLE,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        model_version: str = "",
        retries: int = DEFAULT_RETRIES,
        on_retry: Callable[[TransientError, int, float], None] | None = None,
    ):
        self.protocol = protocol
        self.url, self._ssl = split_url(url, protocol)
        self.model = model
        self.model_version = model_version
        self.timeout_s = float(timeout_s)
        self.retry = RetryPolicy(retries)
        self.on_retry = on_retry  # called with (error, retry number, pause) before each pause
        self.retried: Counter[str] = Counter()  # retries so far, by the error's stage
        self._lock = threading.Lock()
        self._grpc: Any = None
        self._local = threading.local()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_size = 0
        self._module: Any = None

    # -- connection ------------------------------------------------------------------
    def _triton(self) -> Any:
        if self._module is None:
            if self.protocol == "grpc":
                import tritonclient.grpc as module
            else:
                import tritonclient.http as module
            self._module = module
        return self._module

    def _new_client(self) -> Any:
        module = self._triton()
        if self.protocol == "grpc":
            return module.InferenceServerClient(self.url, ssl=self._ssl)
        return module.InferenceServerClient(
            self.url, ssl=self._ssl, connection_timeout=self.timeout_s, network_timeout=self.timeout_s
        )

    def _client(self) -> Any:
        # gRPC stubs are thread-safe, so every thread shares one channel.  An HTTP client
        # (geventhttpclient) only works in the thread that made it, so each thread has
        # its own; the worker threads persist across infer_many calls and keep theirs.
        if self.protocol == "grpc":
            with self._lock:
                if self._grpc is None:
                    self._grpc = self._new_client()  # no I/O: the channel connects lazily
                return self._grpc
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._new_client()
        return client

    def _call(self, method: str, *args: Any, timeout_s: float | None = None, **kwargs: Any) -> Any:
        if self.protocol == "grpc":
            kwargs["client_timeout"] = timeout_s or self.timeout_s
        try:
            return getattr(self._client(), method)(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - translated into this module's errors
            raise self._translate(exc) from None

    def _translate(self, exc: Exception) -> Exception:
        return translate_error(exc, self.url, self.protocol, self.model, self.timeout_s, self._live)

    def _live(self) -> bool:
        """Whether the server answers a liveness probe (errors only mean "no")."""
        try:
            kwargs = {"client_timeout": self._probe_timeout()} if self.protocol == "grpc" else {}
            return bool(self._client().is_server_live(**kwargs))
        except Exception:  # noqa: BLE001 - any failure to answer is "not live"
            return False

    def _unreachable(self, detail: str) -> str:
        return unreachable(self.url, self.protocol, detail)

    # -- readiness -------------------------------------------------------------------
    def _probe_timeout(self) -> float:
        return min(self.timeout_s, 10.0)

    def health(self, models: Iterable[str] | None = None) -> dict[str, Any]:
        """Server liveness/readiness and each model's readiness; raises ServerUnavailableError."""
        t = self._probe_timeout()
        out: dict[str, Any] = {
            "url": self.url,
            "protocol": self.protocol,
            "live": bool(self._call("is_server_live", timeout_s=t)),
            "ready": bool(self._call("is_server_ready", timeout_s=t)),
            "models": {},
        }
        names = list(models) if models is not None else [self.model]
        for name in names:
            version = self.model_version if name == self.model else ""
            try:
                out["models"][name] = bool(self._call("is_model_ready", name, version, timeout_s=t))
            except ModelNotReadyError:
                out["models"][name] = False
        return out

    def check(self) -> None:
        """Raise ServerUnavailableError or ModelNotReadyError unless the model can serve."""
        state = self.health()
        if not state["live"]:
            raise ServerUnavailableError(self._unreachable("server is not live"), "connect")
        if not state["models"][self.model]:
            raise ModelNotReadyError(
                f"model {self.model!r} is not ready on {self.url} (server ready: {state['ready']}); "
                "see the server log, or run `layoutlmv3-client health`",
                "ready",
            )

    def ready(self) -> bool:
        try:
            self.check()
        except (ServerUnavailableError, ModelNotReadyError):
            return False
        return True

    # -- inference -------------------------------------------------------------------
    def infer(self, data: bytes) -> dict:
        """The result document for one encoded page image or PDF."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise BadInputError(f"expected the document's bytes, got {type(data).__name__}", "input")
        if len(data) == 0:
            raise BadInputError("the document is empty (0 bytes)", "input")
        inputs, outputs = build_inputs(self._triton(), bytes(data))

        def once() -> dict:
            return parse_result(
                self._call("infer", self.model, inputs, model_version=self.model_version, outputs=outputs)
            )

        return self.retry.call(once, self._retrying)

    def _retrying(self, error: TransientError, number: int, pause_s: float) -> None:
        with self._lock:
            self.retried[error.stage or "?"] += 1
        if self.on_retry is not None:
            self.on_retry(error, number, pause_s)

    def _one(self, index: int, item: Item) -> Outcome:
        try:
            data = item() if callable(item) else item
        except OSError as exc:
            return Outcome(index, error=ClientError(f"cannot read: {exc.strerror or exc}", "read"))
        except Exception as exc:  # noqa: BLE001 - a failing loader is that document's failure only
            return Outcome(index, error=ClientError(f"cannot read: {exc}", "read"))
        try:
            return Outcome(index, result=self.infer(data))
        except Exception as exc:  # noqa: BLE001 - one bad document must not stop the others
            return Outcome(index, error=exc)

    def infer_many(self, items: Iterable[Item], concurrency: int = 1, ordered: bool = False) -> Iterator[Outcome]:
        """Run documents ``concurrency`` at a time; yield an :class:`Outcome` for each.

        ``items`` may hold bytes or callables returning bytes, which are read in the
        workers so that large batches never sit in memory at once.  Outcomes come in
        completion order, or in input order with ``ordered=True``; errors are returned
        in the outcome, never raised.
        """
        concurrency = max(1, int(concurrency))
        source = enumerate(items)
        pool = self._workers(concurrency)
        pending: dict[Any, int] = {}
        held: dict[int, Outcome] = {}
        next_index = 0

        def submit() -> None:
            for index, item in source:
                pending[pool.submit(self._one, index, item)] = index
                return

        try:
            for _ in range(concurrency):  # items are read lazily: only what is in flight is in memory
                submit()
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    del pending[future]
                    outcome = future.result()
                    submit()
                    if not ordered:
                        yield outcome
                        continue
                    held[outcome.index] = outcome
                    while next_index in held:
                        yield held.pop(next_index)
                        next_index += 1
        finally:
            for future in pending:  # the caller stopped early: drop what has not started
                future.cancel()

    def _workers(self, n: int) -> ThreadPoolExecutor:
        with self._lock:
            old, pool = None, self._pool
            if pool is None or self._pool_size != n:
                old = pool
                pool = self._pool = ThreadPoolExecutor(n, thread_name_prefix="layoutlmv3-client")
                self._pool_size = n
        if old is not None:
            old.shutdown(wait=False)  # its running requests still finish
        return pool

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            self.retry.stop.set()  # requests still running give up instead of pausing to retry
            pool.shutdown(wait=True, cancel_futures=True)
            self.retry.stop.clear()
        with self._lock:
            clients = [self._grpc, getattr(self._local, "client", None)]
            self._grpc, self._local = None, threading.local()  # other threads' clients go with them
        for client in clients:
            try:
                if client is not None:
                    client.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass

    def __enter__(self) -> DocumentClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
