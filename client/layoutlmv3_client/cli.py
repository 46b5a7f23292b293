"""``layoutlmv3-client``: send page images and PDFs to the served ensemble, print entities."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from layoutlmv3_triton import contract

from . import files
from . import records as jsonl
from .api import DEFAULT_TIMEOUT_S, DocumentClient
from .errors import ClientError, ModelNotReadyError, ServerUnavailableError
from .fields import FieldsCsv
from .request import DEFAULT_HOST, DEFAULT_PORTS, PROTOCOLS
from .retry import DEFAULT_RETRIES

EPILOG = f"""examples:
  layoutlmv3-client infer page.png
  layoutlmv3-client infer scans/ invoice.pdf --url {DEFAULT_HOST}:{DEFAULT_PORTS['grpc']} --protocol grpc
  layoutlmv3-client infer 'scans/**/*.jpg' --protocol http --concurrency 8 --jsonl results.jsonl
  layoutlmv3-client infer form.pdf --output results.json --annotate annotated/
  layoutlmv3-client infer scans/ --jsonl results.jsonl --fields-csv fields.csv
  layoutlmv3-client infer scans/ --jsonl results.jsonl --resume     # after a crash: only what is missing
  layoutlmv3-client health --url {DEFAULT_HOST}:{DEFAULT_PORTS['http']} --protocol http

Each result prints as {{"file": PATH, "result": {{...}}}}
or {{"file": PATH, "error": {{"stage": ..., "message": ...}}}}; the result document is described
in docs/result-format.md.  Error stages overload, timeout, connect and ready are transient: the document
was retried (--retries) and --resume sends it again.
exit status: 0 all documents succeeded, 1 some failed, 2 nothing could be sent (usage, server, model)
or the server went away mid-run (rerun with --resume to send the rest).
"""


def _connection_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--url",
        default=None,
        help=f"server HOST:PORT (default {DEFAULT_HOST}:{DEFAULT_PORTS['grpc']} for grpc, "
        f":{DEFAULT_PORTS['http']} for http; a missing port takes the protocol's default)",
    )
    p.add_argument("--protocol", choices=PROTOCOLS, default="grpc", help="default: grpc")
    p.add_argument("--model", default=contract.ENSEMBLE, help="model to call (default: %(default)s)")
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help="seconds to wait for each answer (default: %(default)g)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="layoutlmv3-client",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Send page images or PDFs to the LayoutLMv3 ensemble on Triton and get labelled entities.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser(
        "infer",
        help="run documents through the ensemble",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run page images (" + " ".join(contract.IMAGE_SUFFIXES) + ") and PDFs through "
        "the ensemble. FILE may be a file, a folder or a quoted glob.",
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    _connection_args(p)
    p.add_argument("--output", "-o", metavar="OUT.json", help="write all records as one JSON list")
    p.add_argument("--jsonl", metavar="OUT.jsonl", help="write one record per line, as each finishes")
    p.add_argument(
        "--fields-csv",
        metavar="OUT.csv",
        help="also write every question->answer field as a CSV row: file, page, key, value, score",
    )
    p.add_argument("--compact", action="store_true", help="print one record per line instead of pretty JSON")
    p.add_argument("--concurrency", "-c", type=int, default=1, metavar="N", help="requests in flight (default: 1)")
    p.add_argument(
        "--annotate",
        metavar="DIR",
        help="draw the entities on each page into DIR/<stem>.png (PDF pages: <stem>-p<N>.png)",
    )
    p.add_argument("--recursive", "-r", action="store_true", help="look into sub-folders of folder arguments")
    p.add_argument(
        "--retries",
        type=int,
        default=DEFAULT_RETRIES,
        metavar="N",
        help="send a document again up to N times when the server is overloaded, times out or is "
        "briefly unreachable, pausing about 1, 2, 4, ... s (with jitter) between tries "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run: keep the records already in --jsonl, skip their "
        "documents, and send the rest (and those that failed for a transient reason) again",
    )
    p.set_defaults(_run=run_infer)
    h = sub.add_parser(
        "health",
        help="print server and model readiness",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _connection_args(h)
    h.add_argument("--json", action="store_true", help="print the state as JSON")
    h.set_defaults(_run=run_health)
    return parser


class _Records:
    """Where records go: stdout, or the --output / --jsonl / --fields-csv files when given.

    With ``resume``, the records kept from the earlier --jsonl file come first in
    --output and --fields-csv as well, so that each of them covers the whole run.
    """

    def __init__(self, args: argparse.Namespace, kept: list[dict] = ()):
        self.compact = args.compact
        self.output = args.output
        self.to_stdout = not (args.output or args.jsonl)
        self.all: list[dict] = list(kept)
        self.jsonl = jsonl.JsonlFile(args.jsonl, append=args.resume) if args.jsonl else None
        self.fields = FieldsCsv(open(args.fields_csv, "w", encoding="utf-8", newline="")) if args.fields_csv else None
        for record in kept:
            if self.fields:
                self.fields.add(record)

    def emit(self, record: dict) -> None:
        self.all.append(record)
        if self.jsonl:
            self.jsonl.write(record)  # whole and on disk: a crash or Ctrl-C keeps what finished
        if self.fields:
            self.fields.add(record)
        if self.to_stdout:
            print(json.dumps(record) if self.compact else json.dumps(record, indent=2), flush=True)

    def close(self) -> None:
        if self.jsonl:
            self.jsonl.close()
        if self.fields:
            self.fields.close()
        if self.output:
            write_json(self.output, self.all)


def write_json(path: str | Path, records: list[dict]) -> None:
    Path(path).write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_jsonl(path: str | Path, records: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def error_record(path: str, exc: BaseException, stage: str | None = None) -> dict:
    if isinstance(exc, ClientError):
        error = exc.to_dict()
    else:
        error = {"message": f"{type(exc).__name__}: {exc}"}
    if stage:
        error = {"stage": stage, **{k: v for k, v in error.items() if k != "stage"}}
    return {"file": path, "error": error}


def _say(message: str, bar: Any = None) -> None:
    if bar is not None and not bar.disable:
        bar.write(message, file=sys.stderr)
    else:
        print(message, file=sys.stderr)


def _annotate(path: str, result: dict, out_dir: str, stems: set[str]) -> list[str]:
    from .annotate import write_annotations  # Pillow drawing only when asked for

    stem, n = Path(path).stem, 2
    while stem in stems:  # same name from different folders must not overwrite
        stem, n = f"{Path(path).stem}-{n}", n + 1
    stems.add(stem)
    data = Path(path).read_bytes()
    return [str(p) for p in write_annotations(data, result, out_dir, stem, pdf=contract.is_pdf(data))]


def _usage_problem(args: argparse.Namespace) -> str | None:
    if args.concurrency < 1 or args.timeout <= 0 or args.retries < 0:
        return "--concurrency must be at least 1, --timeout above 0 and --retries at least 0"
    if args.resume and not args.jsonl:
        return "--resume continues a --jsonl file: give the one the interrupted run wrote"
    return None


def _resume(args: argparse.Namespace, found: files.Expansion) -> tuple[list[dict], files.Expansion]:
    """The records to keep from the earlier --jsonl, and what is left to send."""
    resumed = jsonl.read_for_resume(args.jsonl)
    if resumed.to_retry or resumed.broken_lines:
        jsonl.rewrite(args.jsonl, resumed.records)
    done = resumed.done
    left = files.Expansion(
        [p for p in found.files if jsonl.document_key(p) not in done],
        [p for p in found.problems if jsonl.document_key(p.path) not in done],
    )
    dropped = []
    if resumed.to_retry:
        dropped.append(f"{resumed.to_retry} transient error(s) to send again")
    if resumed.broken_lines:
        dropped.append(f"unreadable line(s) {', '.join(map(str, resumed.broken_lines))} dropped")
    _say(
        f"resuming {args.jsonl}: {len(resumed.records)} document(s) done, {len(left.files)} to send"
        + (f" ({'; '.join(dropped)})" if dropped else "")
    )
    return resumed.records, left


def run_infer(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    problem = _usage_problem(args)
    if problem:
        _say(f"error: {problem}")
        return 2
    found = files.expand(args.files, recursive=args.recursive)
    try:
        kept, found = _resume(args, found) if args.resume else ([], found)
        records = _Records(args, kept)
    except OSError as exc:
        _say(f"error: cannot write {exc.filename}: {exc.strerror}")
        return 2
    failed = sum(1 for r in kept if "error" in r)
    stopped: ClientError | None = None
    try:
        for problem in found.problems:
            records.emit({"file": problem.path, "error": {"stage": "input", "message": problem.message}})
            _say(f"error: {problem.path}: {problem.message}")
            failed += 1
        if not found.files:
            if kept:
                _say("nothing left to send")
                return 1 if failed else 0
            _say("error: no documents to send")
            return 2
        with DocumentClient(args.url, args.protocol, args.model, args.timeout, retries=args.retries) as client:
            try:
                client.check()
            except (ServerUnavailableError, ModelNotReadyError) as exc:
                _say(f"error: {exc.message}")
                return 2
            new_failures, stopped = _infer_all(client, found.files, records, args, tqdm)
            failed += new_failures
            if client.retried:
                _say(
                    f"retried {sum(client.retried.values())} time(s): "
                    + ", ".join(f"{stage} {n}" for stage, n in sorted(client.retried.items()))
                )
    except KeyboardInterrupt:
        _say("interrupted" + (f"; rerun with --resume to send the rest of {args.jsonl}" if args.jsonl else ""))
        return 130
    finally:
        records.close()
    total = len(records.all)
    if total > 1 or failed:
        _say(f"{total} document(s): {total - failed} ok, {failed} failed")
    if stopped is not None:
        left = len(found.files) + len(found.problems) + len(kept) - total
        _say(
            f"stopped with {left} document(s) not sent: {stopped.message}"
            + ("; rerun with --resume to send them (and the failed ones) once the server is back" if args.jsonl else "")
        )
        return 2
    return 1 if failed else 0


def _record(path: str, outcome: Any, args: argparse.Namespace, stems: set[str]) -> dict:
    if not outcome.ok:
        return error_record(path, outcome.error)
    record: dict = {"file": path, "result": outcome.result}
    if args.annotate:
        try:
            record["annotations"] = _annotate(path, outcome.result, args.annotate, stems)
        except Exception as exc:  # noqa: BLE001 - the result still stands; report the drawing
            record.update(error_record(path, exc, stage="annotate"))
    return record


def _infer_all(
    client: DocumentClient, paths: list[str], records: _Records, args: argparse.Namespace, tqdm: Any
) -> tuple[int, ClientError | None]:
    """Send ``paths``; (failures, the error that stopped the run when the server went away)."""
    failed, held, next_index, stems, stopped = 0, {}, 0, set(), None
    loaders = [(lambda p=p: Path(p).read_bytes()) for p in paths]
    with tqdm(total=len(paths), unit="doc", file=sys.stderr, disable=len(paths) <= 1, dynamic_ncols=True) as bar:
        for outcome in client.infer_many(loaders, concurrency=args.concurrency):
            bar.update(1)
            path = paths[outcome.index]
            record = _record(path, outcome, args, stems)
            if "error" in record:
                failed += 1
                err = record["error"]
                _say(f"error: {path}: " + (f"[{err['stage']}] " if "stage" in err else "") + err["message"], bar)
            if client.retried:
                bar.set_postfix(retried=sum(client.retried.values()), refresh=False)
            # Print in input order while the bar counts completions.
            held[outcome.index] = record
            while next_index in held:
                records.emit(held.pop(next_index))
                next_index += 1
            if isinstance(outcome.error, (ServerUnavailableError, ModelNotReadyError)):
                # Retries did not bring the server back: every other document would fail the same way.
                stopped = outcome.error
                break
    for index in sorted(held):  # finished, but waiting for an earlier one that will not come
        records.emit(held[index])
    return failed, stopped


def run_health(args: argparse.Namespace) -> int:
    models = list(contract.ALL_MODELS) if args.model == contract.ENSEMBLE else [args.model]
    models.sort(key=lambda m: m != args.model)
    with DocumentClient(args.url, args.protocol, args.model, args.timeout) as client:
        try:
            state = client.health(models)
        except ServerUnavailableError as exc:
            if args.json:
                print(
                    json.dumps(
                        {"url": client.url, "protocol": client.protocol, "live": False, "error": exc.message}, indent=2
                    )
                )
            _say(f"error: {exc.message}")
            return 2
    if args.json:
        print(json.dumps(state, indent=2))
    else:
        server = ", ".join(("live" if state["live"] else "NOT live", "ready" if state["ready"] else "NOT ready"))
        print(f"Triton at {state['url']} ({state['protocol']}): {server}")
        width = max(len(m) for m in models)
        for name, ok in state["models"].items():
            print(f"  {name:<{width}}  {'ready' if ok else 'NOT READY'}")
    return 0 if state["live"] and state["ready"] and all(state["models"].values()) else 1


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
