"""Configuration errors are clear sentences, never tracebacks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.i18n import match_locale
from bot.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parent.parent
GOOD_TOKEN = "123456789:AAE_fake-token-for-tests-0123456789ab"


def run_cli(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.isupper() or k in ("PATH", "HOME")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path, env={**environment, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_defaults_need_no_configuration():
    settings = load_settings(_env_file=None)
    assert settings.database_url == "sqlite+aiosqlite:///data/passaparola.db"
    assert settings.default_locale == "en"
    assert settings.bot_api_url == "https://api.telegram.org"
    assert settings.admin_ids == frozenset()


def test_admin_ids_are_parsed_from_a_comma_separated_list():
    assert load_settings(_env_file=None, admin_ids="12, 34").admin_ids == {12, 34}
    with pytest.raises(ConfigError, match="ADMIN_IDS"):
        load_settings(_env_file=None, admin_ids="12,alice")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "BOT_TOKEN is not set"),
        ({"BOT_TOKEN": "not-a-token"}, "BOT_TOKEN looks malformed"),
        ({"BOT_TOKEN": GOOD_TOKEN, "DATABASE_URL": "mysql://x"}, "DATABASE_URL must start with"),
        ({"BOT_TOKEN": GOOD_TOKEN, "DATABASE_URL": "::nonsense::"}, "is not a database URL"),
        ({"BOT_TOKEN": GOOD_TOKEN, "DEFAULT_LOCALE": "xx"}, "DEFAULT_LOCALE 'xx' is not shipped"),
        ({"BOT_TOKEN": GOOD_TOKEN, "LOG_LEVEL": "LOUD"}, "LOG_LEVEL must be"),
        (
            {"BOT_TOKEN": GOOD_TOKEN, "DATABASE_URL": "sqlite+aiosqlite:////proc/no/such.db"},
            "cannot create the database at DATABASE_URL",
        ),
    ],
)
def test_run_explains_bad_configuration_without_a_traceback(tmp_path, env, expected):
    result = run_cli("run", tmp_path=tmp_path, **env)

    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_explains_a_port_already_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("demo", "--port", str(port), tmp_path=tmp_path)

    assert result.returncode == 2
    assert f"port {port} is already in use" in result.stderr
    assert "Traceback" not in result.stderr


WEBHOOK_URL = "https://bot.example.org/telegram"


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ((), {"BOT_TOKEN": GOOD_TOKEN}, "WEBHOOK_URL is not set"),
        ((), {"WEBHOOK_URL": WEBHOOK_URL}, "BOT_TOKEN is not set"),
        ((), {"BOT_TOKEN": GOOD_TOKEN, "WEBHOOK_URL": "ftp://bot.example.org"}, "WEBHOOK_URL must"),
        (
            (),
            {"BOT_TOKEN": GOOD_TOKEN, "WEBHOOK_URL": WEBHOOK_URL, "WEBHOOK_SECRET": "no spaces!"},
            "WEBHOOK_SECRET must be 1-256 characters",
        ),
        (
            (),
            {"BOT_TOKEN": GOOD_TOKEN, "WEBHOOK_URL": WEBHOOK_URL, "WEBHOOK_PORT": "70000"},
            "WEBHOOK_PORT: Input should be less than or equal to 65535",
        ),
        (
            ("--workers", "0"),
            {"BOT_TOKEN": GOOD_TOKEN, "WEBHOOK_URL": WEBHOOK_URL},
            "expected a whole number of at least 1",
        ),
    ],
)
def test_webhook_explains_bad_configuration_without_a_traceback(tmp_path, args, env, expected):
    result = run_cli("webhook", *args, tmp_path=tmp_path, **env)

    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_webhook_explains_a_port_already_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "webhook", tmp_path=tmp_path,
            BOT_TOKEN=GOOD_TOKEN, WEBHOOK_URL=WEBHOOK_URL, WEBHOOK_PORT=str(port),
        )  # fmt: skip

    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: port {port} is already in use; set WEBHOOK_PORT to a free port"
    )


@pytest.mark.parametrize(
    ("language_code", "locale"),
    [("ar-EG", "ar"), ("ar", "ar"), ("pt-BR", None), ("ckb", "ckb"), ("fa-AF", "fa"),
     ("tr", "tr"), ("en_GB", "en"), (None, None), ("", None), ("!!", None)],
)  # fmt: skip
def test_telegram_language_codes_map_to_shipped_locales(language_code, locale):
    assert match_locale(language_code) == locale
