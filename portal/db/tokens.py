"""Short-lived JWTs for the Supabase backend: HS256 (legacy secret) or ES256 (signing key)."""

from __future__ import annotations

from datetime import timedelta

import jwt

from portal.db.claims import Claims


class TokenMinter:
    def __init__(
        self,
        *,
        secret: str | None = None,
        private_key_pem: str | None = None,
        kid: str | None = None,
        lifetime: timedelta = timedelta(minutes=10),
    ) -> None:
        if not secret and not private_key_pem:
            raise ValueError(
                "Supabase mode needs SUPABASE_JWT_SECRET (HS256) or SUPABASE_JWT_PRIVATE_KEY "
                "and SUPABASE_JWT_KID (ES256)."
            )
        self._secret = secret or ""  # empty only when the private key signs
        self._private_key = private_key_pem
        self._kid = kid
        self._lifetime = lifetime

    def mint(self, claims: Claims) -> str:
        payload = claims.as_jwt_payload(self._lifetime)
        if self._private_key:
            headers = {"kid": self._kid} if self._kid else None
            return jwt.encode(payload, self._private_key, algorithm="ES256", headers=headers)
        return jwt.encode(payload, self._secret, algorithm="HS256")
