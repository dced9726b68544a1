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


TOKEN = "123456:" + "x" * 35


@pytest.mark.parametrize("amounts", ["0,50", "-5", "50,10001"])
def test_topup_star_amounts_outside_telegram_range_refused(tmp_path, amounts):
    result = run_bot(tmp_path, BOT_TOKEN=TOKEN, TOPUP_STAR_AMOUNTS=amounts)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "TOPUP_STAR_AMOUNTS is invalid" in lines[0] and "1..10000" in lines[0], result.stderr


@pytest.mark.parametrize(("env", "expected"), [
    ({"GETATEXT_WEBHOOK_SECRET": "s3cret-path-part"}, "GETATEXT_WEBHOOK_SECRET is set but HTTP_PORT is 0"),
    ({"WEBHOOK_SECRET": "s3cret-path-part"}, "GETATEXT_WEBHOOK_SECRET is set but HTTP_PORT is 0"),  # the old name
    ({"HTTP_PORT": "8443", "GETATEXT_WEBHOOK_SECRET": "a"}, "GETATEXT_WEBHOOK_SECRET must be at least 32 random"),
    ({"HTTP_PORT": "8443", "GETATEXT_WEBHOOK_SECRET": "x" * 31}, "secrets.token_urlsafe(32)"),
    ({"WEBHOOK_PORT": "8443", "WEBHOOK_SECRET": "spaces and / slashes" * 3}, "URL-safe"),
    ({"PUBLIC_URL": "https://bot.example.com"}, "PUBLIC_URL is set but HTTP_PORT is 0"),
    ({"HTTP_PORT": "8443", "PUBLIC_URL": "bot.example.com"}, "PUBLIC_URL is invalid"),
    ({"HTTP_PORT": "8443", "PUBLIC_URL": "https://bot.example.com", "TELEGRAM_WEBHOOK_SECRET": "s3cret-path-part/"},
     "TELEGRAM_WEBHOOK_SECRET is invalid"),
])
def test_half_configured_or_weak_webhook_refused(tmp_path, env, expected):
    result = run_bot(tmp_path, BOT_TOKEN=TOKEN, **env)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip() and "the old name still works" not in line]
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "s3cret-path-part" not in result.stderr


@pytest.mark.parametrize("url", ["api.telegram.org", "http://bad..host", "http://[::1", "https://host:port"])
def test_telegram_api_url_that_is_no_http_url_refused(tmp_path, url):
    result = run_bot(tmp_path, BOT_TOKEN=TOKEN, TELEGRAM_API_URL=url)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "TELEGRAM_API_URL is invalid" in lines[0], result.stderr


def test_misspelt_settings_warned_by_name_with_the_closest_known_name(tmp_path):
    (tmp_path / ".env").write_text("GOTSMS_APIKEY=dotenv-secret-value\nWEBHOOK_PROT=8443\nUNRELATED_THING=1\n"
                                   "WEBHOOK_HOST=127.0.0.1\n")
    result = run_bot(tmp_path, GETATEXT_API_KEYS="env-secret-value", TOPUP_FOO="1")
    warnings = [line for line in result.stderr.splitlines() if "is not a setting of this bot" in line]
    assert len(warnings) == 4, result.stderr
    assert "GOTSMS_APIKEY in .env is not a setting of this bot (did you mean GOTSMS_API_KEY?)" in warnings[0]
    assert "WEBHOOK_PROT in .env is not a setting of this bot (did you mean HTTP_PORT?)" in warnings[1]
    assert any("GETATEXT_API_KEYS in the environment" in w and "did you mean GETATEXT_API_KEY?" in w
               for w in warnings)
    assert any(w.endswith("TOPUP_FOO in the environment is not a setting of this bot; it is ignored")
               for w in warnings)
    assert "WEBHOOK_HOST in .env is now called HTTP_HOST; the old name still works" in result.stderr
    assert "UNRELATED_THING" not in result.stderr  # not one of our prefixes
    assert "secret-value" not in result.stderr  # the name, never the value
    assert "BOT_TOKEN is not set" in result.stderr.splitlines()[-1] and result.returncode == 2


def test_env_example_documents_every_setting_and_nothing_else():
    from bot.settings import KNOWN_NAMES, unknown_settings

    example = ROOT / ".env.example"
    names = {line.split("=", 1)[0] for line in example.read_text().splitlines() if "=" in line and line[0] != "#"}
    assert names == KNOWN_NAMES
    assert unknown_settings({}, example) == []



async def test_no_support_contact_is_a_warning_at_start(app, settings, caplog):
    """Without SUPPORT_CONTACT users reach the operators only through the bot: said once at start."""
    from bot.runner import _log_configuration

    settings.support_contact = "@shop"
    with caplog.at_level("WARNING"):
        _log_configuration(app)
    assert "SUPPORT_CONTACT" not in caplog.text
    settings.support_contact = ""
    with caplog.at_level("WARNING"):
        _log_configuration(app)
    assert "SUPPORT_CONTACT is not set: users reach you only through the bot" in caplog.text
