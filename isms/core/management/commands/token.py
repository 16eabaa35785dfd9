"""`isms token create USERNAME [--name N]` prints a new API key; `isms token revoke PREFIX`."""

from django.core.management.base import BaseCommand, CommandError

from isms.core import services
from isms.core.models import ApiToken, User


class Command(BaseCommand):
    help = "Create or revoke per-user API tokens."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        create = sub.add_parser("create", help="create a token and print it (shown only once)")
        create.add_argument("username")
        create.add_argument("--name", default="command line")
        revoke = sub.add_parser("revoke", help="revoke a token by its prefix")
        revoke.add_argument("prefix")
        sub.add_parser("list", help="list tokens (prefix, user, name, state)")

    def handle(self, *args, verb, **options):
        if verb == "create":
            user = User.objects.filter(username=options["username"]).first()
            if user is None:
                raise CommandError(f"no such user: {options['username']}")
            if not user.is_active:
                raise CommandError(f"user {user.username} is not active")
            _token, key = services.token_create(user=user, name=options["name"], actor=None)
            self.stdout.write(key)
        elif verb == "revoke":
            tokens = list(ApiToken.objects.usable().filter(prefix=options["prefix"]))
            if len(tokens) != 1:
                raise CommandError(f"{len(tokens)} active tokens have prefix {options['prefix']}")
            services.token_revoke(tokens[0], actor=None)
            self.stdout.write(f"revoked {tokens[0].prefix}")
        else:
            for token in ApiToken.objects.select_related("user"):
                state = "revoked" if token.revoked_at else "active"
                self.stdout.write(f"{token.prefix}\t{token.user.username}\t{token.name}\t{state}")
