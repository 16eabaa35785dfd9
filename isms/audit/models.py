"""The audit trail: one append-only, hash-chained table for every record of every module."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEntry(models.Model):
    """One thing that happened: who, when, from where, to which record, what changed."""

    class Action(models.TextChoices):
        CREATE = "create", _("新增")
        UPDATE = "update", _("修改")
        DELETE = "delete", _("刪除")
        VOID = "void", _("作廢")
        LOGIN = "login", _("登入")
        LOGOUT = "logout", _("登出")
        LOGIN_FAILED = "login_failed", _("登入失敗")
        LOCKOUT = "lockout", _("帳號鎖定")
        PASSWORD_CHANGE = "password_change", _("變更通行碼")
        ROLE_GRANT = "role_grant", _("授予角色")
        ROLE_REVOKE = "role_revoke", _("撤銷角色")
        EXPORT = "export", _("匯出")
        DOWNLOAD = "download", _("下載附件")
        ACCESS_DENIED = "access_denied", _("拒絕存取")

    # The id is the position in the chain, assigned under the chain lock: 1, 2, 3, ...
    id = models.BigIntegerField(primary_key=True)
    timestamp = models.DateTimeField(_("時間"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("執行者"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(_("執行者"), max_length=150)
    action = models.CharField(_("動作"), max_length=20, choices=Action.choices)
    model_label = models.CharField(_("資料類型"), max_length=100, blank=True)
    object_id = models.CharField(_("資料編號"), max_length=64, blank=True)
    object_repr = models.CharField(_("資料"), max_length=200, blank=True)
    changes = models.JSONField(_("變更內容"), default=dict, blank=True)
    message = models.TextField(_("說明"), blank=True)
    ip = models.GenericIPAddressField(_("來源位址"), null=True, blank=True)
    request_id = models.CharField(_("請求編號"), max_length=32, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("稽核紀錄")
        verbose_name_plural = _("稽核紀錄")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["model_label", "object_id", "-id"]),
            models.Index(fields=["actor", "-id"]),
            models.Index(fields=["action", "-id"]),
        ]

    def __str__(self):
        return f"#{self.id} {self.get_action_display()} {self.object_repr}"

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("audit:entry_detail", args=[self.pk])

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit entries are append-only")


class ChainHead(models.Model):
    """The last link of the chain; locked while an entry is appended."""

    last_id = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        verbose_name = _("稽核鏈")

    def __str__(self):
        return f"#{self.last_id}"
