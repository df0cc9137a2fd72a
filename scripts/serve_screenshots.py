"""Screenshots of the sense serve page at phone and desktop width, taken with the same headless Chromium the tests
use (Debian's chromium, driven by Playwright): docs/serve-phone.png and docs/serve-desktop.png.

    .venv/bin/python scripts/serve_screenshots.py
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from edge.serve.server import open_server

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = {"serve-phone.png": {"width": 390, "height": 1500}, "serve-desktop.png": {"width": 1280, "height": 900}}


def main() -> None:
    server = open_server(None, port=0, loop=True, write_state=False)  # the bundled pack, rig (sim://) and example
    pipeline = threading.Thread(target=server.run, daemon=True)
    pipeline.start()
    try:
        server.live.set({"group_gains": {"kick": 0.8}})
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name, viewport in SHOTS.items():
                page = browser.new_page(viewport=viewport, device_scale_factor=1)
                page.goto(f"{server.base_url}/#token={server.pairing.token}")
                page.locator("#map circle").first.wait_for()
                time.sleep(4.0)  # latency and tags filled in
                page.locator("details").evaluate("d => d.open = true")
                page.screenshot(path=str(ROOT / "docs" / name), full_page=name == "serve-phone.png")
                print("wrote", ROOT / "docs" / name)
                page.close()
            browser.close()
    finally:
        server.stop()
        pipeline.join(30)


if __name__ == "__main__":
    main()
