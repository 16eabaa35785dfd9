"""通行碼小幫手: check a candidate password and build one with A-5's memorising techniques.

For every signed-in person (clause 2.9.3: the school gives its users the rules of A-5).
The same validator as sign-in (isms.core.passwords) judges the candidate, also against the
person's own account name and personal data, as the API's /api/password-check/ does.

What is typed here is never kept: POST only (nothing in a URL), no audit entry and no
log line, sensitive_post_parameters (error reports hide it), never_cache, and the
response never contains the password being checked; the forms come back empty after a
full-page post (with htmx only the result is replaced, so the input stays in the browser).
The helpers' results are shown, since they are what the person asked for.
"""

from django import forms
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from isms.core.access import SIGNED_IN
from isms.core.generic import ProtectedView
from isms.core.passwords import MIN_LENGTH
from isms.core.registers import nav_link

from . import passwordhint

TEMPLATE = "identity/password_help.html"
SECRET_FIELDS = ("password", "sentence", "phrase")

# Inputs that may hold a secret: no autofill history, no spell-checking service, no
# automatic capitals or corrections on phones.
_PRIVATE = {
    "class": "form-control",
    "autocomplete": "off",
    "spellcheck": "false",
    "autocapitalize": "off",
    "autocorrect": "off",
}


class PasswordCheckForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("想使用的通行碼"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(
            render_value=False, attrs={**_PRIVATE, "autocomplete": "new-password"}
        ),
    )


class InitialsForm(forms.Form):
    sentence = forms.CharField(
        label=gettext_lazy("一句您記得住的英文句子"),
        max_length=passwordhint.MAX_INPUT,
        widget=forms.TextInput(attrs=_PRIVATE),
    )
    whole_numbers = forms.BooleanField(
        label=gettext_lazy("句子裡的數字整個保留（例如 26 保留為 26）"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )


class ZhuyinForm(forms.Form):
    phrase = forms.CharField(
        label=gettext_lazy("一個您記得住的中文詞句"),
        max_length=passwordhint.MAX_INPUT,
        widget=forms.TextInput(attrs=_PRIVATE),
    )


def explained(violations) -> list[dict]:
    """Each violation with the validator's message and a plain-language explanation."""
    return [
        {"code": v.code, "message": v.message, "explanation": passwordhint.explain(v)}
        for v in violations
    ]


def form_errors(form) -> list[str]:
    """The errors of a form as plain sentences (the form itself is shown empty again)."""
    return [str(e) for errors in form.errors.values() for e in errors]


def keyboard_rows() -> list[list[tuple[str, str]]]:
    """The 大千 layout as rows of (key, Zhuyin symbol) for the page's reference table."""
    keys_of = {**passwordhint.ZHUYIN_KEYS, **passwordhint.TONE_KEYS}
    by_key = {k: s for s, k in keys_of.items() if k != passwordhint.FIRST_TONE_KEY}
    rows = ("1234567890-", "qwertyuiop", "asdfghjkl;", "zxcvbnm,./")
    return [[(k, by_key[k]) for k in row] for row in rows]


@method_decorator([sensitive_post_parameters(*SECRET_FIELDS), never_cache], name="dispatch")
class PasswordHelpView(ProtectedView):
    """The help page: GET shows it; POST with mode=check|initials|zhuyin answers one form."""

    access = SIGNED_IN

    def get(self, request):
        if request.GET:
            # Nothing is ever read from a URL; a password put there by hand must not be
            # written back into the page (the language switcher repeats the full path).
            return redirect(request.path)
        return render(request, TEMPLATE, self.context())

    def post(self, request):
        handlers = {"check": self.check, "initials": self.initials, "zhuyin": self.zhuyin}
        mode = request.POST.get("mode", "")
        if mode not in handlers:
            return HttpResponseBadRequest(_("不明的操作。"))
        result, ok = handlers[mode](request)
        if request.htmx:
            # htmx swaps 2xx answers only: a refused input is shown like a result.
            return render(request, f"{TEMPLATE}#{mode}_result", self.context(**result))
        return render(request, TEMPLATE, self.context(**result), status=200 if ok else 400)

    def context(self, **extra) -> dict:
        ctx = {
            # Always new, unbound forms: what was typed is never written back into the page.
            "check_form": PasswordCheckForm(),
            "initials_form": InitialsForm(),
            "zhuyin_form": ZhuyinForm(),
            "min_length": MIN_LENGTH,
            "keyboard": keyboard_rows(),
            "tone_keys": [
                (_("第一聲"), _("空白鍵")),
                (_("第二聲 ˊ"), "6"),
                (_("第三聲 ˇ"), "3"),
                (_("第四聲 ˋ"), "4"),
                (_("輕聲 ˙"), "7"),
            ],
        }
        ctx.update(extra)
        return ctx

    def _policy_kwargs(self, request) -> dict:
        # One's own account name and personal data, as on the password-change page.
        return {"user": request.user, "username": request.user.get_username()}

    def check(self, request):
        form = PasswordCheckForm(request.POST)
        if not form.is_valid():
            return {"check_errors": form_errors(form)}, False
        violations = passwordhint.check(
            form.cleaned_data["password"], **self._policy_kwargs(request)
        )
        return {"check_done": True, "check_violations": explained(violations)}, True

    def initials(self, request):
        form = InitialsForm(request.POST)
        if not form.is_valid():
            return {"initials_errors": form_errors(form)}, False
        data = form.cleaned_data
        try:
            hints = [
                passwordhint.initials_hint(
                    data["sentence"],
                    last=last,
                    whole_numbers=data["whole_numbers"],
                    **self._policy_kwargs(request),
                )
                for last in (False, True)
            ]
        except passwordhint.HintInputError as error:
            return {"initials_errors": [error.message]}, False
        return {"initials_hints": [self._shown(h) for h in hints]}, True

    def zhuyin(self, request):
        form = ZhuyinForm(request.POST)
        if not form.is_valid():
            return {"zhuyin_errors": form_errors(form)}, False
        try:
            hint = passwordhint.zhuyin_hint(
                form.cleaned_data["phrase"], **self._policy_kwargs(request)
            )
        except passwordhint.HintInputError as error:
            return {"zhuyin_errors": [error.message]}, False
        return {"zhuyin_hint": self._shown(hint)}, True

    @staticmethod
    def _shown(hint: passwordhint.Hint) -> dict:
        titles = {
            "initials": _("字首（每個單字的第一個字元）"),
            "last_letters": _("字尾（每個單字的最後一個字元）"),
            "zhuyin": _("注音按鍵"),
        }
        return {
            "title": titles[hint.method],
            "result": hint.result,
            "result_shown": hint.result_shown,
            "has_space": hint.has_space,
            "length": len(hint.result),
            # Which reading each character got, to be checked against one's own; the words
            # of a sentence are not repeated (they add nothing to the letters shown).
            "parts": hint.parts if hint.method == "zhuyin" else (),
            "ok": hint.ok,
            "violations": explained(hint.violations),
        }


nav_link(
    gettext_lazy("帳號與權限"),
    gettext_lazy("通行碼小幫手"),
    "identity:password_help",
    SIGNED_IN,
)
