"""`isms demo`: load the demo school (idempotent) and print the demo sign-ins."""

import importlib

from django.apps import apps
from django.core.management.base import BaseCommand

from isms.core import demo, services
from isms.core.roles import ROLES, role_label


class Command(BaseCommand):
    help = "Create a plausible demo school (穀保家商) with people in every role; safe to re-run."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="give every demo login the demo default password again",
        )
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args, reset_passwords=False, quiet=False, **options):
        result = demo.load()
        # Each module may add its own demo records: a ``load_demo()`` in its demo.py.
        for config in apps.get_app_configs():
            if not config.name.startswith("isms.") or config.name == "isms.core":
                continue
            try:
                module = importlib.import_module(f"{config.name}.demo")
            except ModuleNotFoundError:
                continue
            module.load_demo()
        if reset_passwords:
            for user in result["logins"]:
                services.password_set_default(user, actor=None, password=result["password"])
        if quiet:
            return
        self.stdout.write("示範帳號（第一次登入須變更預設通行碼）：")
        for user in result["logins"]:
            roles = "、".join(
                role_label(code) for code in ROLES if user.groups.filter(name=code).exists()
            )
            if not user.must_change_password:
                state = "已變更通行碼"
            elif services.default_password_expired(user):
                state = "預設通行碼已逾期：isms demo --reset-passwords"
            else:
                state = f"預設通行碼 {result['password']}"
            self.stdout.write(f"  {user.username:<11} {user.display_name}（{roles}） {state}")
