"""Flows in the web UI, in a real browser against real server and worker processes: the
graph, a run coloured live, the YAML editor's preview and problems, an approval page.

The fixtures (Chromium, the processes, a page) are test_ui_browser's.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from tests import test_ui_browser
from tests.conftest import ADMIN_TOKEN

pytestmark = pytest.mark.browser

# test_ui_browser's fixtures, used here under the same names
browser = test_ui_browser.browser
base_url = test_ui_browser.base_url
page = test_ui_browser.page
sign_in = test_ui_browser.sign_in

SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "screenshots" / "flow-page.png"


def js(expr: str) -> dict[str, str]:
    return {"type": "javascript", "expr": expr}


def raw(step_id: str, content: str, **transforms: Any) -> dict[str, Any]:
    value = {"type": "rawscript", "language": "python3", "content": content}
    return {"id": step_id, "value": {**value, "input_transforms": transforms}}


GREET = 'def main(name: str):\n    print(f"greeting {name}")\n    return f"hello {name}"\n'
SQUARE = "def main(x: int):\n    return x * x\n"
DONE = (
    "def main(greeting: str, squares: list):\n"
    "    return {'greeting': greeting, 'total': sum(squares)}\n"
)
DEMO = {
    "path": "f/demo/tour",
    "summary": "greet, square in a loop, pick a branch, sum up",
    "schema": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "n": {"type": "integer", "default": 3}},
        "required": ["name"],
    },
    "value": {
        "modules": [
            raw("greet", GREET, name=js("flow_input.name")),
            {
                "id": "each",
                "value": {
                    "type": "forloopflow",
                    "iterator": js("[1, 2, flow_input.n]"),
                    "parallel": True,
                    "modules": [raw("square", SQUARE, x=js("flow_input.iter.value"))],
                },
            },
            {
                "id": "pick",
                "value": {
                    "type": "branchone",
                    "branches": [
                        {
                            "expr": "flow_input.n > 2",
                            "modules": [{"id": "big", "value": {"type": "identity"}}],
                        }
                    ],
                    "default": [{"id": "small", "value": {"type": "identity"}}],
                },
            },
            {
                "id": "again",
                "value": {
                    "type": "whileloopflow",
                    "modules": [{"id": "tick", "value": {"type": "identity"}}],
                },
                "stop_after_if": {"expr": "true"},
            },
            raw("done", DONE, greeting=js("results.greet"), squares=js("results.each")),
        ],
        "failure_module": raw("alert", "def main():\n    return 'failed'\n"),
    },
}
FORM = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}, "note": {"type": "string"}},
    "required": ["ok"],
}
APPROVAL = {
    "path": "f/demo/approve",
    "summary": "ask, then act",
    "value": {
        "modules": [
            {
                **raw("ask", "def main():\n    return {'amount': 42}\n"),
                "suspend": {"required_events": 1, "timeout": 120, "resume_form": {"schema": FORM}},
            },
            raw(
                "act",
                "def main(ok: bool, note: str):\n    return {'ok': ok, 'note': note}\n",
                ok=js("resume.ok"),
                note=js("resume.note"),
            ),
        ]
    },
}


async def api(base: str, method: str, path: str, body: Any = None) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base) as client:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        return await client.request(method, path, headers=headers, json=body)


def step(page: Page, step_id: str) -> Any:
    return page.locator(f'.fg-node[data-step="{step_id}"]')


async def test_a_flow_page_draws_the_flow_and_colours_a_run(
    page: Page,
    base_url: str,
    tmp_path: Path,
) -> None:
    response = await api(base_url, "POST", "/api/w/main/flows/create", DEMO)
    assert response.status_code == 201, response.text
    await sign_in(page)
    await page.get_by_role("link", name="Flows").click()
    await page.get_by_role("link", name="f/demo/tour").click()
    await expect(page.get_by_role("heading", name="f/demo/tour")).to_be_visible()

    graph = page.get_by_role("region", name="Graph")
    for step_id in ("greet", "each", "square", "pick", "big", "small", "again", "tick"):
        await expect(step(page, step_id)).to_be_visible()
    for step_id in ("done", "alert"):
        await expect(step(page, step_id)).to_be_visible()
    await expect(step(page, "again")).to_contain_text("repeat until a stop_after_if says stop")
    await expect(step(page, "each")).to_contain_text("for each in [1, 2, flow_input.n]")
    await expect(graph.locator(".fg-lane")).to_have_count(2)  # the branch and the default
    await expect(graph.locator(".fg-failure")).to_contain_text("On failure")

    form = page.get_by_role("form", name="Inputs")
    await expect(form.get_by_label("n", exact=True)).to_have_value("3")
    await form.get_by_label("name", exact=True).fill("ada")
    # the webhook: both URLs, the scope for its token, a curl line with the form's values
    jobs = re.escape(f"{base_url}/api/w/main/jobs")
    await expect(page.get_by_role("region", name="Webhook")).to_contain_text(
        re.compile(
            rf"{jobs}/run_wait_result/f/f/demo/tour.*{jobs}/run/f/f/demo/tour"
            r'.*run:flow/f/demo/tour.*-d \'\{"name":"ada","n":3\}\'',
            re.DOTALL,
        )
    )
    await form.get_by_role("button", name="Run").click()

    run = page.get_by_role("region", name="Flow run")
    await expect(run.get_by_role("status")).to_have_text("success", timeout=30_000)
    for step_id in ("greet", "each", "square", "pick", "big", "again", "tick", "done"):
        await expect(step(page, step_id)).to_have_attribute("data-state", "Success")
    await expect(step(page, "each")).to_contain_text("3/3 iterations done")
    await expect(step(page, "again")).to_contain_text("1 iteration done")
    await expect(step(page, "small")).to_have_attribute("data-state", "none")
    await expect(graph.locator('.fg-lane[data-taken="false"]')).to_contain_text("default")
    await expect(step(page, "alert")).to_have_attribute("data-state", "none")
    await expect(run.locator(".result-area")).to_contain_text('"hello ada"')
    await expect(run.locator(".result-area")).to_contain_text("14")  # 1 + 4 + 9

    # a step's logs and result, one click away
    await step(page, "greet").click()
    details = page.get_by_role("region", name="Step details")
    await expect(details.get_by_label("Logs")).to_contain_text("greeting ada")
    await expect(details.locator(".result-area")).to_contain_text('"hello ada"')
    await step(page, "each").click()
    await expect(
        details.get_by_role("list", name="Iterations").get_by_role("listitem")
    ).to_have_count(3)

    # docs/screenshots/flow-page.png is this page: TIDEMILL_UPDATE_SCREENSHOTS=1 refreshes it
    update = os.environ.get("TIDEMILL_UPDATE_SCREENSHOTS")
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(
        path=str(SCREENSHOT if update else tmp_path / "flow-page.png"), full_page=True
    )

    # the flows list shows each flow's last run
    await page.goto("/flows")
    await expect(page.get_by_role("row").filter(has_text="f/demo/tour")).to_contain_text("success")

    # on a phone the page does not scroll sideways: a graph wider than the screen scrolls
    # inside its card, from its left edge
    await page.set_viewport_size({"width": 360, "height": 740})
    for path in ("/flows", "/flows/f/demo/tour", "/flows/edit/f/demo/tour"):
        await page.goto(path)
        await expect(
            step(page, "big").or_(page.get_by_role("link", name="f/demo/tour"))
        ).to_be_visible()
        width = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], (path, width)
        if path != "/flows":
            box = await step(page, "big").bounding_box()
            card = await page.locator(".flow-graph").bounding_box()
            assert box is not None and card is not None and box["x"] >= card["x"], (box, card)


BAD_YAML = "summary: x\nvalue:\n  modules:\n    - id: a\n     value: [\n"
FORWARD = """summary: reads a later step
value:
  modules:
    - id: first
      value:
        type: rawscript
        language: python3
        content: |
          def main(x: str):
              return x
        input_transforms:
          x: {type: javascript, expr: results.second}
    - id: second
      value: {type: identity}
"""


async def test_the_flow_editor_previews_the_graph_and_names_problems(page: Page) -> None:
    await sign_in(page)
    await page.get_by_role("link", name="Flows").click()
    await page.get_by_role("link", name="New flow").click()
    await expect(page.get_by_role("heading", name="New flow")).to_be_visible()
    preview = page.get_by_role("region", name="Preview")
    await expect(preview.get_by_role("status")).to_have_text("No problems: 2 steps.")
    await expect(step(page, "hello")).to_be_visible()
    await expect(step(page, "shout")).to_be_visible()

    editor = page.get_by_role("textbox", name="Flow YAML")
    problems = preview.get_by_role("list", name="Problems")
    await editor.click()
    await page.keyboard.press("Control+a")
    await page.keyboard.insert_text(BAD_YAML)
    await expect(preview.get_by_role("status")).to_have_text("The YAML does not parse.")
    await expect(problems).to_contain_text("line 5")

    await page.keyboard.press("Control+a")
    await page.keyboard.insert_text(FORWARD)
    await expect(preview.get_by_role("status")).to_have_text("1 problem; a save would be refused.")
    await expect(problems).to_contain_text("reads results.second")
    await expect(step(page, "first")).to_have_class(re.compile(r"\bfg-problem\b"))
    await expect(step(page, "second")).not_to_have_class(re.compile(r"\bfg-problem\b"))

    # fixed: the preview follows, and Save makes the flow
    await page.keyboard.press("Control+a")
    await page.keyboard.insert_text(FORWARD.replace("results.second", "flow_input.x"))
    await expect(preview.get_by_role("status")).to_have_text("No problems: 2 steps.")
    await expect(step(page, "first")).not_to_have_class(re.compile(r"\bfg-problem\b"))
    await page.get_by_label("Path").fill("f/demo/edited")
    await page.get_by_role("button", name="Save").click()
    await expect(page).to_have_url(re.compile(r"/flows/f/demo/edited$"))
    await expect(page.get_by_role("heading", name="f/demo/edited")).to_be_visible()
    await expect(page.get_by_text("reads a later step")).to_be_visible()


async def test_an_approval_page_approves_with_its_form(
    page: Page,
    base_url: str,
) -> None:
    response = await api(base_url, "POST", "/api/w/main/flows/create", APPROVAL)
    assert response.status_code == 201, response.text
    flow_id = (await api(base_url, "POST", "/api/w/main/jobs/run/f/f/demo/approve", {})).text
    waiting: dict[str, Any] = {}
    for _ in range(300):
        status = (await api(base_url, "GET", f"/api/w/main/jobs_u/get/{flow_id}")).json()
        waiting = status["flow_status"]["modules"][0]
        if waiting["type"] == "WaitingForEvents":
            break
        await asyncio.sleep(0.1)
    assert waiting["type"] == "WaitingForEvents", waiting
    urls = (await api(base_url, "GET", f"/api/w/main/jobs/resume_urls/{waiting['job']}/1")).json()

    # not signed in: the signed link is the credential
    await page.goto(urls["approvalPage"])
    await expect(page.get_by_role("heading", name="Approval: f/demo/approve")).to_be_visible()
    await expect(page.get_by_text("step ask waits for approval")).to_be_visible()
    await expect(step(page, "ask")).to_have_attribute("data-state", "WaitingForEvents")
    await expect(step(page, "act")).to_be_visible()
    await expect(page.get_by_text('"amount": 42', exact=True)).to_be_visible()  # the step's result

    form = page.get_by_role("form", name="Your answer")
    await form.get_by_label("note", exact=True).fill("looks fine")
    await form.get_by_label("ok", exact=True).check()
    await form.get_by_role("button", name="Approve").click()
    await expect(page.get_by_text("Approved: the flow goes on.")).to_be_visible()
    await expect(step(page, "ask")).to_have_attribute("data-state", "Success")
    await expect(page.locator(".approval-state")).to_contain_text("success")
    await expect(form.get_by_role("button", name="Approve")).to_be_disabled()

    done = (await api(base_url, "GET", f"/api/w/main/jobs_u/get/{flow_id}")).json()
    assert done["result"] == {"ok": True, "note": "looks fine"}, done

    # a link whose signature was changed shows why, and nothing to approve
    await page.goto(urls["approvalPage"][:-4] + "0000")
    await expect(page.get_by_role("alert")).to_have_text(
        "This approval link is not valid (wrong or changed signature)."
    )
