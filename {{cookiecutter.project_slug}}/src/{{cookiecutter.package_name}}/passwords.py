"""Password hashing: Argon2id for every new hash; older hashes still verify, then get upgraded.

argon2-cffi's PasswordHasher (maintained bindings to the reference implementation) does the
hashing and tells when a stored hash was made with other parameters, so upgrading needs no
bookkeeping of ours. Hashes written before Argon2 (werkzeug's `scrypt:...`/`pbkdf2:...`)
are checked by werkzeug and replaced on the owner's next successful login.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from werkzeug.security import check_password_hash

# OWASP's Argon2id configuration (19 MiB, 2 passes, 1 lane; Password Storage Cheat Sheet)
# rather than RFC 9106's low-memory profile (64 MiB, 3 passes, 4 lanes): equivalent
# resistance by OWASP's reckoning at under a third of the memory, so a burst of logins on
# a threaded worker in a 512 MB container cannot exhaust it. Changing these makes
# needs_rehash() true for older hashes, which the next login then upgrades.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
ARGON2_PREFIX = "$argon2"


def hash_password(password: str) -> str:
    """A salted Argon2id hash of `password`, in the self-describing PHC string format."""
    return HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when `password` matches `stored_hash` (Argon2, or an older werkzeug hash)."""
    if stored_hash.startswith(ARGON2_PREFIX):
        try:
            return HASHER.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False
    try:
        return check_password_hash(stored_hash, password)
    except ValueError:  # not a hash werkzeug knows: treat as a mismatch, never a 500
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash is not Argon2id with today's parameters (upgrade it at login)."""
    if not stored_hash.startswith(ARGON2_PREFIX):
        return True
    try:
        return HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


@cache
def decoy_hash() -> str:
    """A hash of nothing anyone knows, made once per process for spend_one_verification()."""
    return hash_password("decoy password for unknown usernames")


def spend_one_verification(password: str) -> None:
    """Cost what checking a real user's password costs, for logins with unknown usernames.

    Without it an unknown name answers in microseconds and a known one in tens of
    milliseconds, which tells an attacker which usernames exist.
    """
    verify_password(decoy_hash(), password)
