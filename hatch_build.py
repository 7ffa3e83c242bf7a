"""A hatchling build hook: the web UI bundle is built with the Python package.

`uv sync` (an editable install) and `uv build` both run it, so a fresh clone
serves the UI from `uv run tidemill up` with nothing else to do. The work is in
`frontend/build.mjs`, which returns at once when the bundle is fresh, so an
unchanged tree costs one `node` start. A wheel carries the bundle as
`server/ui_bundle`; an editable install serves `frontend/dist` in place.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class WebUiBundle(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return  # the sdist carries the sources; its wheel builds them
        frontend = Path(self.root) / "frontend"
        editable = version == "editable"
        node = shutil.which("node")
        if node is None:
            self._give_up("Node.js 20+ (`node`, `npm`) is needed to build the web UI", editable)
            return
        built = subprocess.run([node, str(frontend / "build.mjs")], cwd=frontend, check=False)
        if built.returncode != 0:
            self._give_up("the web UI build failed (frontend/build.mjs)", editable)
            return
        if not editable:
            build_data["force_include"][str(frontend / "dist")] = "server/ui_bundle"

    def _give_up(self, why: str, editable: bool) -> None:
        # an editable install still works without the UI: the API does not need it, and
        # the server builds the bundle itself on first use once node is there
        if not editable:
            raise RuntimeError(why)
        self.app.display_warning(f"{why}; the web UI is not built yet")
