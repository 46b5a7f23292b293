"""``--jsonl`` written record by record and ``--resume`` reading it back: no record lost,
none written twice, after a crash of the client (a cut-off last line) or a server that
went away (transient errors, a stopped run).  The server is a fake here; the real one is
in tests/functional/test_client_resume.py (this file has its own name: pytest imports test modules by basename)."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest
from PIL import Image

from layoutlmv3_client import cli
from layoutlmv3_client import records as jsonl
from layoutlmv3_client.api import DocumentClient
from layoutlmv3_client.errors import BadInputError, OverloadedError, ServerUnavailableError


def png(width: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, 50), "white").save(buf, format="PNG")
    return buf.getvalue()


def result(width: int) -> dict:
    return {
        "model": "layoutlmv3_ensemble",
        "labels": ["O"],
        "pages": [
            {
                "page": 0,
                "width": width,
                "height": 50,
                "words": [],
                "entities": [],
                "fields": [{"key": "Width:", "value": str(width), "score": 0.9}],
            }
        ],
    }


class CountingServer(DocumentClient):
    """Answers with the page width; ``down_after`` requests, the server is gone."""

    sent: list[int] = []
    down_after: int | None = None
    lock = threading.Lock()

    def check(self):
        pass

    def infer(self, data):
        width = Image.open(io.BytesIO(data)).size[0]
        with self.lock:
            if self.down_after is not None and len(self.sent) >= self.down_after:
                raise ServerUnavailableError("cannot reach Triton at fake: refused", "connect")
            self.sent.append(width)
        if width == 13:
            raise BadInputError("preprocess: cannot decode image: junk", "preprocess")
        return result(width)


@pytest.fixture
def scans(tmp_path, monkeypatch):
    CountingServer.sent, CountingServer.down_after = [], None
    monkeypatch.setattr(cli, "DocumentClient", CountingServer)
    folder = tmp_path / "scans"
    folder.mkdir()
    for width in (10, 11, 12, 13, 14, 15):
        (folder / f"w{width}.png").write_bytes(png(width))
    return folder


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def by_file(records: list[dict]) -> dict[str, dict]:
    names = [Path(r["file"]).name for r in records]
    assert len(names) == len(set(names)), f"a document recorded twice: {names}"
    return {Path(r["file"]).name: r for r in records}


def test_read_for_resume_keeps_settled_records_and_drops_the_rest(tmp_path):
    out = tmp_path / "out.jsonl"
    rows = [
        {"file": "a.png", "result": {"pages": []}},
        {"file": "b.png", "error": {"stage": "overload", "message": "queue full"}},
        {"file": "c.png", "error": {"stage": "preprocess", "message": "cannot decode image"}},
        {"file": "./a.png", "result": {"pages": ["again"]}},
        {"file": "d.png", "error": {"stage": "timeout", "message": "late"}},
        {"file": "e.png", "error": {"stage": "connect", "message": "refused"}},
    ]
    text = (
        "".join(json.dumps(r) + "\n" for r in rows[:3])
        + "{not json\n"
        + "".join(json.dumps(r) + "\n" for r in rows[3:])
        + '{"file": "f.png", "resu'
    )
    out.write_text(text)
    found = jsonl.read_for_resume(out)
    assert [r["file"] for r in found.records] == ["a.png", "c.png"]  # the first of a's two records
    assert found.to_retry == 3 and found.broken_lines == [4, 8]
    assert found.done == {jsonl.document_key("a.png"), jsonl.document_key("c.png")}
    assert jsonl.read_for_resume(tmp_path / "missing.jsonl").records == []

    jsonl.rewrite(out, found.records)
    assert lines(out) == found.records and out.read_text().endswith("\n")
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]  # no temporary file left


def test_jsonl_file_appends_whole_lines(tmp_path):
    out = tmp_path / "out.jsonl"
    with jsonl.JsonlFile(out, append=False) as f:
        f.write({"file": "a", "text": "ñ"})
    with jsonl.JsonlFile(out, append=True) as f:
        f.write({"file": "b"})
    assert lines(out) == [{"file": "a", "text": "ñ"}, {"file": "b"}]
    with jsonl.JsonlFile(out, append=False) as f:
        pass
    assert out.read_text() == ""


def test_resume_after_a_crash_sends_only_what_is_missing(scans, tmp_path, capsys):
    out, csv_path = tmp_path / "out.jsonl", tmp_path / "fields.csv"
    assert cli.main(["infer", str(scans), "--jsonl", str(out)]) == 1  # w13 is refused
    first = lines(out)
    assert len(first) == 6 and sorted(CountingServer.sent) == [10, 11, 12, 13, 14, 15]

    # The client died while writing w15's record, after the server had refused w12 for a while.
    text = out.read_text().splitlines(keepends=True)
    w12 = next(i for i, line in enumerate(text) if "w12.png" in line)
    text[w12] = (
        json.dumps({"file": str(scans / "w12.png"), "error": {"stage": "overload", "message": "queue full"}}) + "\n"
    )
    out.write_text("".join(text)[:-25])
    CountingServer.sent = []
    code = cli.main(
        [
            "infer",
            str(scans),
            "--jsonl",
            str(out),
            "--resume",
            "--output",
            str(tmp_path / "all.json"),
            "--fields-csv",
            str(csv_path),
        ]
    )
    assert code == 1  # w13 still counts as failed
    assert sorted(CountingServer.sent) == [12, 15]  # nothing settled was sent again
    final = by_file(lines(out))
    assert sorted(final) == [f"w{w}.png" for w in (10, 11, 12, 13, 14, 15)]
    assert final["w12.png"]["result"]["pages"][0]["width"] == 12
    assert final["w10.png"] == by_file(first)["w10.png"]  # kept as it was
    assert final["w13.png"]["error"]["stage"] == "preprocess"
    assert by_file(json.loads((tmp_path / "all.json").read_text())) == final  # --output covers the whole run
    csv_rows = csv_path.read_text().splitlines()
    assert len(csv_rows) == 1 + 5 and sorted(r.split(",")[0] for r in csv_rows[1:]) == sorted(
        str(scans / f"w{w}.png") for w in (10, 11, 12, 14, 15)
    )
    err = capsys.readouterr().err
    assert "4 document(s) done, 2 to send" in err and "1 transient error(s)" in err and "line(s) 6" in err

    CountingServer.sent = []
    assert cli.main(["infer", str(scans), "--jsonl", str(out), "--resume"]) == 1
    assert CountingServer.sent == [] and "nothing left to send" in capsys.readouterr().err
    assert len(lines(out)) == 6


def test_a_server_that_goes_away_stops_the_run_and_resume_finishes_it(scans, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    CountingServer.down_after = 3
    assert cli.main(["infer", str(scans), "--jsonl", str(out), "--retries", "0"]) == 2
    err = capsys.readouterr().err
    assert "stopped with" in err and "rerun with --resume" in err
    stopped = lines(out)
    assert len(stopped) < 6 and sum("result" in r or r["error"]["stage"] == "preprocess" for r in stopped) == 3
    assert {r["error"]["stage"] for r in stopped if "error" in r} <= {"connect", "preprocess"}

    CountingServer.down_after, CountingServer.sent = None, []  # the server is back
    assert cli.main(["infer", str(scans), "--jsonl", str(out), "--resume"]) == 1
    final = by_file(lines(out))
    assert len(final) == 6 and all("result" in r or r["error"]["stage"] == "preprocess" for r in final.values())
    assert len(CountingServer.sent) == 3


def test_resume_needs_a_jsonl_file(scans, capsys):
    assert cli.main(["infer", str(scans), "--resume"]) == 2
    assert "--resume continues a --jsonl file" in capsys.readouterr().err
    assert cli.main(["infer", str(scans), "--retries", "-1"]) == 2


def test_an_overloaded_document_is_reported_as_overload_not_unreachable(scans, tmp_path, monkeypatch, capsys):
    def busy(self, data):
        raise OverloadedError(
            "Triton at fake is overloaded and refused the request for now: Exceeds maximum "
            "queue size (still failing after 2 retries)",
            "overload",
        )

    monkeypatch.setattr(CountingServer, "infer", busy)
    out = tmp_path / "out.jsonl"
    assert cli.main(["infer", str(scans / "w10.png"), "--jsonl", str(out)]) == 1
    (record,) = lines(out)
    assert record["error"]["stage"] == "overload"
    err = capsys.readouterr().err
    assert "[overload]" in err and "cannot reach" not in err and "stopped" not in err
