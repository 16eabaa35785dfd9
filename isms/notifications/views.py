"""Pages of the outbox: the register of notifications (managers), re-sending a failed one
(security officer), and everyone's own delivery preference."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.core.access import SIGNED_IN, Access, can
from isms.core.generic import (
    DetailPage,
    ListPage,
    ProtectedView,
    RegisterView,
    can_see_history,
    history_for,
    register_urls,
)
from isms.core.registers import Register, nav_link
from isms.core.roles import MANAGERS, SECURITY_OFFICER

from . import delivery, services
from .api import NotificationSerializer
from .filters import NotificationFilterSet
from .forms import NotificationPreferenceForm
from .models import Notification
from .tables import NOTIFICATION_COLUMNS

Status = Notification.Status

# Managers read the outbox; the security officer, who owns the ISMS, re-sends failures.
NOTIFICATION_ACCESS = Access(view=MANAGERS, change=frozenset({SECURITY_OFFICER}))


class NotificationList(ListPage):
    """The generic list, with a warning above it when mail failed or no worker runs."""

    template_name = "notifications/notification_list.html"

    def extra_context(self):
        return {
            "failed_count": Notification.objects.failed().count(),
            "stalled_count": delivery.stalled_count(),
        }


class NotificationDetail(DetailPage):
    """The generic detail, with the error shown first and the re-send button."""

    def get(self, request, pk):
        obj = self.get_object()
        reg = self.register
        ctx = self.context(
            object=obj,
            rows=reg.detail_rows(obj),
            history=history_for(obj)[:10] if can_see_history(request.user, reg) else None,
            attachments=None,
            can_resend=obj.status == Status.FAILED and can(request.user, "change", reg.access),
            items=obj.items.select_related("recipient") if obj.is_digest else None,
        )
        return render(request, reg.detail_template, ctx)


class NotificationRegister(Register):
    model = Notification
    access = NOTIFICATION_ACCESS
    columns = NOTIFICATION_COLUMNS
    filterset_class = NotificationFilterSet
    form_class = None
    serializer_class = NotificationSerializer
    viewset_read_only = True
    route = "outbox"
    select_related = ("recipient",)
    ordering = ("-created_at", "-id")
    attachments = False
    detail_template = "notifications/notification_detail.html"
    detail_view = NotificationDetail
    detail_fields = [
        "recipient",
        "channel",
        "subject",
        "status",
        "urgent",
        "is_digest",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "claimed_by",
        "claimed_at",
        "created_at",
        "dedup_key",
    ]
    nav_group = gettext_lazy("法遵")
    nav_label = gettext_lazy("通知寄送紀錄")

    @classmethod
    def detail_rows(cls, obj):
        rows = super().detail_rows(obj)
        if obj.status == Status.QUEUED:
            return rows
        # Only a queued row has a next attempt; on others the stored time is history.
        label = str(Notification._meta.get_field("next_attempt_at").verbose_name)
        return [(name, "" if name == label else value) for name, value in rows]

    @classmethod
    def row_late(cls, obj, now, state=None):
        """A failed notification is red so that it cannot be missed."""
        return obj.status == Status.FAILED

    @classmethod
    def urls(cls):
        patterns = register_urls(cls)
        for index, pattern in enumerate(patterns):
            if pattern.name == "notification_list":
                view = type("NotificationRegisterList", (NotificationList,), {"register": cls})
                patterns[index] = path(str(pattern.pattern), view.as_view(), name=pattern.name)
        return patterns


class NotificationResendView(RegisterView):
    """「重新寄送」: a failed notification back to the queue (security officer)."""

    register = NotificationRegister
    action = "change"
    http_method_names = ["post"]

    def post(self, request, pk):
        row = self.get_object()
        try:
            services.notification_resend(row, actor=request.user)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("已重新排入寄送：「%(obj)s」。") % {"obj": row})
        return redirect(row.get_absolute_url())


class PreferenceView(ProtectedView):
    """One's own choice: every notification at once, or non-urgent ones in a daily digest."""

    access = SIGNED_IN

    def get(self, request, form=None, status=200):
        pref = services.preference_for(request.user)
        waiting = Notification.objects.pending_digest().filter(recipient=request.user).count()
        return render(
            request,
            "notifications/preferences.html",
            {
                "form": form or NotificationPreferenceForm(instance=pref, request=request),
                "address": services.recipient_address(request.user),
                "waiting": waiting,
                "recent": Notification.objects.filter(recipient=request.user)[:10],
            },
            status=status,
        )

    def post(self, request):
        pref = services.preference_for(request.user)
        form = NotificationPreferenceForm(request.POST, instance=pref, request=request)
        if not form.is_valid():
            return self.get(request, form=form, status=400)
        services.notification_preference_set(
            user=request.user,
            mode=form.cleaned_data["mode"],
            digest_hour=form.cleaned_data["digest_hour"],
            actor=request.user,
        )
        messages.success(request, _("已更新通知設定。"))
        return redirect("notifications:preferences")


nav_link(gettext_lazy("法遵"), gettext_lazy("通知設定"), "notifications:preferences", SIGNED_IN)
