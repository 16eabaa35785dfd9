"""Core records: the school, its units and people, logins, attachments and API tokens."""

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

phone_validator = RegexValidator(
    r"^[0-9+#()\- ]{3,30}$", _("電話只能包含數字、空白與 + - # ( ) 符號。")
)
extension_validator = RegexValidator(r"^[0-9]{1,8}$", _("分機只能是 1 到 8 位數字。"))
national_id_validator = RegexValidator(
    r"^[A-Z][A-Z0-9][0-9]{8}$", _("身分證字號（或居留證號）格式為 1 個英文字母加 9 碼。")
)


class VoidableQuerySet(models.QuerySet):
    def active(self):
        return self.filter(voided_at__isnull=True)

    def voided(self):
        return self.filter(voided_at__isnull=False)


class VoidableModel(models.Model):
    """A record the policy requires to keep: it is voided with a reason, never deleted."""

    voided_at = models.DateTimeField(_("作廢時間"), null=True, blank=True, editable=False)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("作廢者"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="+",
    )
    void_reason = models.TextField(_("作廢原因"), blank=True, editable=False)

    objects = VoidableQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def is_voided(self) -> bool:
        return self.voided_at is not None


class KeyHolder(models.Model):
    """A record a machine reports for with its own key (a backup plan, a sensor): only the
    key's SHA-256 and its first characters are kept; ``core/devicekeys.py`` makes, checks
    and revokes it."""

    token_prefix = models.CharField(_("金鑰前綴"), max_length=8, blank=True, editable=False)
    token_hash = models.CharField(max_length=64, blank=True, editable=False, db_index=True)
    token_created_at = models.DateTimeField(
        _("金鑰建立時間"), null=True, blank=True, editable=False
    )

    class Meta:
        abstract = True


class SchoolProfile(models.Model):
    """The school itself (one row): name, OID on the 教育機構資安通報平台, semester dates."""

    name = models.CharField(_("學校名稱"), max_length=200)
    short_name = models.CharField(_("簡稱"), max_length=50, blank=True)
    english_name = models.CharField(_("英文名稱"), max_length=200, blank=True)
    address = models.CharField(_("地址"), max_length=300, blank=True)
    phone = models.CharField(_("總機"), max_length=30, blank=True, validators=[phone_validator])
    oid = models.CharField(
        _("學校 OID"),
        max_length=100,
        blank=True,
        help_text=_("教育機構資安通報平台帳號，例如 2.16.886.111.900026.100107.0~4（條文 2.10.6）"),
        validators=[
            RegexValidator(
                r"^[0-9]+(\.[0-9]+)+(\.[0-9]+~[0-9]+)?$",
                _("OID 由數字與小數點組成，例如 2.16.886.111.900026.100107.0~4。"),
            )
        ],
    )
    platform_url = models.URLField(
        _("資安通報平台網址"), default="https://info.cert.tanet.edu.tw/", blank=True
    )
    first_semester_start_month = models.PositiveSmallIntegerField(_("第 1 學期開始月"), default=8)
    first_semester_start_day = models.PositiveSmallIntegerField(_("第 1 學期開始日"), default=1)
    second_semester_start_month = models.PositiveSmallIntegerField(_("第 2 學期開始月"), default=2)
    second_semester_start_day = models.PositiveSmallIntegerField(_("第 2 學期開始日"), default=1)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("學校基本資料")
        verbose_name_plural = _("學校基本資料")

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("core:school")

    @classmethod
    def load(cls) -> "SchoolProfile":
        """The school's profile (created by migrate); reading it never writes."""
        return cls.objects.filter(pk=1).first() or cls(pk=1, name="本校")


class Unit(models.Model):
    """A unit of the school (處室), e.g. 教務處, 圖書館資訊組."""

    name = models.CharField(_("名稱"), max_length=100, unique=True)
    code = models.SlugField(_("代碼"), max_length=30, unique=True, allow_unicode=False)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上級單位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    phone = models.CharField(_("電話"), max_length=30, blank=True, validators=[phone_validator])
    is_active = models.BooleanField(_("使用中"), default=True)

    class Meta:
        verbose_name = _("單位")
        verbose_name_plural = _("單位")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("core:unit_detail", args=[self.pk])


class Person(VoidableModel):
    """Anyone the policy speaks of: staff, contract staff, vendor staff, students (2.7, 5.1)."""

    class Kind(models.TextChoices):
        STAFF = "staff", _("正式教職員")
        CONTRACT = "contract", _("約聘(僱)人員")
        VENDOR = "vendor", _("委外廠商人員")
        STUDENT = "student", _("學生")

    class Status(models.TextChoices):
        ACTIVE = "active", _("在職")
        SUSPENDED = "suspended", _("留職停薪")
        LEFT = "left", _("離職")

    name = models.CharField(_("姓名"), max_length=100)
    english_name = models.CharField(_("英文姓名"), max_length=100, blank=True)
    kind = models.CharField(_("身分"), max_length=20, choices=Kind.choices, default=Kind.STAFF)
    unit = models.ForeignKey(
        Unit, verbose_name=_("單位"), null=True, blank=True, on_delete=models.PROTECT
    )
    title = models.CharField(_("職稱"), max_length=100, blank=True)
    email = models.EmailField(_("電子郵件"), blank=True)
    extension = models.CharField(
        _("分機"), max_length=8, blank=True, validators=[extension_validator]
    )
    phone = models.CharField(_("電話"), max_length=30, blank=True, validators=[phone_validator])
    birthday = models.DateField(_("生日"), null=True, blank=True)
    national_id = models.CharField(
        _("身分證字號"), max_length=10, blank=True, validators=[national_id_validator]
    )
    organization = models.CharField(
        _("所屬公司"), max_length=200, blank=True, help_text=_("委外廠商人員填寫")
    )
    status = models.CharField(
        _("在職狀態"), max_length=20, choices=Status.choices, default=Status.ACTIVE
    )
    onboard_date = models.DateField(_("到職日"), null=True, blank=True)
    leave_date = models.DateField(_("離職日"), null=True, blank=True)
    notes = models.TextField(_("備註"), blank=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("人員")
        verbose_name_plural = _("人員")
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["unit", "name"]), models.Index(fields=["status"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(leave_date__isnull=True)
                | Q(onboard_date__isnull=True)
                | Q(leave_date__gte=models.F("onboard_date")),
                name="person_leave_after_onboard",
            )
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("core:person_detail", args=[self.pk])

    @property
    def masked_national_id(self) -> str:
        nid = self.national_id
        return f"{nid[:3]}****{nid[-3:]}" if nid else ""


class User(AbstractUser):
    """A login (帳號) of the product; linked to the person who holds it."""

    username = models.CharField(
        _("帳號"),
        max_length=64,
        unique=True,
        validators=[
            RegexValidator(
                r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$",
                _("帳號須為 2–64 個英數字，可含 . _ -，並以英數字開頭。"),
            )
        ],
        error_messages={"unique": _("此帳號已被使用。")},
    )
    person = models.OneToOneField(
        Person,
        verbose_name=_("人員"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="user",
    )
    must_change_password = models.BooleanField(_("須變更預設通行碼"), default=False)
    password_changed_at = models.DateTimeField(_("通行碼變更時間"), null=True, blank=True)
    default_password_expires_at = models.DateTimeField(_("預設通行碼到期"), null=True, blank=True)

    objects = UserManager()

    class Meta:
        verbose_name = _("登入帳號")
        verbose_name_plural = _("登入帳號")
        ordering = ["username"]

    def __str__(self):
        return f"{self.display_name} ({self.username})" if self.person_id else self.username

    @property
    def display_name(self) -> str:
        if self.person_id:
            return self.person.name
        return self.get_full_name() or self.username

    def get_absolute_url(self):
        return reverse("core:user_detail", args=[self.pk])


class PasswordHistory(models.Model):
    """Each time a login's password was set; the last N keep the hash so that they are not
    reused (A-3 注意事項 4), older rows only the time (the record of changes, A-5)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_history")
    password = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self):
        return f"{self.user_id} @ {self.created_at:%Y-%m-%d}"


class ContactEntry(models.Model):
    """A row of the A-6 incident-procedure contact table (資安事件通報程序)."""

    class Role(models.TextChoices):
        SECURITY_OFFICER = "security_officer", _("資安業務承辦人")
        SECURITY_SUPERVISOR = "security_supervisor", _("資安業務主管")
        PRINCIPAL = "principal", _("校長")
        BUREAU_OFFICER = "bureau_officer", _("教育局(處)資安承辦人")
        TACERT = "tacert", _("臺灣學術網路危機處理中心(TACERT)")

    role = models.CharField(_("人員"), max_length=30, choices=Role.choices, unique=True)
    person = models.ForeignKey(
        Person, verbose_name=_("對應人員"), null=True, blank=True, on_delete=models.PROTECT
    )
    name = models.CharField(_("姓名"), max_length=100, blank=True)
    phone = models.CharField(_("聯絡電話"), max_length=30, blank=True, validators=[phone_validator])
    email = models.EmailField(_("電子郵件"), blank=True)
    order = models.PositiveSmallIntegerField(default=0, editable=False)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("通報聯絡人")
        verbose_name_plural = _("通報聯絡人")
        ordering = ["order"]

    def __str__(self):
        return f"{self.get_role_display()}：{self.display_name or '—'}"

    @property
    def display_name(self) -> str:
        return self.name or (self.person.name if self.person_id else "")

    def get_absolute_url(self):
        return reverse("core:contacts")


def attachment_path(instance, filename):
    # Random names: the original name is kept in the row, never trusted on disk.
    return f"attachments/{timezone.now():%Y/%m}/{secrets.token_hex(16)}"


class Attachment(VoidableModel):
    """An evidence file (scan of a signed form, screenshot) attached to any record."""

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.CharField(max_length=64)
    target = GenericForeignKey("content_type", "object_id")
    file = models.FileField(upload_to=attachment_path, max_length=200)
    original_name = models.CharField(_("檔名"), max_length=255)
    size = models.PositiveBigIntegerField(_("大小"))
    mime_type = models.CharField(_("類型"), max_length=100)
    sha256 = models.CharField(max_length=64)
    description = models.CharField(_("說明"), max_length=200, blank=True)
    uploaded_by = models.ForeignKey(
        User, verbose_name=_("上傳者"), null=True, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("上傳時間"), auto_now_add=True)

    class Meta:
        verbose_name = _("附件")
        verbose_name_plural = _("附件")
        ordering = ["-uploaded_at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self):
        return self.original_name

    def get_absolute_url(self):
        return reverse("core:attachment_download", args=[self.pk])


class ApiTokenQuerySet(models.QuerySet):
    def usable(self):
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A per-user API key; only its SHA-256 is stored, the key is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("名稱"), max_length=100)
    prefix = models.CharField(_("前綴"), max_length=8, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("最後使用"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("撤銷時間"), null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API 金鑰")
        verbose_name_plural = _("API 金鑰")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def get_absolute_url(self):
        return reverse("core:token_list")
