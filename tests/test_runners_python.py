"""Python jobs get their arguments as the types main names, checked from inside the script."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.test_api_scripts import save
from worker import forkserver, service

TYPED = """
from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass, field
from typing import Optional, TypedDict


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Stop:
    name: str
    at: datetime.datetime


@dataclass
class Route:
    color: Color
    stops: list[Stop]
    tags: set[str] = field(default_factory=set)


class Window(TypedDict):
    start: datetime.date
    end: datetime.date


def main(
    when: datetime.datetime,
    day: datetime.date,
    raw: bytes,
    color: Color,
    route: Route,
    window: Window,
    pair: tuple[int, datetime.date],
    maybe: Optional[datetime.date] = None,
    plain: dict = {},
):
    first = route.stops[0]
    return {
        "when": [type(when).__name__, when.year, when.utcoffset().total_seconds()],
        "day": [type(day).__name__, day.isoformat()],
        "raw": [type(raw).__name__, raw.decode()],
        "color": [isinstance(color, Color), color.name],
        "route": [type(route).__name__, isinstance(route.color, Color), sorted(route.tags)],
        "stop": [type(first).__name__, type(first.at).__name__, first.at.hour],
        "window": [type(window).__name__, type(window["end"]).__name__, window["end"].day],
        "pair": [type(pair).__name__, type(pair[1]).__name__],
        "maybe": maybe,
        "plain": plain,
    }
"""

TYPED_ARGS: dict[str, Any] = {
    "when": "2024-05-06T07:08:09+02:00",
    "day": "2024-05-06",
    "raw": "aGVsbG8=",
    "color": "blue",
    "route": {
        "color": "red",
        "stops": [{"name": "a", "at": "2024-05-06T10:00:00Z"}],
        "tags": ["y", "x"],
    },
    "window": {"start": "2024-05-01", "end": "2024-05-31T23:00:00"},
    "pair": [1, "2024-01-02"],
    "maybe": None,
    "plain": {"at": "2024-05-06"},
}


async def run(client: httpx.AsyncClient, path: str, args: dict[str, Any]) -> httpx.Response:
    return await client.post(f"/api/w/main/jobs/run_wait_result/p/{path}", json=args)


async def test_arguments_arrive_as_the_annotated_types(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/py/typed", TYPED)
    response = await run(client, "f/py/typed", TYPED_ARGS)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "when": ["datetime", 2024, 7200.0],
        "day": ["date", "2024-05-06"],
        "raw": ["bytes", "hello"],
        "color": [True, "BLUE"],
        "route": ["Route", True, ["x", "y"]],
        "stop": ["Stop", "datetime", 10],
        "window": ["dict", "date", 31],
        "pair": ["tuple", "date"],
        "maybe": None,
        "plain": {"at": "2024-05-06"},
    }


async def test_returned_objects_come_back_as_the_json_they_were_made_from(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    content = TYPED.replace("def main(", "def unused(") + (
        "\n\ndef main(route: Route, when: datetime.datetime, raw: bytes):\n"
        "    return {'route': route, 'when': when, 'raw': raw, 'color': route.color}\n"
    )
    await save(client, "f/py/roundtrip", content)
    args = {"route": TYPED_ARGS["route"], "when": "2024-05-06T07:08:09+02:00", "raw": "aGk="}
    response = await run(client, "f/py/roundtrip", args)
    assert response.status_code == 200, response.text
    returned = response.json()
    assert sorted(returned["route"].pop("tags")) == ["x", "y"]
    assert returned == {
        "route": {"color": "red", "stops": [{"name": "a", "at": "2024-05-06T10:00:00+00:00"}]},
        "when": "2024-05-06T07:08:09+02:00",
        "raw": "aGk=",
        "color": "red",
    }


async def test_an_optional_argument_left_out_is_none(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    content = (
        "import datetime\n\ndef main(day: datetime.date | None, n: int = 1):\n    return [day, n]\n"
    )
    await save(client, "f/py/optional", content)
    response = await run(client, "f/py/optional", {})
    assert response.json() == [None, 1]
    response = await run(client, "f/py/optional", {"day": "2024-02-29"})
    assert response.json() == ["2024-02-29", 1]


async def test_an_argument_that_does_not_convert_fails_naming_it(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/py/typed", TYPED)
    bad_stop = {**TYPED_ARGS["route"], "stops": [{"name": "a", "at": "tomorrow"}]}
    # what the schema cannot tell (formats, encodings) is found when converting
    cases = {
        "raw": ({"raw": "not base64!"}, "argument 'raw': not valid base64"),
        "stop": ({"route": bad_stop}, "argument 'route.stops[0].at': 'tomorrow' is not an ISO"),
        "day": ({"day": "2024-02-30"}, "argument 'day': '2024-02-30' is not an ISO 8601 date"),
    }
    for label, (change, message) in cases.items():
        response = await run(client, "f/py/typed", TYPED_ARGS | change)
        assert response.status_code == 500, label
        details = response.json()["error"]["details"]
        assert details["name"] == "InvalidArgument", label
        assert details["message"].startswith(message), (label, details["message"])
        assert "shim" not in details["stack"]


async def test_unknown_dataclass_fields_fail_the_job(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/py/typed", TYPED)
    route = {**TYPED_ARGS["route"], "speed": 3}
    response = await run(client, "f/py/typed", TYPED_ARGS | {"route": route})
    details = response.json()["error"]["details"]
    assert details["name"] == "InvalidArgument"
    assert "argument 'route': cannot make a Route" in details["message"]
    assert "speed" in details["message"]


async def test_an_annotation_that_does_not_resolve_leaves_the_value_as_json(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    content = (
        "from __future__ import annotations\n"
        "import datetime\n"
        "from typing import TYPE_CHECKING\n\n"
        "if TYPE_CHECKING:\n"
        "    from decimal import Decimal\n\n"
        "def main(when: datetime.date, amount: Decimal):\n"
        "    return [type(when).__name__, type(amount).__name__]\n"
    )
    await save(client, "f/py/unresolved", content)
    response = await run(client, "f/py/unresolved", {"when": "2024-01-01", "amount": "1.5"})
    assert response.status_code == 200, response.text
    assert response.json() == ["str", "str"]


async def test_unions_take_the_first_member_that_fits(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    content = (
        "import datetime\n\n"
        "def main(a: str | datetime.date, b: datetime.date | str, c: int | datetime.date):\n"
        "    return [type(a).__name__, type(b).__name__, type(c).__name__]\n"
    )
    await save(client, "f/py/unions", content)
    args = {"a": "2024-01-01", "b": "2024-01-01", "c": "2024-01-01"}
    assert (await run(client, "f/py/unions", args)).json() == ["str", "date", "date"]
    args = {"a": "x", "b": "not a date", "c": 3}
    assert (await run(client, "f/py/unions", args)).json() == ["str", "str", "int"]


async def test_the_script_sees_its_own_directory_first_not_the_worker(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    content = "import os, sys\n\ndef main():\n    return [sys.path[0] == os.getcwd(), sys.path]\n"
    await save(client, "f/py/path", content)
    first_is_cwd, path = (await run(client, "f/py/path", {})).json()
    assert first_is_cwd
    assert not any(entry.rstrip("/").endswith("/worker") for entry in path)


async def test_a_script_named_like_a_module_it_imports(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    """`f/x/colorsys` doing `import colorsys` must get the standard library, not itself."""
    content = "import colorsys\n\ndef main():\n    return colorsys.rgb_to_hsv(1, 0, 0)\n"
    await save(client, "f/x/colorsys", content)
    response = await client.post("/api/w/main/jobs/run_wait_result/p/f/x/colorsys", json={})
    assert response.status_code == 200, response.text
    assert response.json() == [0.0, 1.0, 1.0]


async def test_each_job_starts_from_a_clean_process(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    # what a job changes in its interpreter, the next job of the worker does not see
    content = (
        "import json, os, random, sys\n\n"
        "def main(mark: str):\n"
        "    seen = {'attribute': getattr(json, 'left_behind', None),\n"
        "            'variable': os.environ.get('LEFT_BEHIND'),\n"
        "            'module': 'left_behind' in sys.modules,\n"
        "            'pid': os.getpid(), 'random': random.random()}\n"
        "    json.left_behind = mark\n"
        "    os.environ['LEFT_BEHIND'] = mark\n"
        "    sys.modules['left_behind'] = sys\n"
        "    return seen\n"
    )
    await save(client, "f/py/changes", content)
    first = (await run(client, "f/py/changes", {"mark": "one"})).json()
    second = (await run(client, "f/py/changes", {"mark": "two"})).json()
    for seen in (first, second):
        assert (seen["attribute"], seen["variable"], seen["module"]) == (None, None, False)
    assert first["pid"] != second["pid"]
    assert first["random"] != second["random"]


async def test_an_interpreter_that_cannot_serve_jobs_says_why(tmp_path: Path) -> None:
    # what a broken interpreter prints as it fails is the job's error, not lost
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'libpython3.11.so: cannot open shared object' >&2\nexit 1\n")
    broken.chmod(0o755)
    server = await forkserver.ForkServer.start(
        broken, preload="", env={"PATH": "/bin"}, cwd=tmp_path, run_as=None, confinement=None
    )
    try:
        with pytest.raises(forkserver.ServerGone, match="cannot open shared object"):
            await server.fork(tmp_path / "tidemill-job.json")
        assert not server.alive()
    finally:
        await server.stop()
