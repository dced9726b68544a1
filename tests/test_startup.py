"""`python -m bot` start-up: a missing or malformed setting ends it with one clear line, never a traceback."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_bot(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    clean["PYTHONPATH"] = str(ROOT)
    clean.update(env)
    # cwd without a .env so only the given environment counts
    return subprocess.run([sys.executable, "-m", "bot"], cwd=tmp_path, env=clean, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize(("env", "expected"), [
    ({}, "BOT_TOKEN is not set"),
    ({"BOT_TOKEN": "not-a-token"}, "BOT_TOKEN is malformed"),
    ({"BOT_TOKEN": "123456:" + "x" * 35, "POLL_INTERVAL": "soon"}, "POLL_INTERVAL is invalid"),
    ({"BOT_TOKEN": "123456:" + "x" * 35, "ADMIN_IDS": "alice"}, "ADMIN_IDS is invalid"),
])
def test_bad_settings_give_one_clear_line(tmp_path, env, expected):
    result = run_bot(tmp_path, **env)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert "x" * 35 not in result.stderr + result.stdout  # the token never appears


def test_token_from_dotenv_file(tmp_path):
    (tmp_path / ".env").write_text("BOT_TOKEN=malformed\n")
    result = run_bot(tmp_path)
    assert "BOT_TOKEN is malformed" in result.stderr
