"""The roles of DESIGN.md, seeded as Django groups named by their code."""

from django.utils.translation import gettext_lazy as _

SECURITY_OFFICER = "security_officer"
SUPERVISOR = "supervisor"
PRINCIPAL = "principal"
SYSADMIN = "sysadmin"
EQUIPMENT_HEAD = "equipment_head"
PERSONNEL = "personnel"
STAFF = "staff"
GUARD = "guard"

ROLES = {
    SECURITY_OFFICER: (
        _("資安業務承辦人"),
        _("處理資安事件、向教育機構資安通報平台通報、維護 ISMS"),
    ),
    SUPERVISOR: (_("資訊/資安業務主管"), _("主管覆核表單與日誌、接收升級通報")),
    PRINCIPAL: (_("校長"), _("接收 3 級以上事件通報、核准政策修訂")),
    SYSADMIN: (_("系統管理人員"), _("備份、資訊工作日誌、校時、帳號、伺服器")),
    EQUIPMENT_HEAD: (_("設備組長"), _("執行帳號申請、設備進出")),
    PERSONNEL: (_("人事室"), _("教職員報到與離退職（觸發帳號作業）")),
    STAFF: (_("教職員"), _("申請帳號、通報疑似資安事件、借用設備")),
    GUARD: (_("守衛室"), _("確認機房鑰匙繳回")),
}

ALL_ROLES = frozenset(ROLES)
# The office that runs the ISMS: it sees every register.
MANAGERS = frozenset({SECURITY_OFFICER, SUPERVISOR, PRINCIPAL})


def role_label(code: str) -> str:
    return str(ROLES[code][0]) if code in ROLES else code
