"""Semester account review (2.7) and the privileged-account list A-4 (2.8)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from isms.audit.models import AuditEntry
from isms.compliance import coverage, engine, registry
from isms.compliance.models import ObligationState, PolicyRevision
from isms.core.models import Person, SchoolProfile
from isms.core.roles import (
    EQUIPMENT_HEAD,
    MANAGERS,
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
TAIPEI = ZoneInfo("Asia/Taipei")


def taipei(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TAIPEI)


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
    account(
        "root", system("網站"), kind=Account.Kind.PRIVILEGED, rights="全部", display_name="網管"
    )
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


@pytest.mark.parametrize("role", ROLE_CASES)
def test_who_decides_and_completes_a_systems_check(role, client_for, make_user):
    """2.7: the system's managing side decides. A system with administrators is worked by
    them alone; the security officer decides only for a system that has none."""
    starter = make_user("starter", SECURITY_OFFICER)
    managed = system("校務行政系統", admins=[make_user("keeper", SYSADMIN)])
    unmanaged = system("電子郵件")
    c = client_for(*roles_for(role))
    for target, allowed in ((managed, False), (unmanaged, role == SECURITY_OFFICER)):
        account(f"chen.{target.pk}", target)
        review = started(target, starter)
        (item,) = review.items.all()
        page = c.get(review.get_absolute_url()).content.decode()
        decided = c.post(url("accountreview_decide", review.pk), {f"decision-{item.pk}": "keep"})
        completed = c.post(url("accountreview_complete", review.pk))
        item.refresh_from_db()
        review.refresh_from_db()
        if allowed:
            assert f'name="decision-{item.pk}"' in page
            assert decided.status_code == completed.status_code == 302, target
            assert (item.decided_by, review.completed_by) == (c.user, c.user)
        else:
            assert f'name="decision-{item.pk}"' not in page
            assert decided.status_code == completed.status_code == 403, target
            assert item.decision == "" and review.completed_at is None


@pytest.mark.parametrize("role", [SYSADMIN, SECURITY_OFFICER, EQUIPMENT_HEAD, SUPERVISOR])
def test_the_systems_administrators_decide_and_complete(role, client_for, make_user):
    c = client_for(role)
    target = system("校務行政系統", admins=[c.user, make_user("other", SYSADMIN)])
    account("chen", target)
    review = started(target, make_user("starter", SECURITY_OFFICER))
    item = _item(review, "chen")
    data = {f"decision-{item.pk}": "keep"}
    assert c.post(url("accountreview_decide", review.pk), data).status_code == 302
    assert c.post(url("accountreview_complete", review.pk)).status_code == 302
    review.refresh_from_db()
    assert review.completed_by == c.user


def test_the_officer_is_refused_by_the_service_too(officer, admin, sis):
    account("chen", sis)
    review = started(sis, officer.user)
    item = _item(review, "chen")
    with pytest.raises(PermissionDenied):
        reviews.decide_item(item, actor=officer.user, decision="keep")
    reviews.decide_item(item, actor=admin.user, decision="keep")
    with pytest.raises(PermissionDenied):
        reviews.complete_review(review, actor=officer.user)
    page = officer.get(review.get_absolute_url()).content.decode()
    assert "由此系統的系統管理人員確認各帳號並完成檢查" in page
    assert reviews.owned_system_ids(officer.user) == set()
    lone = system("電子郵件")
    assert reviews.owned_system_ids(officer.user) == {lone.pk}
    assert reviews.owned_system_ids(admin.user) == {sis.pk}
    listing = officer.get(url("accountreview_list")).content.decode()
    assert listing.count("我負責的系統") == 1


DEPARTED = (
    "使用人已離職，帳號不可保留，只能停用（條文 2.7；A-3 帳號使用注意事項 5："
    "「使用者離職須移除其系統帳號始完成離職手續」）。"
)


def test_departed_holders_and_unjustified_shared_accounts_are_highlighted(admin, officer, sis):
    account("left", sis, holder=person("離職者", status=Person.Status.LEFT))
    account("gone", sis, holder=person("到期者", leave_date=dt.date(2026, 11, 30)))
    account("lab", sis, kind=Account.Kind.SHARED)
    account("ok", sis, holder=person("明日離職", leave_date=dt.date(2026, 12, 1)))
    review = started(sis, officer.user)
    page = admin.get(review.get_absolute_url()).content.decode()
    assert page.count('data-flag="departed"') == 2
    assert page.count('data-flag="shared"') == 1
    assert page.count('class="table-warning"') == 3
    assert page.count("data-no-keep") == 2
    items = {i.account.username: i for i in review.items.select_related("account")}
    # A departed holder's row offers 停用 only; the others 保留 too.
    for name, keep in (("left", False), ("gone", False), ("lab", True), ("ok", True)):
        radio = f'name="decision-{items[name].pk}" value="keep"'
        assert (radio in page) == keep, name
        assert f'name="decision-{items[name].pk}" value="disable"' in page
    # 保留 sent anyway: refused for the departed even with a reason; the shared account
    # needs a reason; the other none. Nothing is saved on error.
    data = {f"decision-{i.pk}": "keep" for i in items.values()}
    data |= {f"note-{items[n].pk}": "交接中，月底停用" for n in ("left", "gone")}
    response = admin.post(url("accountreview_decide", review.pk), data)
    assert response.status_code == 400
    errors = response.content.decode().split('class="invalid-feedback d-block">')[1:]
    assert sorted(e.split("<")[0] for e in errors) == sorted(
        [DEPARTED, DEPARTED, "保留須說明理由（共用帳號未說明理由）。"]
    )
    assert not review.items.exclude(decision="").exists()
    with pytest.raises(ValidationError) as refused:
        reviews.decide_item(items["left"], actor=admin.user, decision="keep", note="仍需使用")
    assert DEPARTED in refused.value.messages
    # Only 停用 goes through for them; the shared one is kept with its reason.
    data |= {f"decision-{items[n].pk}": "disable" for n in ("left", "gone")}
    data[f"note-{items['lab'].pk}"] = "電腦教室共用"
    assert admin.post(url("accountreview_decide", review.pk), data).status_code == 302
    decided = dict(review.items.values_list("account__username", "decision"))
    assert decided == {"left": "disable", "gone": "disable", "lab": "keep", "ok": "keep"}


def test_a_holder_who_leaves_after_being_kept_blocks_completion(admin, officer, sis):
    holder = person("王老師")
    account("wang", sis, holder=holder)
    review = started(sis, officer.user)
    item = _item(review, "wang")
    reviews.decide_item(item, actor=admin.user, decision="keep")
    Person.objects.filter(pk=holder.pk).update(status=Person.Status.LEFT)
    response = admin.post(url("accountreview_complete", review.pk))
    assert response.status_code == 400
    text = response.content.decode()
    assert "帳號「wang」的使用人已離職，不可保留" in text and "條文 2.7" in text
    assert "使用者離職須移除其系統帳號始完成離職手續" in text
    review.refresh_from_db()
    assert review.completed_at is None
    reviews.decide_item(item, actor=admin.user, decision="disable")
    assert admin.post(url("accountreview_complete", review.pk)).status_code == 302


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
    review = started(system("新系統"), officer.user)  # no administrator: the officer's
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
    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        reviews.decide_item(_item(review, "chen"), actor=admin.user, decision="keep", note="在職")
    other = make_user("co-admin", SYSADMIN)
    sis.administrators.add(other)
    with time_machine.travel(NOW + dt.timedelta(hours=2), tick=False):
        reviews.decide_item(_item(review, "lin"), actor=other, decision="disable")
    unfinished = officer.get(url("accountreview_print", review.pk)).content.decode()
    assert "此檢查尚未完成" in unfinished and "尚未完成" in _box(unfinished, "completed")
    with time_machine.travel(NOW + dt.timedelta(days=1), tick=False):
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
        "115/11/30 11:00",  # each decision: who and when, in its row
        "115/11/30 12:00",
        other.display_name,
        "系統管理人員",
        "114-1",
    ):
        assert text in page, text
    # The signature boxes are the recorded steps, filled in; none is left for a step
    # the app does not have.
    started_box, completed_box = _box(page, "started"), _box(page, "completed")
    assert officer.user.display_name in started_box and "115/11/30 10:00" in started_box
    assert admin.user.display_name in completed_box and "115/12/01 10:00" in completed_box
    assert "資訊業務主管" not in page and "逾期完成" not in page
    assert page.count('class="signature"') == 2


def _box(page, step):
    return page.split(f'data-step="{step}">')[1].split("</td>")[0]


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
    obj = account("ghost", on, kind=Account.Kind.PRIVILEGED, rights="x", display_name="幽靈")
    Account.objects.filter(pk=obj.pk).update(rights="")
    return obj


def _nameless(on):
    """A privileged account with neither a holder nor a display name (imported so)."""
    return Account.objects.create(
        system=on, username="svc.backup", kind=Account.Kind.PRIVILEGED, rights="備份排程"
    )


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
    assert "尚未填寫權限說明" in page and ghost.get_absolute_url() in page
    response = admin.post(url("privilegedreview_prepare"))
    assert response.status_code == 400
    assert "尚未填寫權限說明（條文 2.8）" in response.content.decode()
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
    assert "填寫人不可覆核" in response.content.decode()


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
        "權限說明",
    ):
        assert text in page, text
    assert "此清單尚待主管覆核" not in page
    assert "chen" not in page
    for wrong in ("填表人", "填表時間", "特權權限", "逾期完成"):
        assert wrong not in page, wrong


@pytest.mark.parametrize("fix", ["person", "display_name"])
def test_an_account_without_a_name_blocks_preparing(fix, admin, privileged, sis):
    """A-4's column 人員姓名: every privileged account on the list names its holder."""
    nameless = _nameless(sis)
    page = admin.get(url("privileged_list")).content.decode()
    assert 'data-blocking="holder"' in page and nameless.get_absolute_url() in page
    assert "下列特權帳號沒有人員姓名" in page
    response = admin.post(url("privilegedreview_prepare"))
    assert response.status_code == 400
    text = response.content.decode()
    assert "沒有人員姓名（A-4）" in text and "svc.backup" in text
    assert not PrivilegedReview.objects.exists()
    # A blank display name is no name either.
    Account.objects.filter(pk=nameless.pk).update(display_name="  ")
    assert admin.post(url("privilegedreview_prepare")).status_code == 400
    if fix == "person":
        Account.objects.filter(pk=nameless.pk).update(person=person("張備份"))
    else:
        Account.objects.filter(pk=nameless.pk).update(display_name="備份服務（資訊組）")
    assert 'data-blocking="holder"' not in admin.get(url("privileged_list")).content.decode()
    assert admin.post(url("privilegedreview_prepare")).status_code == 302
    holders = set(PrivilegedReview.objects.get().items.values_list("holder", flat=True))
    assert holders == {"林管理", "張備份" if fix == "person" else "備份服務（資訊組）"}


def test_the_a4_pages_use_the_words_of_the_policy(admin, client_for, privileged):
    review = reviews.prepare_privileged(actor=admin.user)
    pages = {
        "list": admin.get(url("privileged_list")).content.decode(),
        "detail": admin.get(review.get_absolute_url()).content.decode(),
        "print": admin.get(url("privilegedreview_print", review.pk)).content.decode(),
    }
    for name, page in pages.items():
        columns = page.split("<thead>")[-1].split("</thead>")[0]
        if name == "list":  # its last table is the semesters'; the accounts' comes before
            columns = page.split("<thead>")[1].split("</thead>")[0]
        assert columns.index("系統名稱") < columns.index("帳號") < columns.index("人員姓名")
        assert columns.index("人員姓名") < columns.index("權限說明"), name
        assert "填寫人" in page and "填寫日期" in page, name
        for wrong in ("填表人", "填表時間", "特權權限"):
            assert wrong not in page, (name, wrong)


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


# Each review counts for the semester it reviews ----------------------------------------------
# Under the default profile 114學年度第1學期 runs 2025-08-01 – 2026-01-31 and the 2nd
# semester 2026-02-01 – 2026-07-31 (Asia/Taipei).
END_114_1 = taipei(2026, 1, 31, 23, 59, 59)
END_114_2 = taipei(2026, 7, 31, 23, 59, 59)
END_115_1 = taipei(2027, 1, 31, 23, 59, 59)


def _completed_review(target, by, *, started_at, completed_at, admin_user=None):
    with time_machine.travel(started_at, tick=False):
        review = started(target, by)
    with time_machine.travel(completed_at, tick=False):
        for item in review.items.all():
            reviews.decide_item(item, actor=admin_user or by, decision="keep")
        return reviews.complete_review(review, actor=admin_user or by)


def _state(key, subject_id=None):
    states = ObligationState.objects.filter(key=key)
    if subject_id is not None:
        states = states.filter(subject_id=str(subject_id))
    return states.get()


@pytest.fixture
def old_system(make_user):
    """A system in use since before 114學年度, with its administrator and one account."""
    with time_machine.travel(taipei(2025, 6, 1, 9, 0), tick=False):
        keeper = make_user("keeper", SYSADMIN)
        target = system("校務行政系統", admins=[keeper])
        account("chen", target)
    target.keeper = keeper
    return target


@pytest.mark.parametrize(
    "completed_at,late",
    [
        (taipei(2026, 1, 31, 23, 59), False),  # the semester's last minute
        (taipei(2026, 2, 1, 0, 0), True),  # the 2nd semester's first
        (taipei(2026, 2, 10, 10, 0), True),  # 115/02/10
    ],
)
def test_a_review_counts_for_its_own_semester(completed_at, late, make_user, old_system):
    officer_user = make_user("o", SECURITY_OFFICER)
    review = _completed_review(
        old_system,
        officer_user,
        started_at=taipei(2025, 12, 1, 9, 0),
        completed_at=completed_at,
        admin_user=old_system.keeper,
    )
    assert (review.school_year, review.semester) == (114, 1)
    assert reviews.late(review) is late
    with time_machine.travel(taipei(2026, 2, 10, 12, 0), tick=False):
        engine.refresh("identity.account_review")
        state = _state("identity.account_review", old_system.pk)
        # It keeps 114-1 (at its last second when late); 114-2 still needs its own review.
        assert state.last_done_at == (END_114_1 if late else completed_at)
        assert state.status == "ok" and state.next_due_at == END_114_2
        # … which can be started and, completed, keeps 114-2.
        second = started(old_system, officer_user)
        assert (second.school_year, second.semester) == (114, 2)
    with time_machine.travel(taipei(2026, 3, 2, 9, 0), tick=False):
        (item,) = second.items.all()
        reviews.decide_item(item, actor=old_system.keeper, decision="keep")
        reviews.complete_review(second, actor=old_system.keeper)
        engine.refresh("identity.account_review")
        state = _state("identity.account_review", old_system.pk)
        assert state.last_done_at == taipei(2026, 3, 2, 9, 0) and state.next_due_at == END_115_1
    assert not reviews.late(second)


def test_late_completion_is_shown_on_the_review_and_the_list(client_for, old_system, make_user):
    officer_user = make_user("o", SECURITY_OFFICER)
    late_one = _completed_review(
        old_system,
        officer_user,
        started_at=taipei(2025, 12, 1, 9, 0),
        completed_at=taipei(2026, 2, 10, 10, 0),
        admin_user=old_system.keeper,
    )
    mail = system("電子郵件")
    on_time = _completed_review(
        mail,
        officer_user,
        started_at=taipei(2025, 12, 1, 9, 0),
        completed_at=taipei(2026, 1, 31, 23, 59),
    )
    open_one = started(system("網站"), officer_user)  # 115-1, still open
    c = client_for(SUPERVISOR)
    with time_machine.travel(taipei(2026, 2, 10, 12, 0), tick=False):
        page = c.get(late_one.get_absolute_url()).content.decode()
        assert "逾期完成" in page and "計入114學年度第1學期" in page
        assert "逾期完成" not in c.get(on_time.get_absolute_url()).content.decode()
        listing = c.get(url("accountreview_list")).content.decode()
        earlier = listing.split("以往學期")[1]
        assert earlier.count("data-late") == 1
        late_row = earlier.split(late_one.get_absolute_url())[1].split("</tr>")[0]
        assert "逾期完成" in late_row
    # An open review of an ended semester says so; it can still be completed, late.
    with time_machine.travel(taipei(2027, 2, 1, 9, 0), tick=False):
        page = client_for(SUPERVISOR).get(open_one.get_absolute_url()).content.decode()
        assert "115學年度第1學期已結束，此檢查尚未完成" in page
    assert "已結束" not in c.get(open_one.get_absolute_url()).content.decode()


def test_the_school_profile_decides_when_a_semester_ended(make_user, old_system):
    """A school whose 2nd semester starts on 2/15: completed on 2/10, still on time."""
    profile = SchoolProfile.load()
    profile.second_semester_start_month, profile.second_semester_start_day = 2, 15
    profile.save()
    review = _completed_review(
        old_system,
        make_user("o", SECURITY_OFFICER),
        started_at=taipei(2025, 12, 1, 9, 0),
        completed_at=taipei(2026, 2, 10, 10, 0),
        admin_user=old_system.keeper,
    )
    assert not reviews.late(review)
    with time_machine.travel(taipei(2026, 2, 14, 12, 0), tick=False):
        engine.refresh("identity.account_review")
        state = _state("identity.account_review", old_system.pk)
        assert state.last_done_at == taipei(2026, 2, 10, 10, 0)
        assert state.next_due_at == taipei(2026, 7, 31, 23, 59, 59)
    with time_machine.travel(taipei(2026, 2, 16, 12, 0), tick=False):
        assert reviews.late(review, reviews.term_starts()) is False
        profile.second_semester_start_day = 1
        profile.save()
        assert reviews.late(review) is True
        engine.refresh("identity.account_review")
        assert _state("identity.account_review", old_system.pk).last_done_at == END_114_1


def test_the_binder_files_each_review_under_its_semester(make_user, old_system):
    """The evidence binder's look back over 114學年度 (coverage from ``history``)."""
    officer_user = make_user("o", SECURITY_OFFICER)
    _completed_review(
        old_system,
        officer_user,
        started_at=taipei(2025, 12, 1, 9, 0),
        completed_at=taipei(2026, 2, 10, 10, 0),
        admin_user=old_system.keeper,
    )
    obligation = registry.REGISTRY["identity.account_review"]

    def kept(now):
        result = coverage.coverage(obligation, dt.date(2025, 8, 1), dt.date(2026, 7, 31), now=now)
        (row,) = result.subjects
        return row

    row = kept(taipei(2026, 8, 5, 9, 0))
    assert row.evidence == [END_114_1]
    assert (row.periods, row.kept) == (2, 1)
    (gap,) = row.missed
    assert gap.start == taipei(2026, 2, 1)  # the 2nd semester is the one missed
    with time_machine.travel(taipei(2026, 7, 31, 9, 0), tick=False):
        second = started(old_system, officer_user)
        (item,) = second.items.all()
        reviews.decide_item(item, actor=old_system.keeper, decision="keep")
        reviews.complete_review(second, actor=old_system.keeper)
    row = kept(taipei(2026, 8, 5, 9, 0))
    assert (row.periods, row.kept) == (2, 2) and not row.missed
    # The range's edges: a late review is filed at its semester's last second.
    history = obligation.history(obligation.subjects(), taipei(2026, 2, 1), taipei(2026, 8, 1))
    assert list(history) == [(old_system.pk, taipei(2026, 7, 31, 9, 0))]
    history = obligation.history(obligation.subjects(), taipei(2025, 8, 1), taipei(2026, 2, 1))
    assert list(history) == [(old_system.pk, END_114_1)]


def test_the_a4_duty_counts_the_list_for_its_semester(admin, client_for, privileged):
    boss = client_for(SUPERVISOR)
    # Filled in on 115/07/31 (114-2), reviewed on 115/08/01 (115-1): late, for 114-2.
    with time_machine.travel(taipei(2026, 7, 31, 10, 0), tick=False):
        review = reviews.prepare_privileged(actor=admin.user)
    assert (review.school_year, review.semester) == (114, 2)
    with time_machine.travel(taipei(2026, 8, 1, 9, 0), tick=False):
        page = boss.get(review.get_absolute_url()).content.decode()
        assert "114學年度第2學期已結束，此清單尚未覆核" in page
        reviews.review_privileged(review, actor=boss.user)
    review.refresh_from_db()
    assert reviews.late(review)
    with time_machine.travel(taipei(2026, 8, 5, 9, 0), tick=False):
        engine.refresh("identity.privileged_review")
        state = _state("identity.privileged_review")
        assert state.last_done_at == END_114_2
        assert state.status == "ok" and state.next_due_at == END_115_1
        for page in (
            boss.get(review.get_absolute_url()).content.decode(),
            boss.get(url("privileged_list")).content.decode(),
            boss.get(url("privilegedreview_print", review.pk)).content.decode(),
        ):
            assert "逾期完成" in page
        # 115-1's own list is still to do, and counts when reviewed.
        current = reviews.prepare_privileged(actor=admin.user)
        assert (current.school_year, current.semester) == (115, 1)
        reviews.review_privileged(current, actor=boss.user)
        engine.refresh("identity.privileged_review")
        state = _state("identity.privileged_review")
        assert state.last_done_at == taipei(2026, 8, 5, 9, 0)
        assert state.next_due_at == taipei(2027, 7, 31, 23, 59, 59)
    assert not reviews.late(current)
    obligation = registry.REGISTRY["identity.privileged_review"]
    history = obligation.history(obligation.subjects(), taipei(2026, 2, 1), taipei(2026, 8, 1))
    assert list(history) == [(1, END_114_2)]


def test_an_a4_list_reviewed_in_its_semester_is_not_late(admin, client_for, privileged):
    boss = client_for(SUPERVISOR)
    with time_machine.travel(taipei(2026, 7, 31, 10, 0), tick=False):
        review = reviews.prepare_privileged(actor=admin.user)
    with time_machine.travel(taipei(2026, 7, 31, 23, 59), tick=False):
        reviews.review_privileged(review, actor=boss.user)
    review.refresh_from_db()
    assert not reviews.late(review)
    assert "逾期完成" not in boss.get(review.get_absolute_url()).content.decode()


@pytest.mark.parametrize("key", ["identity.account_review", "identity.privileged_review"])
def test_the_semester_duties_read_evidence_with_one_query(key, make_user, privileged):
    obligation = registry.REGISTRY[key]
    officer_user = make_user("o", SECURITY_OFFICER)
    since, until = taipei(2020, 8, 1), taipei(2027, 8, 1)

    def reads():
        with CaptureQueriesContext(connection) as evidence:
            last = obligation.evidence(obligation.subjects())
        with CaptureQueriesContext(connection) as history:
            pieces = list(obligation.history(obligation.subjects(), since, until))
        return len(evidence), len(history), last, pieces

    assert reads()[:2] == (1, 1)
    for year in range(110, 115):
        for semester in (1, 2):
            term = reviews.term_of(year, semester)
            at = taipei(term.end.year, term.end.month, term.end.day, 12, 0)
            for n in range(3):
                target = system(f"系統{year}-{semester}-{n}")
                AccountReview.objects.create(
                    system=target,
                    school_year=year,
                    semester=semester,
                    started_by=officer_user,
                    started_at=at,
                    completed_by=officer_user,
                    completed_at=at + dt.timedelta(days=3),  # late
                )
            PrivilegedReview.objects.create(
                school_year=year,
                semester=semester,
                prepared_by=officer_user,
                prepared_at=at,
                reviewed_by=officer_user,
                reviewed_at=at + dt.timedelta(days=3),
            )
    evidence_queries, history_queries, last, pieces = reads()
    assert (evidence_queries, history_queries) == (1, 1)
    assert len(pieces) == (30 if key == "identity.account_review" else 10)
    assert all(at.astimezone(TAIPEI).time() == dt.time(23, 59, 59) for _pk, at in pieces)
    if key == "identity.privileged_review":
        assert last == {1: taipei(2026, 7, 31, 23, 59, 59)}
