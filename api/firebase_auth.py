"""The one adapter around firebase_admin for ID tokens: verify, return the claims."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import firebase_admin
from firebase_admin import auth, credentials

_APP_PREFIX = "podium-auth"


class FirebaseTokenError(Exception):
    pass


class FirebaseVerifier:
    def __init__(self, project_id: str, credentials_file: str | None = None) -> None:
        self.project_id = project_id
        # one firebase_admin app per project, shared by every verifier of this process
        name = f"{_APP_PREFIX}-{project_id}"
        try:
            self._app = firebase_admin.get_app(name)
        except ValueError:
            cred = credentials.Certificate(credentials_file) if credentials_file else None
            self._app = firebase_admin.initialize_app(
                cred, options={"projectId": project_id}, name=name
            )

    @property
    def app(self) -> firebase_admin.App:
        return self._app

    @property
    def issuer(self) -> str:
        return f"https://securetoken.google.com/{self.project_id}"

    async def verify(self, token: str) -> dict[str, Any]:
        """The decoded claims; `uid` is the Firebase user. Blocking I/O (the public keys) runs
        in a thread."""

        def verify() -> dict[str, Any]:
            try:
                return dict(auth.verify_id_token(token, app=self._app, clock_skew_seconds=30))
            except (ValueError, auth.InvalidIdTokenError, auth.CertificateFetchError) as exc:
                raise FirebaseTokenError(str(exc)) from exc

        return await anyio.to_thread.run_sync(verify)
