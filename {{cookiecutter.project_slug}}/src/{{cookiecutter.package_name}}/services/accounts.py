"""Who is logging in: the one password check behind the API's token login and the login form."""

from __future__ import annotations

from sqlalchemy import select

from {{ cookiecutter.package_name }}.extensions import db
from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.passwords import spend_one_verification


def authenticate(username: str, password: str) -> User | None:
    """The user these credentials belong to, or None; upgrades an outdated hash on success.

    Unknown usernames cost a full verification too, so the answer's timing does not tell
    which usernames exist.
    """
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        spend_one_verification(password)
        return None
    if not user.check_password(password):
        return None
    if user.password_needs_rehash():
        # The password is known right now, and only now: upgrade an older hash in place.
        user.set_password(password)
        db.session.commit()
    return user
