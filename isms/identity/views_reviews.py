"""Pages of the semester account review (2.7) and the privileged-account list (2.8, A-4).

Who may do what: the office (security officer, supervisor, principal), system
administrators and the equipment head read every review; the security officer starts
the account reviews; each system's administrators work its checklist and complete it
(the security officer only for a system without an administrator); a system
administrator or the security officer prepares the A-4 list and only the supervisor
reviews it. A review done after its semester ended is shown as 逾期完成.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.compliance.models import PolicyRevision
from isms.core.access import Access, can
from isms.core.generic import ProtectedView
from isms.core.models import SchoolProfile
from isms.core.registers import nav_link
from isms.core.roles import EQUIPMENT_HEAD, MANAGERS, SECURITY_OFFICER, SUPERVISOR, SYSADMIN

from . import reviews
from .forms_reviews import ChecklistForm, CompleteReviewForm, PrivilegedReviewForm, StartReviewForm
from .models import AccountReview, InformationSystem, PrivilegedReview
from .views import NAV

READERS = MANAGERS | {SYSADMIN, EQUIPMENT_HEAD}
# "change" lets a role reach the checklist's actions; the system's ownership decides then.
ACCOUNT_REVIEW_ACCESS = Access(view=READERS, add={SECURITY_OFFICER}, change=READERS)
PRIVILEGED_ACCESS = Access(view=READERS, add={SYSADMIN, SECURITY_OFFICER}, change={SUPERVISOR})


def _with_progress(queryset):
    return queryset.annotate(
        total=Count("items"), decided=Count("items", filter=~Q(items__decision=""))
    ).select_related("system", "started_by__person", "completed_by__person")


def _print_context(**extra):
    school = SchoolProfile.load()
    return {
        "school": school,
        "school_profile": school,  # the layout's, so that it is read once
        "policy_version": PolicyRevision.current(),
        "now": timezone.now(),
        **extra,
    }


def _errors(error: ValidationError) -> list[str]:
    return [m for messages_ in error.message_dict.values() for m in messages_]


# Semester account review (2.7) ---------------------------------------------------------------
class AccountReviewListView(ProtectedView):
    """This semester's review of each system, the start form, and earlier semesters."""

    access = ACCOUNT_REVIEW_ACCESS

    def page(self, request, form=None, status=200):
        term = reviews.current_term()
        current = {
            r.system_id: r
            for r in _with_progress(
                AccountReview.objects.filter(school_year=term.school_year, semester=term.semester)
            )
        }
        systems = InformationSystem.objects.active().prefetch_related("administrators__person")
        rows = [(s, current.pop(s.pk, None)) for s in systems]
        rows += [(r.system, r) for r in current.values()]  # systems voided since
        earlier = list(
            _with_progress(
                AccountReview.objects.exclude(school_year=term.school_year, semester=term.semester)
            )[:200]
        )
        starts = reviews.term_starts()
        for review in earlier:
            review.term_label = reviews.term_label(review.school_year, review.semester)
        for review in [*earlier, *(r for _s, r in rows if r is not None)]:
            review.late = reviews.late(review, starts)
        can_start = can(request.user, "add", self.access)
        if can_start and form is None:
            form = StartReviewForm()
        return render(
            request,
            "identity/reviews/account_review_list.html",
            {
                "term": term,
                "rows": rows,
                "earlier": earlier,
                "owned": reviews.owned_system_ids(request.user),
                "can_start": can_start,
                "form": form,
                "clause": "2.7",
            },
            status=status,
        )

    def get(self, request):
        return self.page(request)


class AccountReviewStartView(AccountReviewListView):
    """The security officer starts this semester's review of one system or of all."""

    action = "add"

    def get(self, request):
        return redirect("identity:accountreview_list")

    def post(self, request):
        form = StartReviewForm(request.POST)
        if not form.is_valid():
            return self.page(request, form=form, status=400)
        system, note = form.cleaned_data["system"], form.cleaned_data["note"]
        try:
            if system is not None:
                review = reviews.start_review(system, actor=request.user, note=note)
                started, skipped = [review], []
            else:
                started, skipped = reviews.start_reviews(actor=request.user, note=note)
        except ValidationError as error:
            for message in _errors(error):
                form.add_error(None, message)
            return self.page(request, form=form, status=400)
        term = reviews.term_label(started[0].school_year, started[0].semester)
        messages.success(
            request,
            _("已發起%(term)s %(n)d 個系統的帳號定期檢查：%(systems)s。")
            % {
                "term": term,
                "n": len(started),
                "systems": "、".join(r.system.name for r in started),
            },
        )
        if skipped:
            messages.info(
                request,
                _("下列系統本學期已發起過，未重複建立：%(systems)s。")
                % {"systems": "、".join(s.name for s in skipped)},
            )
        if len(started) == 1:
            return redirect(started[0].get_absolute_url())
        return redirect("identity:accountreview_list")


class AccountReviewDetailView(ProtectedView):
    """The checklist: each account with its findings, the owner's decisions, completion."""

    access = ACCOUNT_REVIEW_ACCESS

    def review(self):
        review = (
            AccountReview.objects.select_related(
                "system", "started_by__person", "completed_by__person"
            )
            .filter(pk=self.kwargs["pk"])
            .first()
        )
        if review is None:
            raise Http404
        return review

    def items(self, review):
        return list(
            review.items.select_related("account__person", "account__system", "decided_by__person")
        )

    def page(self, request, review, checklist=None, complete_form=None, status=200):
        items = self.items(review)
        today = timezone.localdate()
        found = {item.pk: reviews.flags(item.account, today) for item in items}
        is_owner = reviews.is_owner(request.user, review.system)
        can_act = (
            is_owner and review.completed_at is None and can(request.user, "change", self.access)
        )
        if can_act and checklist is None:
            checklist = self.checklist(items, found)
        fields = {}
        if checklist is not None:
            fields = {item.pk: (dec, note) for item, dec, note in checklist.rows()}
        rows = []
        for item in items:
            decision, note = fields.get(item.pk, (None, None))
            rows.append(
                {
                    "item": item,
                    "flags": found[item.pk],
                    "highlight": any(f.highlight for f in found[item.pk]),
                    "no_keep": any(f.refuses_keep for f in found[item.pk]),
                    "decision": decision,
                    "note": note,
                }
            )
        decided = sum(1 for i in items if i.decision)
        starts = reviews.term_starts()
        administrators = list(review.system.administrators.select_related("person"))
        return render(
            request,
            "identity/reviews/account_review_detail.html",
            {
                "review": review,
                "term_label": reviews.term_label(review.school_year, review.semester),
                "late": reviews.late(review, starts),
                "term_over": review.completed_at is None
                and reviews.term_over(review, today, starts),
                "administrators": administrators,
                "rows": rows,
                "decided": decided,
                "total": len(items),
                "is_owner": is_owner,
                "can_act": can_act,
                "checklist": checklist,
                "complete_form": complete_form or (CompleteReviewForm() if can_act else None),
                "clause": "2.7",
            },
            status=status,
        )

    @staticmethod
    def checklist(items, found, data=None):
        """The owner's form: the accounts still open; a departed holder's cannot be kept."""
        return ChecklistForm(
            data,
            items=[i for i in items if i.decision != "disable"],
            no_keep={pk for pk, flags in found.items() if any(f.refuses_keep for f in flags)},
        )

    def get(self, request, pk):
        return self.page(request, self.review())


class _OwnerAction(AccountReviewDetailView):
    action = "change"

    def get(self, request, pk):
        return redirect("identity:accountreview_detail", pk=pk)

    def owned_review(self, request):
        review = self.review()
        if not reviews.is_owner(request.user, review.system):
            raise PermissionDenied
        return review


class AccountReviewDecideView(_OwnerAction):
    """The owner saves decisions: 保留 or 停用 (the account is disabled at once)."""

    def post(self, request, pk):
        review = self.owned_review(request)
        items = self.items(review)
        today = timezone.localdate()
        found = {item.pk: reviews.flags(item.account, today) for item in items}
        checklist = self.checklist(items, found, request.POST)
        if checklist.is_valid():
            decisions = checklist.decisions()
            if not decisions:
                checklist.add_error(None, _("請至少為一個帳號選擇確認保留或停用。"))
            else:
                try:
                    done = reviews.decide_items(review, decisions, actor=request.user)
                except ValidationError as error:
                    checklist.apply_errors(error)
                else:
                    disabled = sum(1 for i in done if i.decision == "disable")
                    messages.success(
                        request,
                        _("已儲存 %(n)d 個帳號的檢查結果（停用 %(disabled)d 個）。")
                        % {"n": len(done), "disabled": disabled},
                    )
                    return redirect(review.get_absolute_url())
        return self.page(request, review, checklist=checklist, status=400)


class AccountReviewCompleteView(_OwnerAction):
    """The owner completes the review once every account is decided."""

    def post(self, request, pk):
        review = self.owned_review(request)
        form = CompleteReviewForm(request.POST)
        if form.is_valid():
            try:
                reviews.complete_review(review, actor=request.user, note=form.cleaned_data["note"])
            except ValidationError as error:
                for message in _errors(error):
                    form.add_error(None, message)
            else:
                messages.success(
                    request,
                    _("已完成系統「%(system)s」的帳號定期檢查。") % {"system": review.system.name},
                )
                return redirect(review.get_absolute_url())
        return self.page(request, review, complete_form=form, status=400)


class AccountReviewPrintView(AccountReviewDetailView):
    """The record of a review on A4: each account with its decision, who and when."""

    def get(self, request, pk):
        review = self.review()
        items = self.items(review)
        return render(
            request,
            "identity/reviews/account_review_print.html",
            _print_context(
                review=review,
                term_label=reviews.term_label(review.school_year, review.semester),
                late=reviews.late(review),
                administrators=review.system.administrators.select_related("person"),
                items=items,
                decided=sum(1 for i in items if i.decision),
            ),
        )


# Privileged accounts (2.8, A-4) --------------------------------------------------------------
class PrivilegedListView(ProtectedView):
    """Every active privileged account with its rights, and the semester's A-4 reviews."""

    access = PRIVILEGED_ACCESS

    def page(self, request, errors=(), status=200):
        term = reviews.current_term()
        accounts = list(reviews.privileged_accounts())
        history = list(
            PrivilegedReview.objects.annotate(count=Count("items")).select_related(
                "prepared_by__person", "reviewed_by__person"
            )
        )
        starts = reviews.term_starts()
        for review in history:
            review.term_label = reviews.term_label(review.school_year, review.semester)
            review.late = reviews.late(review, starts)
        current = next(
            (
                r
                for r in history
                if (r.school_year, r.semester) == (term.school_year, term.semester)
            ),
            None,
        )
        return render(
            request,
            "identity/reviews/privileged_list.html",
            {
                "term": term,
                "accounts": accounts,
                "lacking": reviews.missing_rights(accounts),
                "nameless": reviews.missing_holder(accounts),
                "history": history,
                "current": current,
                "can_prepare": can(request.user, "add", self.access),
                "errors": errors,
                "clause": "2.8",
            },
            status=status,
        )

    def get(self, request):
        return self.page(request)


class PrivilegedPrepareView(PrivilegedListView):
    """A system administrator or the security officer fills in this semester's A-4 list."""

    action = "add"

    def get(self, request):
        return redirect("identity:privileged_list")

    def post(self, request):
        try:
            review = reviews.prepare_privileged(actor=request.user)
        except ValidationError as error:
            return self.page(request, errors=_errors(error), status=400)
        messages.success(
            request,
            _("已填寫%(term)s的特權帳號清單（%(n)d 個帳號），請主管覆核。")
            % {
                "term": reviews.term_label(review.school_year, review.semester),
                "n": review.items.count(),
            },
        )
        return redirect(review.get_absolute_url())


class PrivilegedReviewDetailView(ProtectedView):
    """One semester's A-4 list as prepared, and the supervisor's review."""

    access = PRIVILEGED_ACCESS

    def review(self):
        review = (
            PrivilegedReview.objects.select_related("prepared_by__person", "reviewed_by__person")
            .filter(pk=self.kwargs["pk"])
            .first()
        )
        if review is None:
            raise Http404
        return review

    def page(self, request, review, form=None, status=200):
        outdated = review.reviewed_at is None and reviews.outdated(review)
        starts = reviews.term_starts()
        can_review = (
            review.reviewed_at is None and not outdated and can(request.user, "change", self.access)
        )
        if can_review and form is None:
            form = PrivilegedReviewForm()
        return render(
            request,
            "identity/reviews/privileged_review_detail.html",
            {
                "review": review,
                "term_label": reviews.term_label(review.school_year, review.semester),
                "late": reviews.late(review, starts),
                "term_over": review.reviewed_at is None
                and reviews.term_over(review, starts=starts),
                "items": review.items.select_related("account__system"),
                "can_review": can_review,
                "own_list": review.prepared_by_id == request.user.pk,
                "can_prepare": review.reviewed_at is None and can(request.user, "add", self.access),
                "outdated": outdated,
                "form": form,
                "clause": "2.8",
            },
            status=status,
        )

    def get(self, request, pk):
        return self.page(request, self.review())


class PrivilegedReviewReviewView(PrivilegedReviewDetailView):
    """The supervisor reviews (覆核) the list, with a note."""

    action = "change"

    def get(self, request, pk):
        return redirect("identity:privilegedreview_detail", pk=pk)

    def post(self, request, pk):
        review = self.review()
        form = PrivilegedReviewForm(request.POST)
        if form.is_valid():
            try:
                reviews.review_privileged(
                    review, actor=request.user, note=form.cleaned_data["review_note"]
                )
            except ValidationError as error:
                for message in _errors(error):
                    form.add_error(None, message)
            else:
                messages.success(request, _("已覆核特權帳號清單。"))
                return redirect(review.get_absolute_url())
        return self.page(request, review, form=form, status=400)


class PrivilegedReviewPrintView(PrivilegedReviewDetailView):
    """系統特權帳號清單 (A-4) on A4, the signatures filled from the approvals in the app."""

    def get(self, request, pk):
        review = self.review()
        return render(
            request,
            "identity/reviews/privileged_review_print.html",
            _print_context(
                review=review,
                term_label=reviews.term_label(review.school_year, review.semester),
                late=reviews.late(review),
                items=review.items.select_related("account__system"),
            ),
        )


nav_link(NAV, gettext_lazy("帳號定期檢查"), "identity:accountreview_list", ACCOUNT_REVIEW_ACCESS)
nav_link(NAV, gettext_lazy("特權帳號清單（A-4）"), "identity:privileged_list", PRIVILEGED_ACCESS)
