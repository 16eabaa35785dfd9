"""`isms check-password`: check a password against the school's rules (2.9.3, A-3, A-5).

The password is read from standard input, never from the command line (where it would
stay in the shell history and be visible to other users in the process list). The
result is printed as JSON; the exit status is 1 when the password breaks a rule.

    printf '%s\\n' "$PASSWORD" | isms check-password --username alice --hostname isms.school.tw
"""

import getpass
import json
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import DatabaseError
from django.utils.translation import gettext as _

from isms.core.passwords import password_violations


def read_password(stream) -> str:
    """One line of the stream, without its line ending (nothing else is stripped)."""
    if stream is sys.stdin and stream.isatty():
        return getpass.getpass(_("通行碼："))
    line = stream.readline()
    if line.endswith("\n"):
        line = line[:-1]
    if line.endswith("\r"):
        line = line[:-1]
    return line


class Command(BaseCommand):
    help = _(
        "從標準輸入讀取一行通行碼，依學校的通行碼規則（條文 2.9.3、A-3、A-5）檢查，"
        "以 JSON 輸出結果；有違反規則時結束代碼為 1。"
    )
    requires_system_checks = []
    # call_command(..., stdin=io.StringIO("...\n")) in tests; sys.stdin otherwise.
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument(
            "--username",
            default="",
            help=_("帳號；若此帳號存在，也檢查其個人資訊（姓名、生日、電話、身分證號碼等）。"),
        )
        parser.add_argument(
            "--hostname",
            dest="hostnames",
            action="extend",
            nargs="+",
            default=[],
            metavar="HOSTNAME",
            help=_("主機名稱（可多個），另加設定 ISMS_PASSWORD_HOSTNAMES 中的主機名稱。"),
        )

    def handle(self, *args, **options):
        password = read_password(options.get("stdin") or sys.stdin)
        username = options["username"] or ""
        user = self.find_user(username) if username else None
        violations = password_violations(
            password, username=username, user=user, hostnames=options["hostnames"]
        )
        result = {
            "ok": not violations,
            "violations": [{"code": v.code, "message": v.message} for v in violations],
        }
        self.stdout.write(json.dumps(result, ensure_ascii=False))
        if violations:
            self.stdout.flush()
            raise SystemExit(1)

    def find_user(self, username: str):
        """The login with this user name (with its person), or None."""
        model = get_user_model()
        queryset = model._default_manager.filter(**{model.USERNAME_FIELD: username})
        if any(f.name == "person" for f in model._meta.get_fields()):
            queryset = queryset.select_related("person")
        try:
            return queryset.first()
        except DatabaseError as exc:
            self.stderr.write(
                _("無法讀取帳號資料（%(error)s），僅以帳號名稱檢查。") % {"error": exc}
            )
            return None
