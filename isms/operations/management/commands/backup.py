"""`isms backup [--output DIR] [--encrypt] [--passphrase-file FILE] [--user USERNAME]`.

Writes one timestamped archive of the database and the uploaded files (see
``isms/operations/selfbackup.py``) and records it as a run of the product's own backup
plan (2.4.1). The archive's path is the only line on standard output, for scripts;
everything else goes to standard error. A passphrase is never a command-line value: it
comes from ``--passphrase-file``, the ``ISMS_BACKUP_PASSPHRASE`` environment variable or a
prompt (with ``--encrypt`` on a terminal).
"""

import getpass
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from isms.operations import selfbackup


def interactive() -> bool:
    return sys.stdin.isatty()


def new_passphrase(options) -> str | None:
    """The passphrase to encrypt with, or None for a plain archive."""
    if options["passphrase_file"]:
        return selfbackup.read_passphrase_file(options["passphrase_file"])
    if selfbackup.env_passphrase():
        return selfbackup.env_passphrase()
    if not options["encrypt"]:
        return None
    if not interactive():
        raise selfbackup.BackupError(
            _("加密需要密碼：請以 --passphrase-file 或環境變數 %(env)s 提供。")
            % {"env": selfbackup.PASSPHRASE_ENV}
        )
    first = getpass.getpass(_("加密密碼："))
    if getpass.getpass(_("再輸入一次：")) != first:
        raise selfbackup.BackupError(_("兩次輸入的密碼不同。"))
    return first


class Command(BaseCommand):
    help = (
        "Back up the database and the uploaded files into one archive (encrypted with a "
        "passphrase if asked), print its path and record it as a run of the product's plan."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            metavar="DIR",
            help="Directory for the archive (default: $ISMS_DATA_DIR/backups).",
        )
        parser.add_argument(
            "--encrypt",
            action="store_true",
            help=(
                "Encrypt the archive; the passphrase is read from --passphrase-file, "
                "$ISMS_BACKUP_PASSPHRASE or a prompt. Either of the first two also encrypts."
            ),
        )
        parser.add_argument(
            "--passphrase-file",
            metavar="FILE",
            help="Read the passphrase from the first line of FILE (keep it mode 0600).",
        )
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            help=(
                "The system administrator who backs up (recorded); default: the plan's "
                "responsible, for a new plan the first active superuser."
            ),
        )

    def handle(self, *args, **options):
        self.stderr.style_func = None
        try:
            user = selfbackup.resolve_user(options["user"])
            passphrase = new_passphrase(options)
            result = selfbackup.backup(
                output_dir=options["output"], passphrase=passphrase, user=user
            )
        except selfbackup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:
            raise CommandError(_("備份失敗：%(error)s") % {"error": exc}) from exc
        for warning in result.warnings:
            self.stderr.write(warning)
        if options["verbosity"] >= 1:
            self.stderr.write(
                _("備份完成：%(what)s；%(enc)s，%(size)d 位元組，SHA-256 %(sha)s。")
                % {
                    "what": selfbackup.describe(result.manifest),
                    "enc": _("已加密") if result.encrypted else _("未加密"),
                    "size": result.size,
                    "sha": result.sha256,
                }
            )
        self.stdout.write(str(result.path))
