"""Retake the MLflow screenshots of docs/walkthrough.md with headless Chromium (Debian's ``chromium``).

    mlflow ui --backend-store-uri sqlite:///results/mlflow.db --host 127.0.0.1 --port 5077 &
    python docs/screenshot_mlflow.py --experiment-id 1 --parent-run RUN_ID

A plain ``chromium --headless --screenshot=... --virtual-time-budget=15000 URL`` shows MLflow 3's
GenAI view with its assistant panel open and the search's parent run collapsed; this drives the same
browser over the DevTools protocol (``aiohttp`` comes with ``ray[default]``) to close the panel,
switch to "Model training", expand the parent run and show the validation charts first.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import shutil
import subprocess
import tempfile
from pathlib import Path

import aiohttp

DOCS = Path(__file__).resolve().parent
WIDTH, HEIGHT, PAGE_SECONDS = 1400, 900, 10.0
CLOSE_ASSISTANT = 'document.querySelector("[data-component-id=\\"mlflow.assistant.chat_panel.close\\"]")?.click()'
MODEL_TRAINING = 'Array.from(document.querySelectorAll("div[role=button]")).find(e => e.textContent.trim() === "Model training")?.click()'
EXPAND_PARENT = 'document.querySelector(".ag-row button[data-component-id$=\\"runnamecellrenderer.tsx_46\\"]")?.click()'
CHARTS_VAL = """(() => { const box = document.querySelector('input[placeholder="Search metric charts"]');
  Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set.call(box, "val_");
  box.dispatchEvent(new Event("input", {bubbles: true})); })()"""


class Page:
    """One Chromium tab over the DevTools protocol: navigate, run JavaScript, capture a PNG."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse):
        self.socket, self.next_id = socket, 0

    async def call(self, method: str, **params) -> dict:
        self.next_id += 1
        await self.socket.send_json({"id": self.next_id, "method": method, "params": params})
        while (message := await self.socket.receive_json()).get("id") != self.next_id:
            pass
        return message.get("result", {})

    async def open(self, url: str, *scripts: str) -> None:
        await self.call("Page.navigate", url=url)
        await asyncio.sleep(PAGE_SECONDS)  # MLflow's UI is a JavaScript app: give it time to fetch and draw
        for script in scripts:
            await self.call("Runtime.evaluate", expression=script)
            await asyncio.sleep(2)

    async def save(self, path: Path) -> None:
        path.write_bytes(base64.b64decode((await self.call("Page.captureScreenshot", format="png"))["data"]))
        print(f"Wrote {path} ({path.stat().st_size // 1024} KB)")


async def shoot(port: int, base: str, experiment_id: str, parent_run: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(100):  # until Chromium listens
            try:
                async with http.get(f"http://127.0.0.1:{port}/json") as response:
                    tab = next(t for t in await response.json() if t["type"] == "page")
                break
            except aiohttp.ClientError:
                await asyncio.sleep(0.2)
        page = Page(await http.ws_connect(tab["webSocketDebuggerUrl"], max_msg_size=0))
        await page.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT, deviceScaleFactor=1, mobile=False)
        runs = f"{base}/#/experiments/{experiment_id}/runs"
        await page.open(runs, CLOSE_ASSISTANT, MODEL_TRAINING)
        await page.open(f"{runs}?compareRunsMode=CHART", CLOSE_ASSISTANT, EXPAND_PARENT, CHARTS_VAL)
        await page.save(DOCS / "mlflow_ui.png")
        await page.open(f"{runs}/{parent_run}/artifacts/results/cer_by_epoch.png", CLOSE_ASSISTANT)
        await page.save(DOCS / "mlflow_parent_run.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:5077", help="where mlflow ui listens")
    parser.add_argument("--experiment-id", required=True, help="the search's MLflow experiment id")
    parser.add_argument("--parent-run", required=True, help="the search's parent run id")
    parser.add_argument("--port", type=int, default=9333, help="Chromium's DevTools port")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as profile:  # a fresh profile: no panel or row state from earlier runs
        browser = subprocess.Popen(
            [shutil.which("chromium") or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--remote-debugging-port={args.port}", f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            asyncio.run(shoot(args.port, args.url, args.experiment_id, args.parent_run))
        finally:
            browser.terminate()
            browser.wait()


if __name__ == "__main__":
    main()
