"""`isms password-hint`: the memorising techniques of form A-5 一.4 at the console.

    printf '%s\\n' '通行碼' | isms password-hint zhuyin
    printf '%s\\n' 'There are 26 lovely kids in my class' | isms password-hint initials --last

The phrase or sentence is read from standard input (one line; typed at a terminal it is
not echoed), never from the command line, where it would stay in the shell history and
the process list. The candidate password is printed on standard output; the readings used,
a note when it contains the space key and the school's rules it breaks go to standard
error. Exit status: 0 when the candidate meets the rules (2.9.3, A-3, A-5), 1 when it
breaks one, 2 when the input cannot be used.
"""

import getpass
import sys

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.identity import passwordhint

PROMPTS = {"zhuyin": gettext_lazy("中文詞句："), "initials": gettext_lazy("英文句子：")}


def read_line(stream, prompt: str) -> str:
    """One line of the stream without its line ending; at a terminal, read without echo."""
    if stream is sys.stdin and stream.isatty():
        return getpass.getpass(prompt, stream=sys.stderr)
    line = stream.readline()
    return line.rstrip("\r\n")


class Command(BaseCommand):
    help = _(
        "以 A-5 的記憶技巧產生通行碼：zhuyin 為中文輸入按鍵記憶法（大千注音鍵盤），"
        "initials 為字首字尾記憶法。從標準輸入讀取一行詞句，結果印在標準輸出；"
        "不符合通行碼規則時在標準錯誤列出原因並以結束代碼 1 結束，輸入無法使用時為 2。"
    )
    requires_system_checks = []
    # call_command(..., stdin=io.StringIO("...\n")) in tests; sys.stdin otherwise.
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument(
            "method",
            choices=["zhuyin", "initials"],
            help=_("zhuyin：中文輸入按鍵記憶法；initials：字首字尾記憶法。"),
        )
        parser.add_argument(
            "--last",
            action="store_true",
            help=_("initials：取每個單字的最後一個字元（字尾），而非第一個（字首）。"),
        )
        parser.add_argument(
            "--whole-numbers",
            action="store_true",
            help=_("initials：句子裡的數字整個保留（26 → 26），而非只取一位。"),
        )

    def handle(self, *args, **options):
        method = options["method"]
        text = read_line(options.get("stdin") or sys.stdin, str(PROMPTS[method]))
        try:
            if method == "zhuyin":
                hint = passwordhint.zhuyin_hint(text)
            else:
                hint = passwordhint.initials_hint(
                    text, last=options["last"], whole_numbers=options["whole_numbers"]
                )
        except passwordhint.HintInputError as error:
            self.stderr.write(error.message)
            raise SystemExit(2) from None

        self.stdout.write(hint.result)
        if method == "zhuyin":
            readings = " ".join(p.reading for p in hint.parts if p.reading)
            if readings:
                self.stderr.write(_("注音：%(readings)s") % {"readings": readings})
        if hint.has_space:
            self.stderr.write(
                _("結果含有空白鍵（第一聲），以 ␣ 標示：%(shown)s") % {"shown": hint.result_shown}
            )
        if hint.violations:
            self.stderr.write(_("此結果不符合學校的通行碼規則："))
            for violation in hint.violations:
                self.stderr.write(f"- {violation.message}")
                explanation = passwordhint.explain(violation)
                if explanation:
                    self.stderr.write(f"  {explanation}")
            self.stdout.flush()
            raise SystemExit(1)
