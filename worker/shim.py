"""Runs inside the script's own interpreter: load the script, call `main`, hand back JSON.

Standard library only: it must work in any environment a script's
dependencies are installed into. The worker keeps this process running
between jobs, with the shim (and the standard-library modules the
environment's packages use) loaded, and it forks a fresh process for each
job: a job costs a `fork`, not an interpreter start. It never runs a script
itself, so every job starts from the same clean state, in a process of its
own. Only `json` and `typing` are imported up front; everything else only
by the jobs that need it (asyncio alone costs tens of milliseconds).

Arguments arrive as JSON and are turned into the types main's annotations
name before the call: ISO strings into `datetime`/`date`, base64 into
`bytes`, values into `Enum` members, objects into dataclasses (nested) and
TypedDicts, arrays into lists, tuples and sets of those. None stays None.
An argument that does not convert fails the job naming it; an annotation
that cannot be resolved (a name imported only under TYPE_CHECKING) leaves
its argument as JSON gave it.

Protocol: started as `python -u shim.py CONTROL_FD [PRELOAD]`; each job is a
message on the control socket (see `_serve_forks`) naming a file with
`{"file", "display_name", "args", "env", "cwd"}`; the job's stdout and stderr
are its logs; then one JSON document, `{"ok": true, "result": ...}` or
`{"ok": false, "error": {"name", "message", "stack"}}`, on its result pipe.

Warm mode (`python -u shim.py --warm CONTROL_FD`, the script's
`dedicated_worker` setting) keeps one process for job after job of one
script version; see `_serve_warm` and `worker/warm.py`.
"""

import contextlib  # loaded by `typing` anyway: free
import json
import os
import sys
import typing
from collections.abc import Callable
from typing import Any

# (value, where it sits in the arguments) -> the value as its annotated type
Converter = Callable[[Any, str], Any]

# annotations that JSON values already satisfy: no conversion, nothing resolved
_PLAIN_TYPES = (str, int, float, bool, list, dict, object, Any)
_PLAIN_NAMES = frozenset({"str", "int", "float", "bool", "list", "dict", "object", "Any"})
# warm mode: the largest spec sent in the message itself (a larger one is sent as a file)
WARM_MESSAGE_BYTES = 64 * 1024


def _to_json(value: object) -> object:
    """What `json` cannot encode on its own, in the form a caller would expect."""
    import base64
    import datetime
    import enum

    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, enum.Enum):  # the value it was made from, as arguments are given
        return value.value
    if hasattr(value, "__dataclass_fields__"):
        return {name: getattr(value, name) for name in value.__dataclass_fields__}
    return str(value)


def _load(file: str, display_name: str) -> dict[str, Any]:
    """Run the script's top level as module `script`; tracebacks name it by its path."""
    import linecache
    import types

    with open(file, encoding="utf-8") as f:
        source = f.read()
    linecache.cache[display_name] = (
        len(source),
        None,
        source.splitlines(keepends=True),
        display_name,
    )
    module = types.ModuleType("script")
    module.__file__ = file
    sys.modules["script"] = module
    exec(compile(source, display_name, "exec"), module.__dict__)  # noqa: S102
    return module.__dict__


def _error(exc: BaseException) -> dict[str, str]:
    """The script's own exception: frames of the shim are dropped from the stack."""
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    stack = "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames))
    stack += "".join(traceback.format_exception_only(type(exc), exc))
    return {"name": type(exc).__name__, "message": str(exc), "stack": stack}


# -- arguments: JSON values into the types main's annotations name -----------


class _Unconvertible(ValueError):
    """An argument that cannot become its annotated type."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"argument '{where}': {problem}")


def _plain(annotation: object) -> bool:
    if isinstance(annotation, str):
        return annotation in _PLAIN_NAMES
    return any(annotation is plain for plain in _PLAIN_TYPES)


def _type_hints(owner: object) -> dict[str, Any]:
    """Resolved annotations of a function or class, leaving out those that do not resolve."""
    try:
        return typing.get_type_hints(owner)
    except (NameError, AttributeError, TypeError, SyntaxError):
        found = getattr(owner, "__annotations__", {})
        return {name: hint for name, hint in found.items() if not isinstance(hint, str)}


def _apply(convert: Converter | None, value: Any, where: str) -> Any:
    """None, and values that need no conversion, pass through unchanged."""
    return value if convert is None or value is None else convert(value, where)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _converter(hint: Any) -> Converter | None:
    """How to turn a JSON value into `hint`; None when the JSON value already is one."""
    origin = typing.get_origin(hint)
    if origin is not None:
        return _generic_converter(origin, typing.get_args(hint))
    if isinstance(hint, type) and not any(hint is plain for plain in _PLAIN_TYPES):
        return _class_converter(hint)
    return None


def _generic_converter(origin: Any, args: tuple[Any, ...]) -> Converter | None:
    import collections.abc as abc
    import types

    if origin is typing.Union or origin is types.UnionType:
        return _union_converter(args)
    if origin is tuple:
        return _tuple_converter(args)
    if origin in (list, abc.Sequence, abc.MutableSequence, abc.Iterable, abc.Collection):
        item = _converter(args[0]) if args else None
        return None if item is None else _sequence_converter(list, item)
    if origin in (set, frozenset, abc.Set, abc.MutableSet):
        build = frozenset if origin is frozenset else set
        return _sequence_converter(build, _converter(args[0]) if args else None)
    if origin in (dict, abc.Mapping, abc.MutableMapping) and len(args) == 2:
        value_converter = _converter(args[1])
        if value_converter is None:
            return None

        def convert_mapping(value: Any, where: str) -> dict[str, Any]:
            return {
                key: _apply(value_converter, item, f"{where}.{key}")
                for key, item in _expect(value, dict, where).items()
            }

        return convert_mapping
    return None


def _expect(value: Any, kind: type, where: str) -> Any:
    if not isinstance(value, kind):
        expected = "an array" if kind is list else "an object"
        raise _Unconvertible(where, f"expected {expected}, got {_kind(value)}")
    return value


def _sequence_converter(build: Callable[[Any], Any], item: Converter | None) -> Converter:
    def convert(value: Any, where: str) -> Any:
        items = _expect(value, list, where)
        return build(_apply(item, v, f"{where}[{i}]") for i, v in enumerate(items))

    return convert


def _tuple_converter(args: tuple[Any, ...]) -> Converter:
    if not args:  # a bare `Tuple`: any length, items as they are
        return _sequence_converter(tuple, None)
    if len(args) == 2 and args[1] is Ellipsis:
        return _sequence_converter(tuple, _converter(args[0]))
    items = [_converter(arg) for arg in args]

    def convert(value: Any, where: str) -> tuple[Any, ...]:
        found = _expect(value, list, where)
        if len(found) != len(items):
            raise _Unconvertible(where, f"expected {len(items)} items, got {len(found)}")
        return tuple(
            _apply(c, v, f"{where}[{i}]") for i, (c, v) in enumerate(zip(items, found, strict=True))
        )

    return convert


def _union_converter(members: tuple[Any, ...]) -> Converter | None:
    """The first member, in declared order, that takes the value as it is or converts it."""
    options = [(member, _converter(member)) for member in members if member is not type(None)]
    if all(convert is None for _, convert in options):
        return None
    if len(options) == 1:
        return options[0][1]

    def convert(value: Any, where: str) -> Any:
        failure: _Unconvertible | None = None
        for member, member_converter in options:
            if member_converter is None:
                if _is_instance(value, member):
                    return value
                continue
            try:
                return member_converter(value, where)
            except _Unconvertible as exc:
                failure = failure or exc
        if failure is not None:
            raise failure
        return value

    return convert


def _is_instance(value: Any, hint: Any) -> bool:
    """Whether a JSON value already is of a type that needs no conversion."""
    if hint is Any:
        return True
    origin = typing.get_origin(hint) or hint
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if isinstance(origin, type):
        return isinstance(value, origin) or (origin is float and isinstance(value, int))
    return True


def _class_converter(cls: type) -> Converter | None:
    import enum

    # a script naming `date` has imported datetime; scripts that do not, never pay for it
    datetime = sys.modules.get("datetime")
    if datetime is not None and issubclass(cls, datetime.datetime):
        return _iso_converter(cls, "an ISO 8601 date-time")
    if datetime is not None and issubclass(cls, datetime.date):
        return _date_converter(cls)
    if cls is bytes:
        return _bytes
    if issubclass(cls, enum.Enum):
        return _enum_converter(cls)
    if hasattr(cls, "__dataclass_fields__"):
        return _dataclass_converter(cls)
    if typing.is_typeddict(cls):
        return _Fields(cls).convert
    return None


def _iso_converter(cls: Any, what: str) -> Converter:
    def convert(value: Any, where: str) -> Any:
        try:
            return cls.fromisoformat(_expect_text(value, where))
        except ValueError as exc:
            raise _Unconvertible(where, f"{value!r} is not {what} ({exc})") from None

    return convert


def _date_converter(cls: Any) -> Converter:
    """A date from "YYYY-MM-DD", or the date part of a full date-time (as forms send)."""
    as_date = _iso_converter(cls, "an ISO 8601 date")
    as_datetime = _iso_converter(sys.modules["datetime"].datetime, "an ISO 8601 date")

    def convert(value: Any, where: str) -> Any:
        try:
            return as_date(value, where)
        except _Unconvertible:
            moment = as_datetime(value, where)
            return cls(moment.year, moment.month, moment.day)

    return convert


def _expect_text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _Unconvertible(where, f"expected a string, got {_kind(value)}")
    return value


def _bytes(value: Any, where: str) -> bytes:
    import base64
    import binascii

    try:
        return base64.b64decode(_expect_text(value, where), validate=True)
    except binascii.Error as exc:
        raise _Unconvertible(where, f"not valid base64 ({exc})") from None


def _enum_converter(cls: Any) -> Converter:
    def convert(value: Any, where: str) -> Any:
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(repr(member.value) for member in cls)
            raise _Unconvertible(where, f"{value!r} is not one of {allowed}") from None

    return convert


class _Fields:
    """Converters for a dataclass's or TypedDict's fields, resolved on first use.

    Lazily, because a class may contain itself: the converters of a level
    are made only when the data reaches that level.
    """

    def __init__(self, cls: type) -> None:
        self._cls = cls
        self._converters: dict[str, Converter] | None = None

    def convert(self, value: Any, where: str) -> dict[str, Any]:
        if self._converters is None:
            hints = _type_hints(self._cls)
            found = {name: _converter(hint) for name, hint in hints.items()}
            self._converters = {name: c for name, c in found.items() if c is not None}
        return {
            key: _apply(self._converters.get(key), item, f"{where}.{key}")
            for key, item in _expect(value, dict, where).items()
        }


def _dataclass_converter(cls: Any) -> Converter:
    fields = _Fields(cls)

    def convert(value: Any, where: str) -> Any:
        converted = fields.convert(value, where)
        try:
            return cls(**converted)
        except (TypeError, ValueError) as exc:
            raise _Unconvertible(where, f"cannot make a {cls.__name__}: {exc}") from None

    return convert


def _convert_args(main: Callable[..., Any], args: dict[str, Any]) -> dict[str, Any]:
    """The arguments as the types main's parameters are annotated with.

    Most scripts annotate only str, int, float, bool, list and dict, which JSON
    already gives: for those nothing is resolved or imported.
    """
    annotations = getattr(main, "__annotations__", None) or {}
    if all(_plain(annotations.get(name, Any)) for name in args):
        return args
    hints = _type_hints(main)
    return {
        name: _apply(_converter(hints[name]) if name in hints else None, value, name)
        for name, value in args.items()
    }


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _invoke(namespace: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """Call the loaded script's `main` with `args`; the script's own failures propagate."""
    main = namespace.get("main")
    if not callable(main):
        return {
            "ok": False,
            "error": {"name": "NoMain", "message": "the script defines no main function"},
        }
    try:
        converted = _convert_args(main, args)
    except _Unconvertible as exc:
        return {"ok": False, "error": {"name": "InvalidArgument", "message": str(exc), "stack": ""}}
    result = main(**converted)
    if hasattr(result, "__await__"):
        import asyncio

        result = asyncio.run(_await(result))
    return {"ok": True, "result": result}


def _run(job: dict[str, Any]) -> dict[str, Any]:
    try:
        return _invoke(_load(job["file"], job["display_name"]), job["args"])
    except BaseException as exc:  # noqa: BLE001 - the script's failure is the job's result
        return {"ok": False, "error": _error(exc)}


def _payload(outcome: dict[str, Any]) -> str:
    try:
        return json.dumps(outcome, default=_to_json)
    except (TypeError, ValueError) as exc:
        return json.dumps(
            {"ok": False, "error": {"name": "ResultNotJSON", "message": str(exc), "stack": ""}}
        )


def _enter(job: dict[str, Any], environ: dict[str, str]) -> None:
    """Put the process where the job runs: its directory, its variables, its argv."""
    os.chdir(job["cwd"])
    os.environ.clear()
    os.environ.update(environ)
    os.environ.update(job["env"])
    # as `python script.py` has it: the script's directory first, not the shim's
    sys.path[0] = job["cwd"]
    sys.argv = [job["file"]]


def _preload(names: str) -> None:
    """Import the standard-library modules the environment's packages use, while idle.

    Only the standard library: its imports have no side effects a job could notice,
    unlike a third-party package reading the job's variables at import time.
    """
    for name in names.split(","):
        if name.split(".", 1)[0] in sys.stdlib_module_names:
            # a module that fails here is the job's to meet, in its own words
            with contextlib.suppress(Exception):
                __import__(name)


def main() -> None:
    if sys.argv[1] == "--warm":
        _serve_warm(int(sys.argv[2]))
    _serve_forks(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "")


# -- process per job: a kept interpreter forks a fresh process for each job ----------


def _serve_forks(control_fd: int, preload: str) -> typing.NoReturn:
    """Fork a process for each job sent on the control socket, and report how each ended.

    This process never runs a script: it loads the shim (and `preload`) once,
    then each message (the path of the job's spec, with two descriptors: the
    job's log pipe and its result pipe) gets a child that runs the job as a
    fresh interpreter would, from this clean state. Replies on the socket:
    `started <pid>` (or `failed <reason>`) for each message, in order, then
    `exited <pid> <code>` (negative: the signal) once that child has ended.
    """
    import gc
    import select
    import socket

    _preload(preload)
    # what every job needs to load its script, loaded once here
    import linecache  # noqa: F401
    import types  # noqa: F401

    set_dumpable = _dumpable_switch()
    set_dumpable(False)

    control = socket.socket(fileno=control_fd)
    environ = dict(os.environ)
    children: dict[int, int] = {}  # pidfd -> pid
    poller = select.poll()
    poller.register(control, select.POLLIN)
    # what exists now is never freed: its pages stay shared with every child
    gc.freeze()
    while True:
        for fd, _events in poller.poll():
            if fd != control.fileno():
                pid = children.pop(fd)
                poller.unregister(fd)
                os.close(fd)
                _, status = os.waitpid(pid, 0)
                control.send(f"exited {pid} {os.waitstatus_to_exitcode(status)}".encode())
                continue
            try:
                message, fds, _flags, _address = socket.recv_fds(control, 65536, 2)
            except OSError:
                message, fds = b"", []
            if not message or len(fds) != 2:
                os._exit(0)  # the worker is gone or retired this process
            try:
                pid = _fork()
            except OSError as exc:
                for passed in fds:
                    os.close(passed)
                control.send(f"failed {exc.strerror}".encode())
                continue
            if pid == 0:
                set_dumpable(True)
                _forked(message.decode(), fds, [control.fileno(), *children], environ)
            for passed in fds:
                os.close(passed)
            pidfd = os.pidfd_open(pid)
            children[pidfd] = pid
            poller.register(pidfd, select.POLLIN)
            control.send(f"started {pid}".encode())


def _dumpable_switch() -> Callable[[bool], None]:
    """Turns `PR_SET_DUMPABLE` off and on: whether processes of the same user may trace
    this one or read its memory (`/proc/<pid>/mem`, `environ`).

    The fork server turns it off: its jobs run as the same user, and code one of them
    injected into it would run in every later job. Each child turns it back on, as any
    process has it. Without `ctypes` (a Python built without it) this does nothing.
    """
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):
        return lambda _on: None
    return lambda on: prctl(4, int(on), 0, 0, 0)  # 4: PR_SET_DUMPABLE


def _fork() -> int:
    """`os.fork`, tried again for a while when the job user is at its process limit.

    The previous job's processes were just killed, but the kernel counts them
    until they are reaped, which may take a moment.
    """
    import time

    for delay in (0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8):
        try:
            return os.fork()
        except BlockingIOError:
            time.sleep(delay)
    return os.fork()


def _forked(spec: str, fds: list[int], inherited: list[int], environ: dict[str, str]) -> None:
    """The job's process: its own session, its pipes; run it, never return.

    It is born in this server's cgroup (if the worker gave it one): the job's
    process limit binds it from its first instruction.
    """
    code = 1  # what the worker reports if this fails before the job's reply
    try:
        os.setsid()  # a process group of its own: the worker kills the job's group whole
        for fd in inherited:  # the control socket, the other children's pidfds
            os.close(fd)
        log_fd, result_fd = fds
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        with open(spec, encoding="utf-8") as file:
            job = json.load(file)
        _enter(job, environ)
        payload = _payload(_run(job))
        sys.stdout.flush()
        sys.stderr.flush()
        # closing the log pipe first lets the worker see the end of the logs without
        # waiting for this process to exit
        os.close(1)
        os.close(2)
        with os.fdopen(result_fd, "w", encoding="utf-8") as out:
            out.write(payload)
        code = 0
    except BaseException as exc:  # noqa: BLE001 - said on stderr, the job's last output
        with contextlib.suppress(Exception):
            os.write(2, f"the job's process could not start: {exc!r}\n".encode())
    finally:
        # never back into the forking loop; no interpreter teardown: the output is flushed
        os._exit(code)


# -- warm mode: one process serving job after job of one script version --------


def _serve_warm(control_fd: int) -> typing.NoReturn:
    """Serve jobs sent on the control socket until the worker closes it.

    Each message carries the job's spec (same fields as on stdin), or the path
    of a file holding it when it is too large for a message, and two
    descriptors: the job's log pipe, which becomes stdout and stderr for the
    job's duration, and its result pipe, closed once the reply is in.
    The script's module is loaded in the first job (its top-level output and
    errors are that job's) and kept: later jobs only call `main`. A top level
    that failed is run again by the next job.
    """
    import socket

    control = socket.socket(fileno=control_fd)
    environ = dict(os.environ)
    quiet = os.open(os.devnull, os.O_WRONLY)
    namespace: dict[str, Any] | None = None
    while True:
        try:
            message, fds, _flags, _address = socket.recv_fds(control, WARM_MESSAGE_BYTES, 2)
        except OSError:
            message, fds = b"", []
        if not message or len(fds) != 2:
            os._exit(0)  # the worker is gone or retired this process
        log_fd, result_fd = fds
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        try:
            if message.startswith(b"{"):
                job = json.loads(message)
            else:
                with open(message.decode(), encoding="utf-8") as spec:
                    job = json.load(spec)
            _enter(job, environ)
            if namespace is None:
                namespace = _load(job["file"], job["display_name"])
            outcome = _invoke(namespace, job["args"])
        except BaseException as exc:  # noqa: BLE001 - the script's failure is the job's result
            outcome = {"ok": False, "error": _error(exc)}
        payload = _payload(outcome)
        sys.stdout.flush()
        sys.stderr.flush()
        # the job's log pipe is released before its reply: the worker reads its logs to the end
        os.dup2(quiet, 1)
        os.dup2(quiet, 2)
        with os.fdopen(result_fd, "w", encoding="utf-8") as out:
            out.write(payload)


if __name__ == "__main__":
    main()
