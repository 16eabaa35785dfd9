"""Semester account review (2.7) and the privileged-account list A-4 (2.8)."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from isms.audit.models import AuditEntry
from isms.compliance import engine
from isms.compliance.models import ObligationState, PolicyRevision
from isms.core.models import Person, SchoolProfile
from isms.core.roles import (
    EQUIPMENT_HEAD,
    MANAGERS,
    PRINCIPAL,
    SECURITY_OFFICER,
    SUPERVISOR,
    SYSADMIN,
)
from isms.core.testing import ROLE_CASES, roles_for
from isms.identity import reviews, services
from isms.identity.models import (
    Account,
    AccountReview,
    AccountReviewItem,
    InformationSystem,
    PrivilegedReview,
)

# 115/11/30 10:00 in Taipei: the 1st semester of school year 115 under the default profile.
NOW = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)
READERS = MANAGERS | {SYSADMIN, EQUIPMENT_HEAD}

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def system(name="校務行政系統", admins=(), **values):
    obj = InformationSystem.objects.create(name=name, **values)
    obj.administrators.set(admins)
    return obj


def person(name="陳大文", **values):
    return Person.objects.create(name=name, **values)


def account(username, on, *, holder=None, kind=Account.Kind.PERSONAL, **values):
    if holder is None and kind == Account.Kind.PERSONAL:
        holder = person(f"持有人{username}")
    obj = Account(system=on, username=username, person=holder, kind=kind, **values)
    return services.save_account(obj, actor=None)


def started(system_, actor):
    return reviews.start_review(system_, actor=actor)


def url(name, *args):
    return reverse(f"identity:{name}", args=args)


@pytest.fixture
def officer(client_for):
    return client_for(SECURITY_OFFICER)


@pytest.fixture
def admin(client_for):
    """A system administrator (role sysadmin) of the system ``sis`` below."""
    return client_for(SYSADMIN)


@pytest.fixture
def sis(admin):
    return system("校務行政系統", admins=[admin.user])


# Pages by role ----------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ROLE_CASES)
def test_account_review_pages_answer_by_role(role, client_for, make_user):
    starter = make_user("starter", SECURITY_OFFICER)
    review = started(system("電子郵件"), starter)
    c = client_for(*roles_for(role))
    expected = 200 if role in READERS else 403
    for name, args in (
        ("accountreview_list", ()),
        ("accountreview_detail", (review.pk,)),
        ("accountreview_print", (review.pk,)),
    ):
        assert c.get(url(name, *args)).status_code == expected, name


@pytest.mark.parametrize("role", ROLE_CASES)
def test_privileged_pages_answer_by_role(role, client_for, make_user):
    preparer = make_user("preparer", SYSADMIN)
    account("root", system("網站"), kind=Account.Kind.PRIVILEGED, rights="全部")
    review = reviews.prepare_privileged(actor=preparer)
    c = client_for(*roles_for(role))
    expected = 200 if role in READERS else 403
    for name, args in (
        ("privileged_list", ()),
        ("privilegedreview_detail", (review.pk,)),
        ("privilegedreview_print", (review.pk,)),
    ):
        assert c.get(url(name, *args)).status_code == expected, name


def test_anonymous_people_are_sent_to_sign_in(client, make_user):
    review = started(system("電子郵件"), make_user("s", SECURITY_OFFICER))
    for target in (url("accountreview_list"), url("accountreview_detail", review.pk)):
        response = client.get(target)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_missing_reviews_are_404(officer):
    assert officer.get(url("accountreview_detail", 98765)).status_code == 404
    assert officer.get(url("privilegedreview_print", 98765)).status_code == 404


def test_menu_lists_both_pages_under_accounts_and_access(client_for):
    page = client_for(SYSADMIN).get(url("accountreview_list")).content.decode()
    assert "帳號與權限" in page
    assert url("accountreview_list") in page and url("privileged_list") in page
    staff_menu = client_for("staff").get("/").content.decode()
    assert url("accountreview_list") not in staff_menu


# Starting the semester's review -----------------------------------------------------------------
@pytest.mark.parametrize("role", ROLE_CASES)
def test_only_the_security_officer_starts_reviews(role, client_for):
    target = system("電子郵件")
    response = client_for(*roles_for(role)).post(url("accountreview_start"), {"system": target.pk})
    if role == SECURITY_OFFICER:
        review = AccountReview.objects.get()
        assert response.status_code == 302 and response["Location"] == review.get_absolute_url()
    else:
        assert response.status_code == 403
        assert not AccountReview.objects.exists()


def test_a_review_snapshots_the_accounts_not_removed_for_the_school_term(officer, sis):
    active = account("chen", sis)
    disabled = account("lin", sis, status=Account.Status.DISABLED)
    account("wang", sis, status=Account.Status.REMOVED)
    voided = account("old", sis)
    Account.objects.filter(pk=voided.pk).update(voided_at=NOW)
    account("chen", system("電子郵件"))  # another system's
    response = officer.post(url("accountreview_start"), {"system": sis.pk, "note": "期初檢查"})
    assert response.status_code == 302
    review = AccountReview.objects.get()
    assert (review.system, review.school_year, review.semester) == (sis, 115, 1)
    assert review.started_by == officer.user and review.started_at == NOW
    assert review.note == "期初檢查" and review.completed_at is None
    assert {i.account_id for i in review.items.all()} == {active.pk, disabled.pk}
    assert not review.items.exclude(decision="").exists()
    entries = AuditEntry.objects.filter(model_label__startswith="identity.accountreview")
    assert entries.count() == 3 and {e.actor_id for e in entries} == {officer.user.pk}


def test_starting_twice_in_a_semester_is_refused(officer, sis):
    account("chen", sis)
    assert officer.post(url("accountreview_start"), {"system": sis.pk}).status_code == 302
    response = officer.post(url("accountreview_start"), {"system": sis.pk})
    assert response.status_code == 400
    text = response.content.decode()
    assert "校務行政系統" in text and "115學年度第1學期" in text and "每學期只做一次" in text
    assert AccountReview.objects.count() == 1
    with pytest.raises(Exception, match="每學期只做一次"):
        started(sis, officer.user)


def test_start_for_all_systems_skips_those_started_and_voided_ones(officer, sis):
    mail = system("電子郵件")
    old = system("舊網站")
    InformationSystem.objects.filter(pk=old.pk).update(voided_at=NOW)
    started(sis, officer.user)
    response = officer.post(url("accountreview_start"), {"system": ""}, follow=True)
    assert response.status_code == 200
    assert set(AccountReview.objects.values_list("system__name", flat=True)) == {
        sis.name,
        mail.name,
    }
    text = response.content.decode()
    assert "已發起115學年度第1學期 1 個系統" in text and "未重複建立" in text
    again = officer.post(url("accountreview_start"), {"system": ""})
    assert again.status_code == 400
    assert "所有系統的帳號定期檢查都已發起" in again.content.decode()


def test_the_semester_follows_the_school_profile(make_user, sis):
    officer_user = make_user("o", SECURITY_OFFICER)
    first = started(sis, officer_user)
    assert (first.school_year, first.semester) == (115, 1)
    # 116/02/01 in Taipei: the 2nd semester, a new review of the same system is due.
    with time_machine.travel(dt.datetime(2027, 2, 1, 1, 0, tzinfo=dt.UTC), tick=False):
        second = started(sis, officer_user)
    assert (second.school_year, second.semester) == (115, 2)
    # A school whose 1st semester starts on 8/30: 8/15 is still the 2nd semester of 114.
    profile = SchoolProfile.load()
    profile.first_semester_start_month, profile.first_semester_start_day = 8, 30
    profile.save()
    with time_machine.travel(dt.datetime(2026, 8, 15, 4, 0, tzinfo=dt.UTC), tick=False):
        term = reviews.current_term()
        assert (term.school_year, term.semester) == (114, 2)
        third = started(sis, officer_user)
    assert (third.school_year, third.semester) == (114, 2)


# The owner's checklist ----------------------------------------------------------------------------
def _item(review, username):
    return review.items.get(account__username=username)


def test_the_owner_keeps_and_disables_accounts(admin, officer, sis):
    keep, drop = account("chen", sis), account("lin", sis)
    review = started(sis, officer.user)
    k, d = _item(review, "chen"), _item(review, "lin")
    response = admin.post(
        url("accountreview_decide", review.pk),
        {f"decision-{k.pk}": "keep", f"decision-{d.pk}": "disable", f"note-{d.pk}": "已調離"},
    )
    assert response.status_code == 302
    k.refresh_from_db()
    d.refresh_from_db()
    assert (k.decision, k.decided_by, k.decided_at) == ("keep", admin.user, NOW)
    assert (d.decision, d.note, d.decided_by) == ("disable", "已調離", admin.user)
    keep.refresh_from_db()
    drop.refresh_from_db()
    assert keep.status == Account.Status.ACTIVE
    assert drop.status == Account.Status.DISABLED and drop.disabled_on == dt.date(2026, 11, 30)
    assert "帳號定期檢查停用" in drop.notes and "已調離" in drop.notes
    for label in ("identity.accountreviewitem", "identity.account"):
        entries = AuditEntry.objects.filter(model_label=label, actor=admin.user)
        assert entries.exists(), label


def test_a_disabled_account_stays_disabled_in_the_review(admin, officer, sis):
    account("lin", sis)
    review = started(sis, officer.user)
    item = _item(review, "lin")
    reviews.decide_item(item, actor=admin.user, decision="disable")
    with pytest.raises(Exception, match="重新啟用"):
        reviews.decide_item(item, actor=admin.user, decision="keep")
    page = admin.get(url("accountreview_detail", review.pk)).content.decode()
    assert f'name="decision-{item.pk}"' not in page


def test_only_the_systems_owners_act_on_its_checklist(client_for, officer, sis):
    account("chen", sis)
    review = started(sis, officer.user)
    item = _item(review, "chen")
    data = {f"decision-{item.pk}": "keep"}
    for role in (SYSADMIN, SUPERVISOR, PRINCIPAL, EQUIPMENT_HEAD):  # not this system's admins
        c = client_for(role)
        assert c.post(url("accountreview_decide", review.pk), data).status_code == 403
        assert c.post(url("accountreview_complete", review.pk)).status_code == 403
        assert f'name="decision-{item.pk}"' not in c.get(review.get_absolute_url()).content.decode()
    for role in ("staff", "guard"):
        c = client_for(role)
        assert c.post(url("accountreview_decide", review.pk), data).status_code == 403
    item.refresh_from_db()
    assert item.decision == ""
    # The security officer works any system's checklist.
    assert officer.post(url("accountreview_decide", review.pk), data).status_code == 302


def test_departed_holders_and_unjustified_shared_accounts_are_highlighted(admin, officer, sis):
    account("left", sis, holder=person("離職者", status=Person.Status.LEFT))
    account("gone", sis, holder=person("到期者", leave_date=dt.date(2026, 11, 1)))
    account("lab", sis, kind=Account.Kind.SHARED)
    account("ok", sis)
    review = started(sis, officer.user)
    page = admin.get(review.get_absolute_url()).content.decode()
    assert page.count('data-flag="departed"') == 2
    assert page.count('data-flag="shared"') == 1
    assert page.count('class="table-warning"') == 3
    # Keeping them needs a reason; the other account needs none. Nothing is saved on error.
    items = {i.account.username: i for i in review.items.select_related("account")}
    data = {f"decision-{i.pk}": "keep" for i in items.values()}
    response = admin.post(url("accountreview_decide", review.pk), data)
    assert response.status_code == 400
    errors = response.content.decode().split('class="invalid-feedback d-block">')[1:]
    assert sorted(e.split("<")[0] for e in errors) == [
        "保留須說明理由（使用人已離職）。",
        "保留須說明理由（使用人已離職）。",
        "保留須說明理由（共用帳號未說明理由）。",
    ]
    assert not review.items.exclude(decision="").exists()
    data |= {f"note-{items[n].pk}": "交接中，月底停用" for n in ("left", "gone", "lab")}
    assert admin.post(url("accountreview_decide", review.pk), data).status_code == 302
    assert not review.items.filter(decision="").exists()


def test_an_empty_submission_is_refused(admin, officer, sis):
    account("chen", sis)
    review = started(sis, officer.user)
    response = admin.post(url("accountreview_decide", review.pk), {})
    assert response.status_code == 400
    assert "請至少為一個帳號選擇" in response.content.decode()


def test_completion_needs_every_account_decided(admin, officer, sis):
    account("chen", sis)
    account("lin", sis)
    review = started(sis, officer.user)
    reviews.decide_item(_item(review, "chen"), actor=admin.user, decision="keep")
    response = admin.post(url("accountreview_complete", review.pk), {"note": "完成"})
    assert response.status_code == 400
    assert "尚有 1 個帳號未確認" in response.content.decode()
    review.refresh_from_db()
    assert review.completed_at is None
    reviews.decide_item(_item(review, "lin"), actor=admin.user, decision="keep")
    response = admin.post(url("accountreview_complete", review.pk), {"note": "全部確認"})
    assert response.status_code == 302
    review.refresh_from_db()
    assert (review.completed_by, review.completed_at) == (admin.user, NOW)
    assert "全部確認" in review.note
    entry = AuditEntry.objects.filter(model_label="identity.accountreview").order_by("-id")[0]
    assert entry.actor == admin.user
    # Closed: no more decisions, no second completion.
    with pytest.raises(Exception, match="已完成"):
        reviews.decide_item(_item(review, "lin"), actor=admin.user, decision="disable")
    assert admin.post(url("accountreview_complete", review.pk)).status_code == 400


def test_completion_is_the_evidence_of_the_semester_duty(admin, officer, sis):
    other = system("電子郵件")
    account("chen", sis)
    review = started(sis, officer.user)
    reviews.decide_item(_item(review, "chen"), actor=admin.user, decision="keep")
    reviews.complete_review(review, actor=admin.user)
    engine.refresh("identity.account_review")
    done = ObligationState.objects.get(key="identity.account_review", subject_id=str(sis.pk))
    assert done.last_done_at == NOW
    pending = ObligationState.objects.get(key="identity.account_review", subject_id=str(other.pk))
    assert pending.last_done_at is None


def test_a_system_without_accounts_completes_at_once(officer):
    review = started(system("新系統"), officer.user)
    assert review.items.count() == 0
    assert officer.post(url("accountreview_complete", review.pk)).status_code == 302
    review.refresh_from_db()
    assert review.completed_by == officer.user


def test_the_list_shows_this_semesters_progress(admin, officer, sis):
    account("chen", sis)
    system("電子郵件")
    review = started(sis, officer.user)
    page = admin.get(url("accountreview_list")).content.decode()
    assert "115學年度第1學期" in page and "0 / 1" in page and "未發起" in page
    assert "我負責的系統" in page
    assert url("accountreview_start") not in page  # only the officer starts
    assert review.get_absolute_url() in page
    assert url("accountreview_start") in officer.get(url("accountreview_list")).content.decode()


def test_the_print_view_is_the_record(admin, officer, sis, make_user):
    PolicyRevision.objects.create(
        version="114-1", adopted_on=dt.date(2025, 9, 1), approved_on=dt.date(2025, 9, 10)
    )
    account("chen", sis, holder=person("陳小明"))
    account("lin", sis)
    review = started(sis, officer.user)
    reviews.decide_item(_item(review, "chen"), actor=admin.user, decision="keep", note="在職")
    reviews.decide_item(_item(review, "lin"), actor=admin.user, decision="disable")
    reviews.complete_review(review, actor=admin.user)
    page = officer.get(url("accountreview_print", review.pk)).content.decode()
    for text in (
        "校務行政系統",
        "115學年度第1學期",
        "陳小明",
        "chen",
        "確認保留",
        "停用",
        "在職",
        admin.user.display_name,
        officer.user.display_name,
        "115/11/30 10:00",
        "系統管理人員",
        "資安業務承辦人",
        "資訊業務主管",
        "114-1",
    ):
        assert text in page, text


# Privileged accounts (A-4) ----------------------------------------------------------------------
@pytest.fixture
def privileged(sis):
    root = account(
        "root",
        sis,
        kind=Account.Kind.PRIVILEGED,
        holder=person("林管理"),
        rights="資料庫管理、帳號管理",
    )
    account("chen", sis)  # not privileged
    account(
        "admin2",
        sis,
        kind=Account.Kind.PRIVILEGED,
        rights="備份",
        status=Account.Status.DISABLED,
    )
    return root


def _lacking(on):
    """A privileged account whose rights were never written (imported before the rule)."""
    obj = account("ghost", on, kind=Account.Kind.PRIVILEGED, rights="x")
    Account.objects.filter(pk=obj.pk).update(rights="")
    return obj


def test_the_list_shows_active_privileged_accounts_with_rights(admin, privileged):
    page = admin.get(url("privileged_list")).content.decode()
    assert "root" in page and "林管理" in page and "資料庫管理、帳號管理" in page
    assert ">chen<" not in page and "admin2" not in page
    assert url("privilegedreview_prepare") in page


@pytest.mark.parametrize("role", ROLE_CASES)
def test_a_sysadmin_or_the_officer_prepares_the_list(role, client_for, privileged):
    response = client_for(*roles_for(role)).post(url("privilegedreview_prepare"))
    if role in (SYSADMIN, SECURITY_OFFICER):
        review = PrivilegedReview.objects.get()
        assert response.status_code == 302 and response["Location"] == review.get_absolute_url()
    else:
        assert response.status_code == 403
        assert not PrivilegedReview.objects.exists()


def test_preparing_snapshots_the_accounts_and_rights(admin, privileged):
    assert admin.post(url("privilegedreview_prepare")).status_code == 302
    review = PrivilegedReview.objects.get()
    assert (review.school_year, review.semester) == (115, 1)
    assert (review.prepared_by, review.prepared_at) == (admin.user, NOW)
    (item,) = review.items.all()
    assert (item.account, item.holder) == (privileged, "林管理")
    assert item.rights == "資料庫管理、帳號管理"
    entries = AuditEntry.objects.filter(model_label__startswith="identity.privilegedreview")
    assert entries.count() == 2 and {e.actor_id for e in entries} == {admin.user.pk}


def test_an_account_without_rights_blocks_preparing(admin, privileged, sis):
    ghost = _lacking(sis)
    page = admin.get(url("privileged_list")).content.decode()
    assert "尚未列出所擁有的權限" in page and ghost.get_absolute_url() in page
    response = admin.post(url("privilegedreview_prepare"))
    assert response.status_code == 400
    assert "ghost" in response.content.decode()
    assert not PrivilegedReview.objects.exists()
    ghost.rights = "網站後台"
    services.save_account(ghost, actor=admin.user)
    assert admin.post(url("privilegedreview_prepare")).status_code == 302
    assert PrivilegedReview.objects.get().items.count() == 2


def test_preparing_again_before_the_review_refreshes_the_list(admin, privileged, sis):
    first = reviews.prepare_privileged(actor=admin.user)
    account("web", sis, kind=Account.Kind.PRIVILEGED, rights="網站後台", holder=person("王網管"))
    page = admin.get(first.get_absolute_url()).content.decode()
    assert "已有異動" in page
    second = reviews.prepare_privileged(actor=admin.user)
    assert second.pk == first.pk
    assert set(second.items.values_list("holder", flat=True)) == {"林管理", "王網管"}
    assert "已有異動" not in admin.get(first.get_absolute_url()).content.decode()


@pytest.mark.parametrize(
    "change",
    ["new_account", "rights", "holder", "disabled"],
)
def test_an_outdated_list_cannot_be_reviewed_until_prepared_again(
    change, admin, client_for, privileged, sis
):
    boss = client_for(SUPERVISOR)
    review = reviews.prepare_privileged(actor=admin.user)
    if change == "new_account":
        account("web", sis, kind=Account.Kind.PRIVILEGED, rights="網站後台", holder=person("王"))
    elif change == "rights":
        privileged.rights = "資料庫管理"
        services.save_account(privileged, actor=admin.user)
    elif change == "holder":
        privileged.person = person("新管理")
        services.save_account(privileged, actor=admin.user)
    else:
        services.set_status(privileged, Account.Status.DISABLED, actor=admin.user)
    page = boss.get(review.get_absolute_url()).content.decode()
    assert "已有異動" in page and url("privilegedreview_review", review.pk) not in page
    response = boss.post(url("privilegedreview_review", review.pk), {"review_note": "無誤"})
    assert response.status_code == 400 and "請重新填寫清單後再覆核" in response.content.decode()
    review.refresh_from_db()
    assert review.reviewed_at is None
    reviews.prepare_privileged(actor=admin.user)
    response = boss.post(url("privilegedreview_review", review.pk), {"review_note": "無誤"})
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.reviewed_by == boss.user


@pytest.mark.parametrize("role", ROLE_CASES)
def test_only_the_supervisor_reviews_the_list(role, client_for, make_user, privileged):
    review = reviews.prepare_privileged(actor=make_user("prep", SYSADMIN))
    c = client_for(*roles_for(role))
    response = c.post(url("privilegedreview_review", review.pk), {"review_note": "無誤"})
    review.refresh_from_db()
    if role == SUPERVISOR:
        assert response.status_code == 302
        assert (review.reviewed_by, review.reviewed_at) == (c.user, NOW)
        assert review.review_note == "無誤"
    else:
        assert response.status_code == 403
        assert review.reviewed_at is None


def test_the_review_is_the_evidence_and_closes_the_semester(admin, client_for, privileged):
    boss = client_for(SUPERVISOR)
    review = reviews.prepare_privileged(actor=admin.user)
    page = boss.get(review.get_absolute_url()).content.decode()
    assert url("privilegedreview_review", review.pk) in page
    response = boss.post(url("privilegedreview_review", review.pk), {"review_note": ""})
    assert response.status_code == 302
    entry = AuditEntry.objects.filter(model_label="identity.privilegedreview").order_by("-id")[0]
    assert entry.actor == boss.user
    engine.refresh("identity.privileged_review")
    assert ObligationState.objects.get(key="identity.privileged_review").last_done_at == NOW
    again = boss.post(url("privilegedreview_review", review.pk), {"review_note": "再次"})
    assert again.status_code == 400 and "已覆核" in again.content.decode()
    refused = admin.post(url("privilegedreview_prepare"))
    assert refused.status_code == 400 and "每學期只做一次" in refused.content.decode()


def test_the_preparer_does_not_review_their_own_list(client_for, privileged):
    both = client_for(SUPERVISOR, SYSADMIN)
    review = reviews.prepare_privileged(actor=both.user)
    response = both.post(url("privilegedreview_review", review.pk), {"review_note": ""})
    assert response.status_code == 400
    assert "填表人不可覆核" in response.content.decode()


def test_the_a4_print_view(admin, client_for, privileged):
    PolicyRevision.objects.create(
        version="114-1", adopted_on=dt.date(2025, 9, 1), approved_on=dt.date(2025, 9, 10)
    )
    boss = client_for(SUPERVISOR)
    review = reviews.prepare_privileged(actor=admin.user)
    unsigned = boss.get(url("privilegedreview_print", review.pk)).content.decode()
    assert "此清單尚待主管覆核" in unsigned
    with time_machine.travel(NOW + dt.timedelta(days=2), tick=False):
        reviews.review_privileged(review, actor=boss.user, note="權限適當")
    page = boss.get(url("privilegedreview_print", review.pk)).content.decode()
    for text in (
        "文件編號：A-4",
        "系統特權帳號清單",
        "填寫日期：",
        "民國115年11月30日",
        "系統名稱",
        "人員姓名",
        "校務行政系統",
        "root",
        "林管理",
        "資料庫管理、帳號管理",
        "填寫人：",
        admin.user.display_name,
        "主管覆核：",
        boss.user.display_name,
        "115/12/02 10:00",
        "權限適當",
        "114-1",
    ):
        assert text in page, text
    assert "此清單尚待主管覆核" not in page
    assert "chen" not in page


def test_disabling_through_the_review_uses_set_status(monkeypatch, admin, officer, sis):
    account("lin", sis)
    review = started(sis, officer.user)
    calls = []
    original = services.set_status

    def spy(account_, status, **kwargs):
        calls.append((account_.username, status, kwargs["actor"]))
        return original(account_, status, **kwargs)

    monkeypatch.setattr(services, "set_status", spy)
    reviews.decide_item(_item(review, "lin"), actor=admin.user, decision="disable")
    assert calls == [("lin", Account.Status.DISABLED, admin.user)]
    assert AccountReviewItem.objects.get(review=review).decision == "disable"


def test_an_account_that_breaks_a_rule_can_still_be_disabled(admin, officer, sis):
    ghost = _lacking(sis)  # a privileged account without its rights listed
    review = started(sis, officer.user)
    item = _item(review, ghost.username)
    data = {f"decision-{item.pk}": "disable"}
    response = admin.post(url("accountreview_decide", review.pk), data)
    assert response.status_code == 302
    ghost.refresh_from_db()
    item.refresh_from_db()
    assert ghost.status == Account.Status.DISABLED and item.decision == "disable"
