"""`isms restore [--verify] [--yes] [--passphrase-file FILE] [--user USERNAME] ARCHIVE`.

``--verify`` restores the archive into a scratch database, checks every file's SHA-256
and every table's row count against its manifest and records a restore test (2.4.2).
Without it the same checks run first; only when all pass, and the operator typed "yes"
(or gave ``--yes``), the database and the uploaded files are replaced. A corrupt or
tampered archive is refused with the name of the file inside it that failed, and nothing
is changed.
"""

import getpass
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from isms.operations import selfbackup


def interactive() -> bool:
    return sys.stdin.isatty()


def ask(prompt: str) -> str:
    try:
        return input(prompt)
    except EOFError:
        return ""


def archive_passphrase(archive, options) -> str | None:
    if not selfbackup.is_encrypted(archive):
        return None
    if options["passphrase_file"]:
        return selfbackup.read_passphrase_file(options["passphrase_file"])
    if selfbackup.env_passphrase():
        return selfbackup.env_passphrase()
    if interactive():
        return getpass.getpass(_("封存檔密碼："))
    return None  # the reader says how to give one


class Command(BaseCommand):
    help = (
        "Verify a backup archive in a scratch database and record a restore test (--verify), "
        "or restore it for real after the same checks and a confirmation."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive", help="The archive written by `isms backup`.")
        parser.add_argument(
            "--verify",
            action="store_true",
            help="Only check the archive in a scratch database and record a restore test.",
        )
        parser.add_argument(
            "--yes", action="store_true", help="Do not ask before replacing the data."
        )
        parser.add_argument(
            "--passphrase-file",
            metavar="FILE",
            help="Read the passphrase from the first line of FILE (else $ISMS_BACKUP_PASSPHRASE "
            "or a prompt).",
        )
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            help="The system administrator who tests or restores (recorded).",
        )

    def handle(self, *args, archive, **options):
        try:
            user = selfbackup.resolve_user(options["user"])
            passphrase = archive_passphrase(archive, options)
            if options["verify"]:
                self.verify(archive, passphrase, user)
            else:
                self.restore(archive, passphrase, user, options["yes"])
        except selfbackup.BackupError as exc:
            message = str(exc)
            changed = isinstance(exc, selfbackup.PartlyRestored)
            if not (options["verify"] or changed or message.endswith(_("未變更任何資料。"))):
                message += "\n" + _("拒絕還原，未變更任何資料。")
            raise CommandError(message) from exc
        except OSError as exc:
            raise CommandError(_("無法讀取或寫入檔案：%(error)s") % {"error": exc}) from exc

    def verify(self, archive, passphrase, user):
        result = selfbackup.verify(archive, passphrase=passphrase, user=user)
        if result.test is not None:
            self.stdout.write(
                _("已記錄還原測試 #%(pk)s（%(result)s）。")
                % {
                    "pk": result.test.pk,
                    "result": _("通過") if result.passed else _("未通過"),
                }
            )
            self.stdout.write(result.test.note)
        elif result.passed:
            self.stdout.write(_("封存檔檢查通過；本平台自身的備份計畫已作廢，未記錄還原測試。"))
        if not result.passed:
            raise CommandError(_("封存檔檢查未通過：%(why)s") % {"why": result.message})

    def restore(self, archive, passphrase, user, yes):
        def confirm(summary: str) -> bool:
            self.stdout.write(summary)
            self.stdout.write(
                _(
                    "封存檔的檢查碼與資料筆數均已驗證。還原會以封存檔取代目前的資料庫與上傳檔案，"
                    "之後的變更都會消失；請先停止網站與 worker。"
                )
            )
            if yes:
                return True
            return ask(_("輸入 yes 繼續：")).strip() == "yes"

        result = selfbackup.restore(archive, passphrase=passphrase, user=user, confirm=confirm)
        self.stdout.write(_("還原完成。"))
        if result.migrate_needed:
            self.stdout.write(
                _("封存檔來自較舊版本的平台：請執行 isms migrate 後再啟動網站與 worker。")
            )
