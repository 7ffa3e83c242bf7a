"""What a Python script needs installed, read from its text without running it.

Windmill users' most common complaint is a wrong guess from an import to a
package, so explicit declarations always win over inference: a PEP 723
`# /// script` block first, else a Windmill `# requirements:` comment block,
else the script's imports (stdlib and relative imports left out, common
renames such as `yaml` -> `pyyaml` mapped). `# extra_requirements:` lines
add to inferred imports and `# pin: pkg==x` comments fix a version.

The requirements are then locked once per version with `uv pip compile` (by a
`dependencies` job on a worker, not by the save); the lock names its
interpreter and that interpreter's version on its first two lines, so a
worker can build the exact environment from the lock alone, with the same
interpreter or, on a machine where it lives elsewhere, the same version.

TypeScript's requirements are its import specifiers: `npm:`/`jsr:`/`https:`
ones as written, bare package names mapped to `npm:` (Node's built-in modules
to `node:`) through an import map; Deno itself resolves and locks them.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import functools
import hashlib
import os
import re
import sys
import tomllib
from typing import Literal

import msgspec
import tree_sitter_typescript
from tree_sitter import Language, Node, Parser
from uv import find_uv_bin

Source = Literal["pep723", "requirements", "inferred"]

# import name -> distribution name, for the modules whose package is named otherwise
RENAMES = {
    "yaml": "pyyaml",
    "PIL": "pillow",
    "cv2": "opencv-python",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "psycopg2": "psycopg2-binary",
    "jwt": "pyjwt",
    "dotenv": "python-dotenv",
    "attr": "attrs",
    "Crypto": "pycryptodome",
    "Cryptodome": "pycryptodomex",
    "magic": "python-magic",
    "docx": "python-docx",
    "pptx": "python-pptx",
    "jose": "python-jose",
    "multipart": "python-multipart",
    "slugify": "python-slugify",
    "telegram": "python-telegram-bot",
    "dns": "dnspython",
    "git": "gitpython",
    "github": "pygithub",
    "gitlab": "python-gitlab",
    "MySQLdb": "mysqlclient",
    "pymysql": "pymysql",
    "serial": "pyserial",
    "usb": "pyusb",
    "zmq": "pyzmq",
    "OpenSSL": "pyopenssl",
    "nacl": "pynacl",
    "fitz": "pymupdf",
    "Levenshtein": "python-levenshtein",
    "lxml": "lxml",
    "googleapiclient": "google-api-python-client",
    "google_auth_oauthlib": "google-auth-oauthlib",
    "discord": "discord.py",
    "websocket": "websocket-client",
    "win32api": "pywin32",
    "ldap": "python-ldap",
    "snowflake": "snowflake-connector-python",
    "sentry_sdk": "sentry-sdk",
    "faiss": "faiss-cpu",
    "tesserocr": "tesserocr",
    "pytesseract": "pytesseract",
    "Bio": "biopython",
    "wx": "wxpython",
    "gi": "pygobject",
    "kafka": "kafka-python",
    "ruamel": "ruamel.yaml",
    "markdown": "markdown",
    "docopt": "docopt",
    "wmill": "wmill",
}

# `google.cloud.X` and friends: the distribution is named from the first two or three parts
NAMESPACE_PREFIXES = {"google.cloud": "google-cloud-"}

_PEP723 = re.compile(r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")
_PIN = re.compile(r"^#\s*pin:\s*(?P<spec>\S.*?)\s*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")
# resolving is bounded: an index that hangs must not hold a save forever
LOCK_TIMEOUT_S = 60.0
# the first line of every lock: the interpreter its environment is built with
PYTHON_HEADER = "# python: "
# the second: its version, for a machine where that interpreter lives elsewhere
VERSION_HEADER = "# python-version: "


class Requirements(msgspec.Struct, frozen=True, kw_only=True):
    """A script's requirements, as requirement strings uv understands."""

    packages: tuple[str, ...]
    requires_python: str | None = None
    source: Source


class InvalidMetadata(ValueError):
    """The script's `# /// script` block is not valid TOML or not the PEP 723 shape."""


def of_python(content: str) -> Requirements:
    """The requirements of a Python script, from its declarations or its imports.

    Args:
        content: The script's source.

    Raises:
        InvalidMetadata: A `# /// script` block that cannot be read.
    """
    pins = _pins(content)
    metadata = _pep723(content)
    if metadata is not None:
        return Requirements(
            packages=_apply_pins(metadata[0], pins),
            requires_python=metadata[1],
            source="pep723",
        )
    declared = _comment_block(content, "requirements")
    if declared:
        return Requirements(packages=_apply_pins(declared, pins), source="requirements")
    inferred = inferred_packages(content) + _comment_block(content, "extra_requirements")
    return Requirements(packages=_apply_pins(inferred, pins), source="inferred")


def _pep723(content: str) -> tuple[list[str], str | None] | None:
    """The dependencies and requires-python of the script's PEP 723 block, if it has one."""
    blocks = [m for m in _PEP723.finditer(content) if m.group("type") == "script"]
    if not blocks:
        return None
    if len(blocks) > 1:
        raise InvalidMetadata("a script may have only one `# /// script` block")
    text = "".join(
        line[2:] if line.startswith("# ") else line[1:]
        for line in blocks[0].group("content").splitlines(keepends=True)
    )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidMetadata(f"the `# /// script` block is not valid TOML: {exc}") from None
    deps = data.get("dependencies", [])
    python = data.get("requires-python")
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise InvalidMetadata("`dependencies` in the `# /// script` block must be strings")
    if python is not None and not isinstance(python, str):
        raise InvalidMetadata("`requires-python` in the `# /// script` block must be a string")
    return [str(d) for d in deps], python


def _comment_block(content: str, header: str) -> list[str]:
    """The entries of a `# <header>:` comment block: the comment lines up to a blank one."""
    entries: list[str] = []
    inside = False
    for raw in content.splitlines():
        line = raw.strip()
        if not inside:
            inside = re.fullmatch(rf"#\s*{header}:\s*", line) is not None
            continue
        body = line[1:].strip() if line.startswith("#") else ""
        if not body:
            inside = False
            continue
        entries.extend(part for part in re.split(r"[\s,]+", body) if part)
    return entries


def _pins(content: str) -> dict[str, str]:
    """`# pin: pkg==x` comments, by normalised distribution name."""
    pins: dict[str, str] = {}
    for line in content.splitlines():
        match = _PIN.match(line.strip())
        if match:
            spec = match.group("spec")
            pins[_normalise(spec)] = spec
    return pins


def _normalise(spec: str) -> str:
    """PEP 503's normal form of a requirement's distribution name."""
    match = _NAME.match(spec)
    name = match.group(0) if match else spec
    return re.sub(r"[-_.]+", "-", name).lower()


def _apply_pins(packages: list[str], pins: dict[str, str]) -> tuple[str, ...]:
    """Each requirement once, in order; a pin replaces its package's spec or adds it."""
    chosen: dict[str, str] = {}
    for spec in packages:
        chosen.setdefault(_normalise(spec), spec)
    chosen |= pins
    return tuple(chosen.values())


def inferred_packages(content: str) -> list[str]:
    """Distributions for the script's absolute, non-stdlib imports, in first-seen order."""
    try:
        tree = ast.parse(content)
    except SyntaxError:
        return []
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(distribution(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.extend(distribution(f"{node.module}.{alias.name}") for alias in node.names)
    return [name for name in dict.fromkeys(found) if name]


def distribution(module: str) -> str:
    """The distribution that provides `module`; empty for the standard library."""
    top = module.split(".", 1)[0]
    if top in sys.stdlib_module_names or top == "__future__":
        return ""
    for prefix, dist in NAMESPACE_PREFIXES.items():
        if module.startswith(prefix + "."):
            rest = module[len(prefix) + 1 :].split(".", 1)[0]
            return dist + rest.replace("_", "-")
    if top == "google":
        return "protobuf" if module.startswith("google.protobuf") else ""
    return RENAMES.get(top, top.replace("_", "-").lower())


class Lock(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of locking: the lock text, or the resolver's message."""

    text: str | None = None
    error: str | None = None


class UvFailed(Exception):
    """uv exited with an error or ran out of time; the message is uv's own."""


async def run_uv(
    args: list[str], *, stdin: str = "", timeout_s: float, env: dict[str, str] | None = None
) -> str:
    """Run uv with `args`, returning its stdout; killed after `timeout_s`.

    `env` is uv's whole environment (the index settings with it); default, this process's.

    Raises:
        UvFailed: uv failed (its stderr is the message) or took too long.
    """
    proc = await asyncio.create_subprocess_exec(
        find_uv_bin(),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), timeout_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise UvFailed(f"uv {' '.join(args[:2])} took longer than {timeout_s:g} s") from None
    if proc.returncode != 0:
        raise UvFailed(_uv_message(err.decode(errors="replace")))
    return out.decode()


def _uv_message(stderr: str) -> str:
    """uv's error without the warnings about unrelated interpreters it met on the way."""
    lines = stderr.strip().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("error:"):
            return "\n".join(lines[i:])
    return stderr.strip()


async def interpreter(
    requires_python: str | None, *, timeout_s: float, env: dict[str, str] | None = None
) -> str:
    """The installed interpreter for `requires-python`: this one when it says nothing.

    Raises:
        UvFailed: No installed interpreter satisfies it.
    """
    if requires_python is None:
        return sys.executable
    try:
        found = await run_uv(
            ["python", "find", "--no-python-downloads", requires_python],
            timeout_s=timeout_s,
            env=env,
        )
    except UvFailed as exc:
        raise UvFailed(
            f"no installed Python satisfies requires-python {requires_python!r}: {exc}"
        ) from None
    return found.strip()


async def lock(
    reqs: Requirements, *, timeout_s: float = LOCK_TIMEOUT_S, env: dict[str, str] | None = None
) -> Lock:
    """Resolve `reqs` with `uv pip compile`; a failure carries uv's message, naming the package.

    Index settings (`UV_INDEX_URL`, `UV_EXTRA_INDEX_URL`, ...) pass through `env`.
    """
    try:
        python = await interpreter(reqs.requires_python, timeout_s=timeout_s, env=env)
        compiled = await run_uv(
            ["pip", "compile", "-", "--quiet", "--no-header", "--python", python],
            stdin="\n".join(reqs.packages) + "\n",
            timeout_s=timeout_s,
            env=env,
        )
        version = await _version_of(python, timeout_s=timeout_s)
    except UvFailed as exc:
        return Lock(error=str(exc))
    return Lock(text=f"{PYTHON_HEADER}{python}\n{VERSION_HEADER}{version}\n{compiled}")


async def _version_of(python: str, *, timeout_s: float) -> str:
    """An interpreter's `major.minor.micro`.

    Raises:
        UvFailed: It cannot be run.
    """
    proc = await asyncio.create_subprocess_exec(
        python,
        "-I",
        "-c",
        "import sys; print('%d.%d.%d' % sys.version_info[:3])",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise UvFailed(f"{python} did not start within {timeout_s:g} s") from None
    if proc.returncode != 0:
        raise UvFailed(f"{python} cannot be run (exit code {proc.returncode})")
    return out.decode().strip()


def lock_interpreter(lock: str) -> str:
    """What `uv venv --python` should build a lock's environment with, on this machine.

    The interpreter the lock was resolved with, when it is here; else its version, which
    uv finds among the installed interpreters (a lock resolved on another machine).
    """
    lines = lock.split("\n", 2)
    path = lines[0].removeprefix(PYTHON_HEADER)
    if os.path.exists(path) or len(lines) < 2 or not lines[1].startswith(VERSION_HEADER):
        return path
    return lines[1].removeprefix(VERSION_HEADER)


def requirements_hash(language: str, content: str) -> str:
    """What a script's lock is resolved from, hashed: equal requirements, equal lock.

    The key of a workspace's lock cache (previews reuse a lock resolved for the same
    requirements instead of calling the resolver again). Order does not matter to a
    resolver, so it does not matter here.

    Raises:
        InvalidMetadata: A `# /// script` block that cannot be read.
    """
    if language == "python3":
        reqs = of_python(content)
        parts = [reqs.requires_python or "", *sorted(reqs.packages)]
    elif language == "deno":
        imports = of_typescript(content)
        mapped = [f"{name}={target}" for name, target in sorted(imports.import_map.items())]
        parts = [*sorted(imports.remote), "", *mapped]
    else:
        parts = []
    text = "\0".join([language, *parts])
    return hashlib.sha256(text.encode()).hexdigest()


def lock_hash(text: str) -> str:
    """The key of a lock's environment: equal locks share one environment."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# Node's built-in modules: a bare `import fs from "fs"` means `node:fs`, not an npm package
NODE_BUILTINS = frozenset(
    [
        "assert",
        "async_hooks",
        "buffer",
        "child_process",
        "cluster",
        "console",
        "constants",
        "crypto",
        "dgram",
        "diagnostics_channel",
        "dns",
        "domain",
        "events",
        "fs",
        "http",
        "http2",
        "https",
        "inspector",
        "module",
        "net",
        "os",
        "path",
        "perf_hooks",
        "process",
        "punycode",
        "querystring",
        "readline",
        "repl",
        "stream",
        "string_decoder",
        "sys",
        "timers",
        "tls",
        "trace_events",
        "tty",
        "url",
        "util",
        "v8",
        "vm",
        "wasi",
        "worker_threads",
        "zlib",
    ]
)
_REMOTE_PREFIXES = ("npm:", "jsr:", "http:", "https:")
_LOCAL_PREFIXES = ("./", "../", "/", "file:", "data:", "node:")


class TypeScriptImports(msgspec.Struct, frozen=True, kw_only=True):
    """A TypeScript script's imports that Deno must fetch, and the map for its bare ones."""

    remote: tuple[str, ...]
    import_map: dict[str, str]


@functools.cache
def _typescript() -> Language:
    return Language(tree_sitter_typescript.language_typescript())


def _specifiers(node: Node) -> list[str]:
    """Every module specifier the script imports at run time, in order (type-only skipped)."""
    found: list[str] = []
    stack = [node]
    while stack:
        current = stack.pop()
        source: Node | None = None
        if current.type in ("import_statement", "export_statement"):
            if not any(child.type == "type" for child in current.children):
                source = current.child_by_field_name("source")
        elif current.type == "call_expression":
            function = current.child_by_field_name("function")
            arguments = current.child_by_field_name("arguments")
            if function is not None and function.type == "import" and arguments is not None:
                source = next((a for a in arguments.named_children if a.type == "string"), None)
        if source is not None and source.type == "string":
            found.append("".join((child.text or b"").decode() for child in source.named_children))
        stack.extend(reversed(current.children))
    return found


def of_typescript(content: str) -> TypeScriptImports:
    """The imports Deno must fetch; bare names mapped to `npm:` (built-ins to `node:`).

    A script with neither has nothing to lock and runs as it is.
    """
    root = Parser(_typescript()).parse(content.encode()).root_node
    remote: list[str] = []
    import_map: dict[str, str] = {}
    for spec in dict.fromkeys(_specifiers(root)):
        if spec.startswith(_REMOTE_PREFIXES):
            remote.append(spec)
        elif spec and not spec.startswith(_LOCAL_PREFIXES):
            top = spec.split("/", 1)[0]
            if top in NODE_BUILTINS:
                import_map[spec] = f"node:{spec}"
            else:
                import_map[spec] = f"npm:{spec}"
                remote.append(import_map[spec])
    return TypeScriptImports(remote=tuple(remote), import_map=import_map)
