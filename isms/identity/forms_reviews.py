"""Forms of the semester account review (2.7) and the privileged-account list (2.8, A-4)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import AccountReviewItem, InformationSystem

Decision = AccountReviewItem.Decision


class StartReviewForm(forms.Form):
    """The security officer starts this semester's review: one system, or all of them."""

    system = forms.ModelChoiceField(
        label=_("系統"),
        queryset=InformationSystem.objects.none(),
        required=False,
        empty_label=_("全部系統"),
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    note = forms.CharField(
        label=_("說明"),
        required=False,
        max_length=1000,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["system"].queryset = InformationSystem.objects.active().order_by("name")


class ChecklistForm(forms.Form):
    """One decision (保留 / 停用) and note per account of a review; blank rows are skipped.

    The accounts in ``no_keep`` (a departed holder's) are offered 停用 only; a 保留 sent
    for them anyway is refused by ``reviews.decide_items`` with its reason.
    """

    def __init__(self, *args, items=(), no_keep=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.items = list(items)
        for item in self.items:
            field = forms.ChoiceField(
                label=item.account.username,
                choices=[("", "—"), *Decision.choices],
                required=False,
                initial=item.decision,
                widget=forms.RadioSelect,
            )
            if item.pk in no_keep:
                field.widget.choices = [c for c in field.choices if c[0] != Decision.KEEP]
            self.fields[self.decision_name(item)] = field
            self.fields[self.note_name(item)] = forms.CharField(
                label=_("說明"),
                required=False,
                max_length=300,
                initial=item.note,
                widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}),
            )

    @staticmethod
    def decision_name(item) -> str:
        return f"decision-{item.pk}"

    @staticmethod
    def note_name(item) -> str:
        return f"note-{item.pk}"

    def decisions(self):
        """``[(item, decision, note), …]`` of the rows given a decision."""
        out = []
        for item in self.items:
            decision = self.cleaned_data.get(self.decision_name(item)) or ""
            note = (self.cleaned_data.get(self.note_name(item)) or "").strip()
            if decision:
                out.append((item, decision, note))
        return out

    def rows(self):
        """``(item, decision field, note field)`` for the template."""
        return [
            (item, self[self.decision_name(item)], self[self.note_name(item)])
            for item in self.items
        ]

    def apply_errors(self, error) -> None:
        """Put a service's ``"<pk>-decision"`` / ``"<pk>-note"`` errors on their fields."""
        for key, messages in error.message_dict.items():
            pk, _sep, name = key.partition("-")
            field = f"{name}-{pk}" if pk.isdigit() else None
            for message in messages:
                self.add_error(field if field in self.fields else None, message)


class CompleteReviewForm(forms.Form):
    note = forms.CharField(
        label=_("說明"),
        required=False,
        max_length=1000,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )


class PrivilegedReviewForm(forms.Form):
    review_note = forms.CharField(
        label=_("覆核意見"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 3}),
    )
