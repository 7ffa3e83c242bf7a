"""Requirements read from a Python script's text: declarations win over inference."""

from __future__ import annotations

import sys

import pytest

from server import requirements

PEP723 = """# /// script
# requires-python = ">=3.11"
# dependencies = [
#   "requests<3",
#   "rich",
# ]
# ///
import yaml
"""

WINDMILL = """# requirements:
# requests==2.31.0
# pandas
import yaml

def main(): ...
"""

EXTRA = """# extra_requirements:
# tzdata
import yaml
"""

PINNED = """# pin: pyyaml==6.0.1
import yaml
import requests
"""

CASES = [
    ("pep723 wins", PEP723, ("requests<3", "rich"), ">=3.11", "pep723"),
    ("windmill block", WINDMILL, ("requests==2.31.0", "pandas"), None, "requirements"),
    ("extra added to inferred", EXTRA, ("pyyaml", "tzdata"), None, "inferred"),
    ("pin replaces", PINNED, ("pyyaml==6.0.1", "requests"), None, "inferred"),
    ("stdlib only", "import os, json\nfrom collections import deque\n", (), None, "inferred"),
    ("relative excluded", "from . import x\nfrom .y import z\n", (), None, "inferred"),
    ("future excluded", "from __future__ import annotations\n", (), None, "inferred"),
    ("dedup", "import requests\nimport requests.adapters\n", ("requests",), None, "inferred"),
    ("syntax error", "import (\n", (), None, "inferred"),
]


@pytest.mark.parametrize(
    ("content", "packages", "python", "source"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_of_python(content: str, packages: tuple[str, ...], python: str | None, source: str):
    got = requirements.of_python(content)
    assert (got.packages, got.requires_python, got.source) == (packages, python, source)


RENAMES = [
    ("import yaml", "pyyaml"),
    ("from PIL import Image", "pillow"),
    ("import cv2", "opencv-python"),
    ("from sklearn.linear_model import X", "scikit-learn"),
    ("from bs4 import BeautifulSoup", "beautifulsoup4"),
    ("from dateutil import parser", "python-dateutil"),
    ("import psycopg2", "psycopg2-binary"),
    ("import jwt", "pyjwt"),
    ("from dotenv import load_dotenv", "python-dotenv"),
    ("from google.cloud import storage", "google-cloud-storage"),
    ("import google.cloud.bigquery", "google-cloud-bigquery"),
    ("from google.protobuf import message", "protobuf"),
    ("import attr", "attrs"),
    ("from Crypto.Cipher import AES", "pycryptodome"),
    ("import magic", "python-magic"),
    ("import wmill", "wmill"),
    ("import docx", "python-docx"),
    ("import git", "gitpython"),
    ("import typing_extensions", "typing-extensions"),
    ("import requests", "requests"),
]


@pytest.mark.parametrize(("source", "dist"), RENAMES)
def test_import_renames(source: str, dist: str):
    assert requirements.of_python(source).packages == (dist,)


def test_pin_adds_a_package_not_imported():
    got = requirements.of_python("# pin: six==1.16.0\nimport os\n")
    assert got.packages == ("six==1.16.0",)


def test_bad_pep723_block_is_reported():
    bad = "# /// script\n# dependencies = [\n# ///\n"
    with pytest.raises(requirements.InvalidMetadata):
        requirements.of_python(bad)


def test_a_lock_is_built_with_its_interpreter_or_else_its_version() -> None:
    header = f"{requirements.PYTHON_HEADER}{sys.executable}\n"
    here = f"{header}{requirements.VERSION_HEADER}3.11.7\nsix==1\n"
    assert requirements.lock_interpreter(here) == sys.executable
    elsewhere = here.replace(sys.executable, "/opt/elsewhere/bin/python3.11")
    assert requirements.lock_interpreter(elsewhere) == "3.11.7"


def test_typescript_bare_imports_mean_npm_and_node_builtins_mean_node() -> None:
    content = (
        'import _ from "lodash";\n'
        'import chunk from "lodash/chunk";\n'
        'import { readFileSync } from "fs";\n'
        'import type { Options } from "typed-only";\n'
        'import { join } from "jsr:@std/path@^1";\n'
        'import local from "./local.ts";\n'
        'const later = await import("npm:left-pad@1");\n'
    )
    imports = requirements.of_typescript(content)
    assert imports.import_map == {
        "lodash": "npm:lodash",
        "lodash/chunk": "npm:lodash/chunk",
        "fs": "node:fs",
    }
    assert imports.remote == (
        "npm:lodash",
        "npm:lodash/chunk",
        "jsr:@std/path@^1",
        "npm:left-pad@1",
    )


def test_the_requirements_hash_follows_the_requirements_not_the_code() -> None:
    def key(content: str, language: str = "python3") -> str:
        return requirements.requirements_hash(language, content)

    six = key("import six\nimport yaml\n\ndef main():\n    return 1\n")
    assert six == key("import yaml\nimport six\n\ndef main():\n    return 2\n")  # order, body
    assert six != key("# pin: six==1.16.0\nimport six\nimport yaml\n")
    assert six != key(
        "# /// script\n# requires-python = '>=3.11'\n# dependencies = ['six', 'pyyaml']\n# ///\n"
    )
    lodash = key('import _ from "lodash";\nexport function main() {}\n', "deno")
    assert lodash == key('import _ from "lodash";\nexport function main() { return 1; }\n', "deno")
    assert lodash != key('import _ from "npm:lodash";\nexport function main() {}\n', "deno")
