"""`isms check-password`: the password on standard input, JSON out, exit status 1 on violations."""

import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from isms.core import passwords
from isms.core.management.commands.check_password import read_password

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def no_signin_words(monkeypatch, settings):
    settings.ISMS_PASSWORD_HOSTNAMES = []
    monkeypatch.setattr(passwords, "signin_screen_words", lambda: frozenset())


def run(password_line: str, *args):
    """call_command with the given standard input → (exit status, parsed JSON, raw output)."""
    out = io.StringIO()
    try:
        call_command("check_password", *args, stdin=io.StringIO(password_line), stdout=out)
        status = 0
    except SystemExit as exc:
        status = exc.code
    return status, json.loads(out.getvalue()), out.getvalue()


def test_a_good_password_exits_0():
    status, result, _raw = run("Ee6ysnMEc\n")
    assert status == 0
    assert result == {"ok": True, "violations": []}


def test_a_bad_password_exits_1_with_every_violation():
    status, result, raw = run("qwertyui\n")
    assert status == 1
    assert result["ok"] is False
    found = [v["code"] for v in result["violations"]]
    assert "keyboard_run" in found and "no_digit" in found
    assert all(v["message"] for v in result["violations"])
    assert "qwertyui" not in raw


def test_messages_are_printed_as_chinese_not_escapes():
    _status, _result, raw = run("6666rrrr\n")
    assert "重複" in raw and "\\u" not in raw


def test_only_the_line_ending_is_removed():
    assert read_password(io.StringIO("  wj/ vu/6a83 \n")) == "  wj/ vu/6a83 "
    assert read_password(io.StringIO("Ee6ysnMEc\r\n")) == "Ee6ysnMEc"
    assert read_password(io.StringIO("Ee6ysnMEc\nsecond line\n")) == "Ee6ysnMEc"
    assert read_password(io.StringIO("")) == ""
    status, result, _raw = run("wj/ vu/6a83\n")
    assert status == 0 and result["ok"] is True


def test_empty_input_is_an_empty_password():
    status, result, _raw = run("")
    assert status == 1 and result["violations"][0]["code"] == "empty"


def test_the_password_is_never_an_argument():
    with pytest.raises(CommandError):
        call_command("check_password", "Ee6ysnMEc", stdin=io.StringIO("x\n"), stdout=io.StringIO())


def test_host_names_as_options(settings):
    settings.ISMS_PASSWORD_HOSTNAMES = ["isms.kpvs.edu.tw"]
    status, result, _raw = run("Mailsrv9x7q\n", "--hostname", "mailsrv.school.tw", "fs01.tw")
    assert status == 1 and [v["code"] for v in result["violations"]] == ["hostname"]
    _status, result, _raw = run("Fileserv9xq\n", "--hostname", "a.tw", "--hostname", "fileserv")
    assert "hostname" in [v["code"] for v in result["violations"]]
    _status, result, _raw = run("Kpvs9x7qmz\n")  # from the settings
    assert "hostname" in [v["code"] for v in result["violations"]]


def test_without_a_username_no_database_is_used():
    # No django_db mark: any query would fail this test.
    status, result, _raw = run("Ee6ysnMEc\n")
    assert status == 0 and result["ok"] is True


@pytest.mark.django_db
def test_an_unknown_username_is_checked_as_a_name_only():
    status, result, _raw = run("Chenwl2024x\n", "--username", "chenwl")
    assert status == 1 and [v["code"] for v in result["violations"]] == ["username"]


@pytest.mark.django_db
def test_an_existing_username_brings_its_personal_information():
    from isms.core.models import Person, User

    person = Person.objects.create(
        name="陳美玲", birthday=dt.date(1975, 11, 3), national_id="F231875094"
    )
    User.objects.create_user(username="mlchen", password=None, person=person)
    status, result, raw = run("Kz0641103q\n", "--username", "mlchen")  # ROC 64/11/03
    assert status == 1 and "personal_info" in [v["code"] for v in result["violations"]]
    assert "0641103" not in raw
    status, result, _raw = run("Ee6ysnMEc\n", "--username", "mlchen")
    assert status == 0 and result["ok"] is True


def isms(args, password_line, tmp_path):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "isms.settings",
        "ISMS_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3",
        "LOG_LEVEL": "ERROR",
    }
    return subprocess.run(
        [sys.executable, "-m", "isms.cli", "check-password", *args],
        input=password_line,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def test_as_a_real_command(tmp_path):
    bad = isms(["--hostname", "isms.kpvs.edu.tw"], "Kpvs6666rrrr\n", tmp_path)
    assert bad.returncode == 1, bad.stderr
    result = json.loads(bad.stdout)
    found = [v["code"] for v in result["violations"]]
    assert result["ok"] is False and "repeated" in found and "hostname" in found
    assert "6666rrrr" not in bad.stdout + bad.stderr

    good = isms([], "Ee6ysnMEc\n", tmp_path)
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout) == {"ok": True, "violations": []}
