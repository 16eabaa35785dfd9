"""Columns of the core registers, declared once for the page, CSV and XLSX."""

from django.utils.translation import gettext_lazy as _

from .registers import Column
from .roles import role_label

UNIT_COLUMNS = [
    Column("name", _("名稱"), link=True),
    Column("code", _("代碼")),
    Column("parent", _("上級單位"), accessor="parent.name", sort="parent__name"),
    Column("phone", _("電話")),
    Column("is_active", _("使用中")),
]

PERSON_COLUMNS = [
    Column("name", _("姓名"), link=True),
    Column("unit", _("單位"), accessor="unit.name", sort="unit__name"),
    Column("title", _("職稱")),
    Column("kind", _("身分")),
    Column("extension", _("分機")),
    Column("email", _("電子郵件")),
    Column("status", _("在職狀態")),
    Column("onboard_date", _("到職日")),
    Column("leave_date", _("離職日"), page=False),
    Column("english_name", _("英文姓名"), page=False),
    Column("organization", _("所屬公司"), page=False),
]


def _roles(user) -> str:
    return "、".join(role_label(g.name) for g in user.groups.all())


USER_COLUMNS = [
    Column("username", _("帳號"), link=True),
    Column("person", _("人員"), accessor="person.name", sort="person__name"),
    Column("roles", _("角色"), accessor=_roles, sort=None),
    Column("is_active", _("啟用")),
    Column("must_change_password", _("須變更預設通行碼")),
    Column("last_login", _("最後登入")),
]
