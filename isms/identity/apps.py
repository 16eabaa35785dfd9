from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "isms.identity"
    verbose_name = "帳號與權限"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db import transaction
        from django.db.models.signals import post_save

        from isms.core import jobs
        from isms.core.models import Person

        from . import reconcile

        jobs.register(
            "identity.import_apply",
            pending=reconcile.pending,
            run_pending=reconcile.run_pending,
        )

        def person_saved(sender, instance, created, **kwargs):
            # A person recorded as left (or past their leave date) on the people pages:
            # their accounts get removal tasks (2.7, 6.2), as after 人事室's departure form.
            from django.utils import timezone

            from . import services

            departed = instance.status == Person.Status.LEFT or (
                instance.leave_date is not None and instance.leave_date <= timezone.localdate()
            )
            if created or not departed:
                return
            reason = services.departure_reason(instance)
            effective = instance.leave_date or timezone.localdate()
            transaction.on_commit(
                lambda: services.offboard(
                    instance, actor=None, reason=reason, effective_on=effective
                )
            )

        post_save.connect(
            person_saved, sender=Person, weak=False, dispatch_uid="identity-offboarding"
        )
