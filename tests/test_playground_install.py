"""The playground as installed, not as a checkout: the project installed with pip into a temporary folder, then
``python -m playground`` started outside the checkout with no BOT_TOKEN serves its page, runs the sandbox bot
from the installed packages, and stops cleanly on SIGTERM.

Nothing is downloaded: ``--no-deps`` (the dependencies are this interpreter's), no index, no build isolation (the
build uses this interpreter's setuptools). Where that setuptools cannot build a wheel on its own (older than
70.1, no ``wheel`` package: e.g. the one a Python 3.11 venv starts with), the same files are laid out by
setuptools' ``build_py`` from the same pyproject.toml: the packages found and their package data, which is what
the wheel would hold.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import httpx
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
# Left behind by local runs and builds; a stale build/ would even bring back deleted modules.
NOT_SHIPPED = shutil.ignore_patterns(".git", ".venv", "venv", "data", "build", "*.egg-info", "__pycache__",
                                     ".pytest_cache", ".ruff_cache")


def can_build_wheels_offline() -> bool:
    try:
        if Version(metadata.version("setuptools")) >= Version("70.1"):
            return True
    except metadata.PackageNotFoundError:
        return False
    try:
        metadata.version("wheel")
    except metadata.PackageNotFoundError:
        return False
    return True


def install(target: Path, workdir: Path) -> None:
    # A copy: building in the checkout itself would leave build/ and *.egg-info there.
    source = workdir / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SHIPPED)
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    if can_build_wheels_offline():
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                   "--no-index", "--target", str(target), str(source)]
    else:
        command = [sys.executable, "-c", "from setuptools import setup; setup()", "--quiet", "build_py",
                   "--build-lib", str(target)]
    done = subprocess.run(command, cwd=source, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"


def sandbox_env(target: Path) -> dict[str, str]:
    """This environment with the installed copy first on the path and no token (pydantic-settings reads names
    case-insensitively, so every spelling goes)."""
    env = {k: v for k, v in os.environ.items() if k.upper() not in ("BOT_TOKEN", "PYTHONPATH", "PYTHONHOME")}
    env.update(PYTHONPATH=str(target), PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
    return env


async def read_until(stream: asyncio.StreamReader, marker: str, timeout: float, seen: list[str]) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        line = await asyncio.wait_for(stream.readline(), max(0.1, deadline - loop.time()))
        if not line:
            raise AssertionError("the playground exited before printing its address:\n" + "".join(seen))
        seen.append(line.decode("utf-8", "replace"))
        if marker in seen[-1]:
            return seen[-1]


async def test_installed_playground_serves_its_page_and_stops_cleanly(tmp_path):
    target, run = tmp_path / "site", tmp_path / "run"
    run.mkdir()
    install(target, tmp_path)
    assert (target / "bot" / "services" / "aliases.toml").is_file()  # package data: the services' nicknames
    env = sandbox_env(target)
    assert not (run / ".env").exists()

    # Where each package comes from, and the PYTHONPATH the playground will give the bot (`bot` is a namespace
    # package: its __main__ is what `python -m bot` runs).
    probe = subprocess.run(
        [sys.executable, "-c", "import bot.__main__, handlers, playground, playground.stack as stack; "
         "print(bot.__main__.__file__, handlers.__file__, playground.__file__, stack.BOT_IMPORT_ROOT, sep='\\n')"],
        cwd=run, env=env, capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    *modules, bot_path = probe.stdout.split()
    for module in modules:
        assert Path(module).resolve().is_relative_to(target.resolve()), f"{module} is not the installed copy"
    assert Path(bot_path) == target.resolve()

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "playground", "--port", "0", "--data", str(tmp_path / "data"), cwd=run, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output: list[str] = []
    try:
        line = await read_until(proc.stdout, "Playground: open ", START_TIMEOUT, output)
        url = line.split("Playground: open ", 1)[1].split()[0]
        async with httpx.AsyncClient(base_url=url, timeout=20) as http:
            page = await http.get("/")
            assert page.status_code == 200 and "SMS rent bot — playground" in page.text
            assert (await http.get("/static/app.js")).status_code == 200  # package data
            health = await http.get("/healthz")  # what the image's HEALTHCHECK asks in a playground container
            assert health.status_code == 200 and health.json() == {"ok": True, "reason": "ok"}

            # The sandbox bot answers through the page's API, in English from the installed locales.
            sent = await http.post("/api/send", json={"chat_id": 1001, "user_id": 1001, "text": "/start"})
            assert sent.status_code == 200, sent.text
            for _ in range(100):
                messages = (await http.get("/api/chats/1001/messages")).json()["messages"]
                if any(m["bot"] and "Virtual numbers" in m["html"] for m in messages):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"the bot did not answer /start: {messages}")
            # The demo forum was seeded too: a supergroup with topics the bot may manage, credited like the group.
            state = (await http.get("/api/state")).json()
            [forum] = [c for c in state["chats"] if c["kind"] == "forum"]
            assert (await http.get(f"/api/chats/{forum['id']}/messages")).status_code == 200

        proc.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(proc.stdout.read(), STOP_TIMEOUT)
        output.append(rest.decode("utf-8", "replace"))
        assert await proc.wait() == 0, "".join(output)
        assert "Playground stopped." in output[-1], "".join(output)
    finally:
        if proc.returncode is None:  # a failed assertion above: SIGTERM lets it stop the bot too
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                proc.kill()
                await proc.wait()
