"""`isms check-time HOST…`: ask each server's NTP service for its clock offset (2.5.2).

Each argument is ``PROPERTY_NUMBER=HOST`` (the server with that 財產編號, asked at HOST)
or a plain ``HOST`` (the one server whose name is HOST); ``--server PROPERTY_NUMBER HOST``
is the same as ``PROPERTY_NUMBER=HOST``. Each host asked is recorded as a time sync
(source 校時檢查指令) with its offset, or with the reason the check failed; an argument
that names no server is reported and records nothing. The exit status is 1 when any
argument names no server, any host fails or any offset is over ``ISMS_TIME_OFFSET_MS``.

    isms check-time 3140101-01-000001=ntp.school.tw 3140101-01-000002=10.0.0.5
    isms check-time --timeout 2 web01.school.tw
"""

import unicodedata

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from isms.operations import timesync


def width(text: str) -> int:
    """Columns the text takes in a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, columns: int) -> str:
    return text + " " * max(0, columns - width(text))


def table(header: list[str], rows: list[list[str]]) -> str:
    """A plain-text table with columns aligned for CJK text."""
    widths = [max(width(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return "  ".join(pad(c, w) for c, w in zip(cells, widths, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


class Command(BaseCommand):
    help = _(
        "查詢各伺服器的 NTP 服務並記錄時間誤差（條文 2.5.2）。參數為「財產編號=主機位址」"
        "或與伺服器名稱相同的主機位址；有主機無法查詢、誤差超過容許值或參數找不到伺服器時，"
        "結束代碼為 1。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "hosts",
            nargs="*",
            metavar="HOST",
            help=_("「財產編號=主機位址」，或與伺服器名稱相同的主機位址。"),
        )
        parser.add_argument(
            "--server",
            dest="pairs",
            nargs=2,
            action="append",
            default=[],
            metavar=("PROPERTY_NUMBER", "HOST"),
            help=_("伺服器的財產編號與要查詢的主機位址（可重複）。"),
        )
        parser.add_argument(
            "--port", type=int, default=timesync.NTP_PORT, help=_("NTP 連接埠（預設 123）。")
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=timesync.DEFAULT_TIMEOUT,
            help=_("每台主機等候回應的秒數（預設 5）。"),
        )

    def handle(self, *args, hosts, pairs, port, timeout, **options):
        arguments = [*hosts, *(f"{number}={host}" for number, host in pairs)]
        if not arguments:
            raise CommandError(_("請至少指定一台主機（財產編號=主機位址）。"))
        if not 0 < port < 65536:
            raise CommandError(_("連接埠須介於 1 與 65535 之間。"))
        if not 0 < timeout <= 60:
            raise CommandError(_("等候秒數須大於 0 且不超過 60。"))
        outcomes = timesync.check(arguments, actor=None, port=port, timeout=timeout)
        threshold = timesync.threshold_ms()
        rows = []
        for outcome in outcomes:
            target, sync = outcome.target, outcome.sync
            if sync is None:
                result = _("未檢查")
            elif sync.ok:
                result = _("正常")
            elif sync.offset_ms is None:
                result = _("檢查失敗")
            else:
                result = _("異常")
            rows.append(
                [
                    target.server.property_number if target.server else "",
                    target.server.name if target.server else "",
                    target.host or target.argument,
                    timesync.format_ms(sync.offset_ms) if sync else "",
                    str(result),
                    outcome.message,
                ]
            )
        header = [_("財產編號"), _("主機"), _("主機位址"), _("誤差（毫秒）"), _("結果"), _("說明")]
        self.stdout.write(table([str(h) for h in header], rows))
        failed = sum(1 for o in outcomes if not o.ok)
        self.stdout.write(
            _("共 %(n)d 台，%(failed)d 台異常或未檢查；容許誤差 ±%(limit)s 毫秒。")
            % {"n": len(outcomes), "failed": failed, "limit": timesync.format_limit(threshold)}
        )
        if failed:
            self.stdout.flush()
            raise SystemExit(1)
