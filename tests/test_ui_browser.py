"""The web UI in a real browser (Debian's Chromium, driven by Playwright) against real
`tidemill server` and `tidemill worker` processes: sign in, write a script in the editor,
fill its generated form, run it with live logs, see validation messages, cancel a run.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from server.api import ui
from tests.conftest import ADMIN_TOKEN, Processes, wait_healthy

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN_PASSWORD = "admin-password"  # what the `config` fixture bootstraps the admin with
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "screenshots" / "script-page.png"

GREET = '''import time
from datetime import date, datetime
from typing import Literal, TypedDict


class Address(TypedDict):
    city: str
    zip: int


def main(
    name: str,
    address: Address,
    count: int = 2,
    ratio: float = 0.5,
    loud: bool = False,
    color: Literal["red", "green", "blue"] = "green",
    tags: list[str] = ["a"],
    day: date | None = None,
    at: datetime | None = None,
):
    """Greet someone, a few times.

    Args:
        name: Who to greet.
        count: How many greetings.
    """
    for i in range(count):
        print(f"hello {name} {i}", flush=True)
        time.sleep(0.4)
    return [
        {"name": name.upper() if loud else name, "i": i, "color": color,
         "tags": "+".join(tags), "city": address["city"], "zip": address["zip"],
         "ratio": ratio, "day": str(day), "at": str(at)[:10]}
        for i in range(count)
    ]
'''

SLOW = (
    "import time\n\n"
    "def main(seconds: int, note: str = 'nap'):\n"
    "    print('sleeping', flush=True)\n"
    "    time.sleep(seconds)\n"
    "    return note\n"
)

if not os.path.exists(CHROMIUM):
    pytest.skip(
        f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run does)",
        allow_module_level=True,
    )

from playwright.async_api import Browser, Page, async_playwright, expect  # noqa: E402


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if shutil.which("node") is None or not await asyncio.to_thread(ui.build, ui.SOURCE):
        pytest.fail("the web UI bundle could not be built (needs node and npm)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def base_url(processes: Processes) -> str:
    processes.start("server", extra_env={"TIDEMILL_ADMIN_PASSWORD": ADMIN_PASSWORD})
    processes.start("worker")
    url = f"http://127.0.0.1:{processes.env['TIDEMILL_PORT']}"
    await asyncio.to_thread(wait_healthy, url)
    return url


@pytest.fixture
async def page(browser: Browser, base_url: str) -> AsyncIterator[Page]:
    context = await browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield opened
    finally:
        await context.close()
    assert errors == [], errors


async def sign_in(page: Page) -> None:
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
    await page.get_by_label("Username").fill("admin")
    await page.get_by_label("Password").fill("wrong")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    await page.get_by_label("Password").fill(ADMIN_PASSWORD)
    await page.get_by_label("Password").press("Enter")
    await expect(page.get_by_role("heading", name="Scripts")).to_be_visible()


async def save_script(base_url: str, path: str, content: str) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{base_url}/api/w/main/scripts/create",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            json={"path": path, "content": content, "language": "python3"},
        )
    assert response.status_code == 201, response.text


async def test_write_a_script_fill_its_form_run_it_and_watch_it(page: Page, tmp_path: Path) -> None:
    await sign_in(page)
    await page.get_by_role("link", name="New script").click()
    await expect(page.get_by_role("heading", name="New script")).to_be_visible()
    await page.get_by_label("Path").fill("f/demo/greet")
    editor = page.get_by_role("textbox", name="Script source")
    await editor.click()
    await page.keyboard.press("Control+a")
    await page.keyboard.insert_text(GREET)

    # the preview is the form itself, updated as the source changes
    preview = page.get_by_role("region", name="Form preview")
    await expect(preview.get_by_label("color")).to_be_visible()
    await expect(preview.get_by_role("group", name="address")).to_be_visible()
    await page.get_by_role("button", name="Save").click()

    await expect(page).to_have_url(re.compile(r"/scripts/f/demo/greet$"))
    await expect(page.get_by_role("heading", name="f/demo/greet")).to_be_visible()
    form = page.get_by_role("form", name="Arguments")
    await expect(form.get_by_text("Who to greet.")).to_be_visible()  # the description as help

    # each kind of field, defaults pre-filled
    await expect(form.get_by_label("count", exact=True)).to_have_value("2")
    await expect(form.get_by_label("color", exact=True)).to_have_value("1")  # green, the default
    await expect(form.locator("input[type=checkbox]")).not_to_be_checked()
    await form.get_by_label("name", exact=True).fill("ada")
    address = form.get_by_role("group", name="address")
    await address.get_by_label("city", exact=True).fill("Paris")
    await address.get_by_label("zip", exact=True).fill("75001")
    await form.get_by_label("count", exact=True).fill("3")
    await form.get_by_label("ratio", exact=True).fill("0.25")
    await form.get_by_label("loud", exact=True).check()
    await form.get_by_label("color", exact=True).select_option(label="blue")
    tags = form.get_by_role("group", name="tags")
    await expect(tags.get_by_role("textbox")).to_have_count(1)  # the default ["a"]
    await tags.get_by_role("button", name="Add tags item").click()
    await tags.get_by_role("textbox").nth(1).fill("b")
    await tags.get_by_role("button", name="Add tags item").click()
    await tags.get_by_role("textbox").nth(2).fill("c")
    await tags.get_by_role("button", name="Remove tags item 1").click()
    await expect(tags.get_by_role("textbox")).to_have_count(2)
    await form.get_by_label("day", exact=True).fill("2024-02-29")
    await form.get_by_label("at", exact=True).fill("2024-03-01T12:30:00")

    await form.get_by_role("button", name="Run").click()
    run = page.get_by_role("region", name="Run", exact=True)
    logs = run.get_by_label("Logs")
    # the first line arrives while the job still runs: the logs stream live
    await expect(logs).to_contain_text("hello ada 0")
    await expect(run.get_by_role("status")).to_have_text("running")
    box_while_running = await logs.bounding_box()
    await expect(run.get_by_role("status")).to_have_text("success")
    await expect(logs).to_contain_text("hello ada 2")
    # no layout jump: the log box kept its place and size while lines arrived
    assert await logs.bounding_box() == box_while_running

    # a list of objects comes back as a table
    table = run.get_by_role("table")
    await expect(table.locator("tbody tr")).to_have_count(3)
    first = table.locator("tbody tr").first
    for value in ("ADA", "blue", "b+c", "Paris", "75001", "0.25", "2024-02-29"):
        await expect(first).to_contain_text(value)
    await expect(first).to_contain_text(re.compile(r"2024-03-0[12]"))

    recent = page.get_by_role("region", name="Recent runs")
    await expect(recent.get_by_text("success")).to_have_count(1)
    await expect(page.get_by_role("region", name="Webhook")).to_contain_text(
        "/api/w/main/jobs/run_wait_result/p/f/demo/greet"
    )
    await expect(run.get_by_role("button", name="Cancel")).to_be_hidden()
    # docs/screenshots/script-page.png is this page: TIDEMILL_UPDATE_SCREENSHOTS=1 refreshes it
    update = os.environ.get("TIDEMILL_UPDATE_SCREENSHOTS")
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(
        path=str(SCREENSHOT if update else tmp_path / "script-page.png"), full_page=True
    )


async def test_bad_values_are_named_and_a_long_run_can_be_canceled(
    page: Page, base_url: str
) -> None:
    await save_script(base_url, "f/demo/slow", SLOW)
    await sign_in(page)
    await page.get_by_role("link", name="f/demo/slow").click()
    form = page.get_by_role("form", name="Arguments")
    seconds = form.get_by_label("seconds", exact=True)
    await expect(form.get_by_text("Required.")).to_have_count(0)  # nothing marked before a try

    await form.get_by_role("button", name="Run").click()
    await expect(form.get_by_text("Required.")).to_be_visible()
    await expect(seconds).to_have_attribute("aria-invalid", "true")
    await expect(seconds).to_be_focused()

    await seconds.fill("2.5")
    await form.get_by_role("button", name="Run").click()
    await expect(form.get_by_text("Enter a whole number (an integer).")).to_be_visible()
    await expect(page.get_by_role("region", name="Run", exact=True)).to_have_count(
        0
    )  # nothing was queued

    await seconds.fill("60")
    # fixing the field clears its message on blur, as the pointer goes down on Run: the
    # message keeps its line until the submit, so Run does not move away from the click
    await form.get_by_role("button", name="Run").click()
    run = page.get_by_role("region", name="Run", exact=True)
    await expect(run.get_by_label("Logs")).to_contain_text("sleeping")
    await expect(run.get_by_role("status")).to_have_text("running")
    await run.get_by_role("button", name="Cancel").click()
    await expect(run.get_by_role("status")).to_have_text("canceled", timeout=15_000)
    await expect(run.get_by_role("alert")).to_be_visible()  # the error box says why

    # the run's own page: details, logs, and Re-run
    await run.get_by_role("link", name=re.compile(r"^[0-9a-f]{8}$")).click()
    await expect(page.get_by_role("heading", name=re.compile(r"^Run "))).to_be_visible()
    details = page.get_by_role("region", name="Details")
    await expect(details).to_contain_text("canceled")
    await expect(details).to_contain_text("1 of 3")
    await expect(page.get_by_role("region", name="Arguments")).to_contain_text('"seconds": 60')

    # Re-run queues the same version with the same arguments; its page can cancel it
    first_run = page.url
    await page.get_by_role("button", name="Re-run").click()
    await expect(page).not_to_have_url(first_run)
    rerun = page.get_by_role("region", name="Run", exact=True)
    await expect(rerun.get_by_label("Logs")).to_contain_text("sleeping")
    await rerun.get_by_role("button", name="Cancel").click()
    await expect(rerun.get_by_role("status")).to_have_text("canceled")

    # the runs page filters on the server: by status, script or folder, and time
    await page.get_by_role("link", name="Runs").click()
    rows = page.get_by_role("row").filter(has_text="f/demo/slow")
    await expect(rows).to_have_count(2)
    await page.get_by_label("Status").select_option("success")
    await expect(page.get_by_text("No runs match.")).to_be_visible()
    await expect(page).to_have_url(re.compile(r"/runs\?status=success$"))
    await page.get_by_label("Status").select_option("canceled")
    await expect(rows).to_have_count(2)
    await page.get_by_label("Script").fill("f/other/")
    await page.get_by_label("Script").press("Enter")
    await expect(page.get_by_text("No runs match.")).to_be_visible()
    await page.get_by_label("Script").fill("f/demo/")
    await page.get_by_label("Script").press("Enter")
    await expect(rows).to_have_count(2)
    await page.get_by_label("Created").select_option(label="Between…")
    await page.get_by_label("Until").fill("2020-01-01T00:00:00")
    await page.get_by_label("Until").press("Enter")
    await expect(page.get_by_text("No runs match.")).to_be_visible()
    await page.get_by_label("Created").select_option(label="Last hour")
    await expect(rows).to_have_count(2)
    await expect(page.get_by_role("button", name="Older")).to_be_disabled()


async def test_variables_are_created_and_secrets_never_shown(page: Page) -> None:
    await sign_in(page)
    await page.get_by_role("link", name="Variables").click()
    form = page.get_by_role("form", name="New variable")
    await form.get_by_label("Path").fill("f/demo/api_key")
    await form.get_by_label("Value").fill("s3cr3t-value")
    await expect(form.get_by_label("Secret (encrypted, never shown again)")).to_be_checked()
    await form.get_by_role("button", name="Create variable").click()
    listed = page.get_by_role("region", name="Variables")
    await expect(listed.get_by_role("row").filter(has_text="f/demo/api_key")).to_contain_text(
        "secret"
    )
    await expect(page.get_by_text("s3cr3t-value")).to_have_count(0)


async def test_versions_are_listed_with_a_diff_to_the_previous_one(
    page: Page, base_url: str
) -> None:
    await save_script(base_url, "f/demo/slow", SLOW)
    await sign_in(page)
    await page.goto("/edit/f/demo/slow")
    await expect(page.get_by_role("heading", name="Edit f/demo/slow")).to_be_visible()
    editor = page.get_by_role("textbox", name="Script source")
    await editor.click()
    await page.keyboard.press("Control+a")
    await page.keyboard.insert_text(SLOW.replace("print('sleeping', flush=True)", "print('v2')"))
    await expect(
        page.get_by_role("region", name="Form preview").get_by_label("seconds")
    ).to_be_visible()
    await page.keyboard.press("Control+s")  # Save, from the keyboard
    await expect(page).to_have_url(re.compile(r"/scripts/f/demo/slow$"))

    await page.get_by_role("link", name="Edit").click()
    versions = page.get_by_role("region", name="Versions")
    await expect(versions.get_by_role("listitem")).to_have_count(2)
    await expect(versions.get_by_role("listitem").first).to_contain_text("(current)")
    await versions.get_by_role(
        "button", name=re.compile("^Diff .* to the previous version$")
    ).click()
    diff = versions.get_by_role("region", name=re.compile("^Changes in "))
    await expect(diff.locator(".cm-changedLine")).to_have_count(1)
    await expect(diff.locator(".cm-changedLine")).to_contain_text("print('v2')")
    await expect(diff.locator(".cm-deletedChunk")).to_contain_text("print('sleeping', flush=True)")


async def test_tokens_are_created_once_listed_and_revoked(page: Page, base_url: str) -> None:
    await sign_in(page)
    await page.get_by_role("link", name="Tokens").click()
    form = page.get_by_role("form", name="New token")
    await form.get_by_label("Label").fill("ci hook")
    await expect(form.get_by_label("Scopes")).to_have_accessible_description(
        re.compile(r"run:script/<path> runs that one script, run:flow/<path> that one flow")
    )
    await form.get_by_label("Scopes").fill("run:f/demo/slow")
    await form.get_by_label("Expires").select_option(label="30 days")
    await form.get_by_role("button", name="Create token").click()
    shown = form.get_by_label("New token")
    await expect(shown).to_have_text(re.compile(r"^tm_"))
    issued = (await shown.text_content() or "").strip()

    listed = page.get_by_role("region", name="Your tokens")
    row = listed.get_by_role("row").filter(has_text="ci hook")
    await expect(row).to_contain_text("run:f/demo/slow")
    await expect(row).to_contain_text(issued[:6])
    await expect(listed).not_to_contain_text(issued)  # the list never holds the token

    async with httpx.AsyncClient(base_url=base_url) as client:
        auth = {"Authorization": f"Bearer {issued}"}
        allowed = await client.get(
            "/api/w/main/jobs/list?script_path_exact=f/demo/slow", headers=auth
        )
        assert allowed.status_code == 200
        page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await row.get_by_role("button", name=re.compile("^Revoke ci hook")).click()
        await expect(row).to_have_count(0)
        revoked = await client.get(
            "/api/w/main/jobs/list?script_path_exact=f/demo/slow", headers=auth
        )
        assert revoked.status_code == 401
    await expect(listed.get_by_role("row").filter(has_text="(this session)")).to_have_count(1)


FAIL = (
    "def main(x: int = 1):\n    helper(x)\n\ndef helper(x):\n    raise ValueError(f'bad x {x}')\n"
)


NESTED = "def main():\n    return {'ok': True, 'point': {'x': 1, 'y': 2}, 'tags': ['a', 'b']}\n"


async def test_schedules_webhooks_results_and_workers(page: Page, base_url: str) -> None:
    await save_script(base_url, "f/demo/slow", SLOW)
    await save_script(base_url, "f/demo/fail", FAIL)
    await sign_in(page)

    # a schedule made on the Schedules page shows on its script's page
    await page.get_by_role("link", name="Schedules").click()
    form = page.get_by_role("form", name="New schedule")
    await form.get_by_label("Path").fill("f/demo/nightly")
    await form.get_by_label("Cron").fill("0 0 3 * * *")
    await form.get_by_label("Timezone").fill("UTC")
    await form.get_by_label("Script").select_option("f/demo/slow")
    # the arguments are the script's generated form, checked before anything is sent
    arguments = form.get_by_role("group", name="Arguments")
    await expect(arguments.get_by_label("note", exact=True)).to_have_value("nap")
    await form.get_by_role("button", name="Create schedule").click()
    await expect(arguments.get_by_text("Required.")).to_be_visible()
    await arguments.get_by_label("seconds", exact=True).fill("1")
    await form.get_by_role("button", name="Create schedule").click()
    row = (
        page.get_by_role("region", name="Schedules")
        .get_by_role("row")
        .filter(has_text="f/demo/nightly")
    )
    await expect(row).to_contain_text("0 0 3 * * *")
    await expect(row).to_contain_text(re.compile(r"\d{1,2}:00:00"))  # the next fire time
    await row.get_by_label("Enabled: f/demo/nightly").uncheck()
    await expect(page.get_by_text("f/demo/nightly disabled.")).to_be_visible()

    async with httpx.AsyncClient(base_url=base_url) as client:
        made = await client.get(
            "/api/w/main/schedules/get/f/demo/nightly",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
    assert made.json()["args"] == {"seconds": 1, "note": "nap"}
    await row.get_by_role("link", name="f/demo/slow").click()
    schedules = page.get_by_role("region", name="Schedules")
    await expect(schedules).to_contain_text("0 0 3 * * *")
    await expect(schedules).to_contain_text("(disabled)")

    # the webhook: both URLs and a curl line that follows the form's values
    webhook = page.get_by_role("region", name="Webhook")
    await expect(webhook).to_contain_text(f"{base_url}/api/w/main/jobs/run/p/f/demo/slow")
    curl = webhook.locator("pre")
    await expect(curl).to_contain_text('-d \'{"note":"nap"}\'')  # the defaults
    await page.get_by_role("form", name="Arguments").get_by_label("seconds").fill("5")
    await expect(curl).to_contain_text(
        f"curl -X POST {base_url}/api/w/main/jobs/run_wait_result/p/f/demo/slow"
    )
    await expect(curl).to_contain_text('-d \'{"seconds":5,"note":"nap"}\'')

    # a failure: the error box with the script's message and stack
    await page.goto("/scripts/f/demo/fail")
    await page.get_by_role("form", name="Arguments").get_by_label("x").press("Control+Enter")
    run = page.get_by_role("region", name="Run", exact=True)
    await expect(run.get_by_role("status")).to_have_text("failure")
    error = run.get_by_role("alert")
    await expect(error).to_contain_text("ValueError")
    await expect(error).to_contain_text("bad x 1")
    await expect(error).to_contain_text("in helper")  # the stack, down to the raising frame

    # a result that is not a list of objects: a foldable JSON tree, raw JSON a click away
    await save_script(base_url, "f/demo/nested", NESTED)
    await page.goto("/scripts/f/demo/nested")
    await page.get_by_role("button", name="Run").click()
    run = page.get_by_role("region", name="Run", exact=True)
    await expect(run.get_by_role("status")).to_have_text("success")
    tree = run.locator(".json-tree")
    await expect(tree).to_contain_text('"point": { 2 keys }')
    await expect(tree).to_contain_text('"tags": [ 2 items ]')
    await run.get_by_role("button", name="Raw JSON").click()
    await expect(run.locator("pre.json-raw")).to_contain_text('"ok": true')
    await expect(tree).to_be_hidden()

    # the scripts list: each script's last run, search
    await page.get_by_role("link", name="Scripts").click()
    scripts = page.get_by_role("row")
    await expect(scripts.filter(has_text="f/demo/fail")).to_contain_text("failure")
    await expect(scripts.filter(has_text="f/demo/slow")).to_contain_text("never")
    await page.get_by_label("Search").fill("fail")
    await expect(page.get_by_text("1 of 3 scripts")).to_be_visible()
    await expect(scripts.filter(has_text="f/demo/slow")).to_have_count(0)

    # the worker that ran it, live
    await page.get_by_role("link", name="Workers").click()
    workers = page.get_by_role("row").filter(has_text="pid")
    await expect(workers).to_have_count(1)
    await expect(workers).to_contain_text("default")


async def test_every_page_fits_a_phone(page: Page, base_url: str) -> None:
    await save_script(base_url, "f/demo/greet", GREET)
    await save_script(base_url, "f/demo/fail", FAIL)
    await page.set_viewport_size({"width": 360, "height": 740})
    await sign_in(page)
    for path in (
        "/",
        "/scripts/f/demo/greet",
        "/edit/f/demo/greet",
        "/runs",
        "/schedules",
        "/variables",
        "/tokens",
        "/workers",
    ):
        await page.goto(path)
        await expect(page.locator("main h1")).to_be_visible()
        await expect(page.locator("main")).not_to_have_attribute("aria-busy", "true")
        width = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], (path, width)  # nothing to scroll sideways
    # the whole navigation wraps onto the screen rather than hiding behind a scroll
    for name in ("Scripts", "Flows", "Runs", "Schedules", "Variables", "Tokens", "Workers"):
        box = (
            await page.get_by_role("navigation", name="Main")
            .get_by_role("link", name=name)
            .bounding_box()
        )
        assert box is not None and box["x"] + box["width"] <= 360, name


async def test_runs_are_paged(page: Page, base_url: str) -> None:
    await save_script(base_url, "f/demo/slow", SLOW)
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as client:
        for i in range(51):  # queued an hour ahead: nothing runs, the list just grows
            response = await client.post(
                "/api/w/main/jobs/run/p/f/demo/slow",
                params={"scheduled_in_secs": 3600},
                json={"seconds": i},
            )
            assert response.status_code == 201
    await sign_in(page)
    await page.get_by_role("link", name="Runs").click()
    rows = page.get_by_role("row").filter(has_text="f/demo/slow")
    await expect(rows).to_have_count(50)
    await expect(page.get_by_role("button", name="Newer")).to_be_disabled()
    await page.get_by_role("button", name="Older").click()
    await expect(rows).to_have_count(1)
    await expect(page).to_have_url(re.compile(r"/runs\?page=2$"))
    await expect(page.get_by_role("button", name="Older")).to_be_disabled()
    await page.get_by_role("button", name="Newer").click()
    await expect(rows).to_have_count(50)
    await page.get_by_label("Status").select_option("queued")
    await expect(rows).to_have_count(50)
    await expect(page.get_by_role("button", name="Older")).to_be_enabled()


async def tab_to(page: Page, selector: str, most: int = 15) -> None:
    """Press Tab until the focused element matches `selector` (as a keyboard user would)."""
    for _ in range(most):
        await page.keyboard.press("Tab")
        if await page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
            return
    raise AssertionError(f"{selector} is not reachable with Tab")


async def test_signing_in_and_running_with_the_keyboard_alone(page: Page, base_url: str) -> None:
    await save_script(base_url, "f/demo/fail", FAIL)
    await page.goto("/login")
    await expect(page.get_by_label("Username")).to_be_focused()
    await page.keyboard.type("admin")
    await page.keyboard.press("Tab")
    await page.keyboard.type(ADMIN_PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Scripts")).to_be_focused()

    await tab_to(page, 'a[href="/scripts/f/demo/fail"]')
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="f/demo/fail")).to_be_focused()
    await tab_to(page, 'input[name="x"]')
    await page.keyboard.press("Control+a")
    await page.keyboard.type("7")
    await page.keyboard.press("Control+Enter")
    run = page.get_by_role("region", name="Run", exact=True)
    await expect(run.get_by_role("alert")).to_contain_text("bad x 7")

    # every page opens with its heading focused, so the next Tab is the page's first control
    await page.goto("/runs")
    await expect(page.get_by_role("heading", name="Runs")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Refresh")).to_be_focused()
