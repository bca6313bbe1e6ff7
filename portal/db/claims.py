"""Who a database call is made as: the claims a JWT would carry."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# The Postgres role of a member's request. Only the portal's server mints tokens with it;
# Supabase Auth's tokens say `authenticated`, which reaches nothing of the portal's
# (supabase/migrations/20261129000100_members_only_role.sql).
MEMBER_ROLE = "portal_member"


@dataclass(frozen=True)
class Claims:
    """JWT claims for one caller. `role` is the Postgres role RLS sees."""

    sub: str | None
    role: str = MEMBER_ROLE
    extra: dict = field(default_factory=dict)

    @classmethod
    def user(cls, user_id: str) -> Claims:
        return cls(sub=str(user_id), role=MEMBER_ROLE)

    @classmethod
    def service(cls) -> Claims:
        """The portal's own server, for sign-in support functions only."""
        return cls(sub=None, role="service_role")

    def as_jwt_payload(self, lifetime: timedelta = timedelta(minutes=10)) -> dict:
        now = datetime.now(UTC)
        payload = {
            "role": self.role,
            # A member is a signed-in user to anything that reads `aud` (as Supabase Auth's tokens say).
            "aud": "authenticated" if self.role == MEMBER_ROLE else self.role,
            "iat": int(now.timestamp()),
            "exp": int((now + lifetime).timestamp()),
            **self.extra,
        }
        if self.sub is not None:
            payload["sub"] = self.sub
        return payload


SERVICE = Claims.service()
