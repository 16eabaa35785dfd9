"""`isms privacy-codes import FILE --kind purposes|categories --actor USERNAME
[--deactivate-missing]` applies a code list (all or nothing; each bad row reported with its
line number); `isms privacy-codes export --kind purposes|categories` prints a list as CSV.

The actor must be an active login of the security officer: the audit trail names them.
"""

from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from isms.core import tabular
from isms.core.models import User
from isms.privacy import codes


class Command(BaseCommand):
    help = "Import or export the official code lists of the PDPA (特定目的, 個人資料之類別)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        imp = sub.add_parser("import", help="apply a code list (CSV or XLSX), all or nothing")
        imp.add_argument("file")
        imp.add_argument("--kind", required=True, choices=codes.KINDS)
        imp.add_argument("--actor", required=True, help="username of the security officer")
        imp.add_argument(
            "--deactivate-missing",
            action="store_true",
            help="mark the codes not in the file as not in use (the file is the list in force)",
        )
        imp.add_argument("--encoding", default="", help="utf-8, cp950 or big5hkscs (detected)")
        exp = sub.add_parser("export", help="print a code list as CSV (the import's format)")
        exp.add_argument("--kind", required=True, choices=codes.KINDS)

    def handle(self, *args, verb, **options):
        if verb == "export":
            self.stdout.write(codes.export_csv(options["kind"]), ending="")
            return
        actor = self.actor(options["actor"])
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            message = _("無法讀取檔案 %(file)s：%(error)s") % {"file": path, "error": exc}
            raise CommandError(message) from None
        file_kind = "xlsx" if path.suffix.lower() == ".xlsx" else "csv"
        encoding = options["encoding"]
        if encoding and encoding not in tabular.ENCODING_LABELS:
            raise CommandError(_("不支援的編碼：%(e)s") % {"e": encoding})
        try:
            done = codes.import_file(
                options["kind"],
                data,
                actor=actor,
                file_kind=file_kind,
                encoding=encoding,
                deactivate_missing=options["deactivate_missing"],
            )
        except tabular.FileError as error:
            raise CommandError(str(error)) from None
        except PermissionDenied:
            raise CommandError(
                _("%(user)s 不是資安業務承辦人，不能匯入代號清單（條文 7.1）。")
                % {"user": actor.get_username()}
            ) from None
        except ValidationError as error:
            raise CommandError("\n".join(error.messages)) from None
        self.stdout.write(codes.summary(done))

    def actor(self, username: str) -> User:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(_("找不到帳號 %(user)s。") % {"user": username})
        if not user.is_active:
            raise CommandError(_("帳號 %(user)s 已停用，不能匯入代號清單。") % {"user": username})
        return user
