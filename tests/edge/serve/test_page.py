"""The control page in a real browser: Debian's headless Chromium (scripts/setup.sh installs it) driven by
Playwright, against a real ``sense serve`` on 127.0.0.1 driving a simulated rig. Nothing is downloaded; timeouts
are generous and nothing here asserts how fast anything is."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.edge.serve.conftest import EVENT_TIMEOUT_S, Served

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = EVENT_TIMEOUT_S * 1000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    opened = context.new_page()
    opened.set_default_timeout(TIMEOUT_MS)
    yield opened
    context.close()


def _frames_seen(page: Page) -> int:
    return int(page.locator("body").get_attribute("data-frames") or 0)


def _open(page: Page, served: Served) -> None:
    page.goto(f"{served.url}/#token={served.token}")
    expect(page.locator("#map circle")).to_have_count(16)
    _wait_for(lambda: _frames_seen(page) > 5, "live frames on the page")


def _intensities(page: Page) -> list[float]:
    return [float(v) for v in page.eval_on_selector_all("#map circle", "cs => cs.map(c => c.dataset.intensity)")]


def _wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + EVENT_TIMEOUT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_the_page_draws_the_rig_and_its_intensities_move_while_the_file_plays(page: Page, served: Served) -> None:
    _open(page, served)
    assert page.evaluate("location.hash") == ""  # the token left the address bar
    samples = []
    for _ in range(12):
        samples.append(tuple(_intensities(page)))
        page.wait_for_timeout(150)
    assert len(set(samples)) > 3 and max(map(max, samples)) > 0.05
    expect(page.locator("#preset")).not_to_be_empty()
    expect(page.locator("#rig-name")).to_have_text("Simulated vest, 16 ERM motors")
    expect(page.locator("#hop-p95")).to_contain_text("ms")
    expect(page.locator("#link")).to_have_text("live")


def test_moving_controls_on_the_page_changes_the_simulated_outputs(page: Page, served: Served) -> None:
    _open(page, served)
    session = served.server.live.session
    page.get_by_role("radio", name="Bass").click()
    _wait_for(lambda: session.controls.mode == "bass", "mode bass")
    expect(page.get_by_role("radio", name="Bass")).to_have_attribute("aria-checked", "true")
    served.wait_hops(250)
    bass = np.array(session.rig.spec.groups["bass"])
    frames = served.recent_frames(200)
    np.testing.assert_array_equal(np.delete(frames, bass, axis=1), 0.0)
    assert frames[:, bass].max() > 0.05

    page.locator("#master").focus()
    page.keyboard.press("Home")  # the intensity slider all the way down
    _wait_for(lambda: session.controls.master == 0.0, "master 0")
    served.wait_hops(50)
    np.testing.assert_array_equal(served.recent_frames(40), 0.0)
    page.keyboard.press("End")
    _wait_for(lambda: session.controls.master == 1.0, "master 1")

    expect(page.locator("#offset-row")).to_be_visible()  # the session offers a haptic offset
    page.locator("#offset").focus()
    page.keyboard.press("End")  # touch 250 ms later
    _wait_for(lambda: session.live_params()["haptic_offset_ms"] == 250, "haptic offset 250 ms")
    expect(page.locator("#offset-value")).to_have_text("250 ms")

    page.locator("#mute").click()
    _wait_for(lambda: session.controls.muted, "mute")
    np.testing.assert_array_equal(served.sim.output.state, 0.0)
    expect(page.locator("#mute")).to_have_attribute("aria-pressed", "true")
    page.locator("#mute").click()
    _wait_for(lambda: not session.controls.muted, "unmute")
    served.wait_hops(250)
    assert served.recent_frames(200).max() > 0


def test_without_the_token_the_page_reaches_nothing(page: Page, served: Served) -> None:
    page.goto(served.url + "/")
    expect(page.locator("#pair")).to_be_visible()
    expect(page.locator("#main")).to_be_hidden()
    page.locator("#token-input").fill("not-the-token")
    page.get_by_role("button", name="Connect").click()
    expect(page.locator("#message")).to_contain_text("missing or wrong pairing token")
    expect(page.locator("#main")).to_be_hidden()
    page.wait_for_timeout(500)
    assert _frames_seen(page) == 0  # no live frame ever arrived
    page.locator("#token-input").fill(served.token)
    page.get_by_role("button", name="Connect").click()
    expect(page.locator("#main")).to_be_visible()
    _wait_for(lambda: _frames_seen(page) > 2, "live frames after pairing")


def test_bad_values_from_the_browser_get_an_error_and_change_nothing(page: Page, served: Served) -> None:
    _open(page, served)
    before = served.server.live.session.live_params()
    answer = page.evaluate(
        """async (token) => {
        const response = await fetch('/api/set', {method: 'POST', body: '{"master": 5, "mode": "beat"}',
                                                  headers: {'Authorization': 'Bearer ' + token}});
        return [response.status, (await response.json()).error];
    }""",
        served.token,
    )
    assert answer[0] == 400 and "control master: 5 is out of range" in answer[1]
    assert served.server.live.session.live_params() == before

    good = served.rig_path.read_text()
    served.rig_path.write_text(good.replace("resonance_hz = 180.0", "resonance_hz = 1800.0"))
    page.locator("#reload").click()  # the rig file as given at start, read again: now broken
    expect(page.locator("#message")).to_contain_text("rig.toml:")
    expect(page.locator("#message")).to_contain_text("resonance_hz: 1800.0 Hz cannot be felt")
    expect(page.locator("#message")).to_have_class("error")
    assert served.server.live.session.live_params() == before
    served.wait_hops(100)
    assert served.recent_frames(80).max() > 0  # still playing the rig it had

    served.rig_path.write_text(good)
    page.get_by_role("radio", name="Beat").click()
    _wait_for(lambda: served.server.live.session.controls.mode == "beat", "mode beat")
    page.locator("#save").click()
    expect(page.locator("#message")).to_contain_text("Saved to")
    assert 'mode = "beat"' in served.rig_path.read_text()
