"""The one adapter around firebase_admin.messaging: FCM pushes behind the domain's PushSender.

`FcmPushSender.from_env()` reads FIREBASE_PROJECT_ID and GOOGLE_APPLICATION_CREDENTIALS.
Tests (and only tests: refused when PODIUM_ENV=production) point it at a local stand-in with
PODIUM_FCM_URL and PODIUM_FCM_ACCESS_TOKEN: a static access token and the messaging service's
`_fcm_url`, a private attribute of firebase-admin 7.7 (pinned in pyproject.toml).

FCM is given PUSH_TIMEOUT seconds a request (firebase-admin's own default is 120 s, longer
than the push job's 60 s: arq would cancel the job, its claimed pushes never sent, with no
word of FCM) and one `send` SEND_DEADLINE seconds in all, whatever it retries or however
slowly an answer trickles in: what is not answered by then is FAILED, logged.

An answer is read up to ANSWER_LIMIT bytes (FCM's are a few hundred), as the payout clients
of payments/methods read theirs: firebase-admin's httpx client would read a 20 MB or endless
answer whole into memory. `_bound_answers` adds a response hook (httpx's public event hooks)
to the client firebase-admin keeps in the messaging service's `_async_client` (7.7, pinned):
a longer answer, or one compressed (whose size says nothing of what it decodes to: identity
is asked for), fails that message alone with the reason, FAILED and logged, its token kept.
"""

from __future__ import annotations

import asyncio
import os
import uuid
import warnings
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import firebase_admin
import google.auth.credentials
import httpx
import structlog
from firebase_admin import credentials, messaging

from domain.notifications.push import PushMessage, PushOutcome

log = structlog.get_logger("podium.push")

FCM_BATCH = 500  # messages per send_each_async call (FCM's limit)
PUSH_TIMEOUT = 10.0  # seconds to connect, and between two bytes of an answer
SEND_DEADLINE = 30.0  # seconds for one `send`: half the push job's timeout
ANSWER_LIMIT = 1_000_000  # bytes of one answer read at most (an FCM answer: a few hundred)
# the token is no longer valid for this app: forget the device
DEAD_TOKEN_ERRORS = (messaging.UnregisteredError, messaging.SenderIdMismatchError)


class _StaticGoogleCredential(google.auth.credentials.Credentials):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.expiry = None

    def refresh(self, request: Any) -> None:
        """The token never changes."""


class StaticTokenCredential(credentials.Base):  # type: ignore[misc]
    """A credential that hands out one fixed access token (for a local FCM stand-in)."""

    def __init__(self, token: str) -> None:
        self._credential = _StaticGoogleCredential(token)

    def get_credential(self) -> google.auth.credentials.Credentials:
        return self._credential


class AnswerRefused(httpx.HTTPError):
    """An FCM answer not read further. An httpx error: firebase-admin's send_each_async makes
    it the failure of that one message (an UnknownError saying this), not of the batch."""


class _BoundedStream(httpx.AsyncByteStream):
    """An answer's body that raises AnswerRefused past ANSWER_LIMIT bytes."""

    def __init__(self, stream: httpx.AsyncByteStream) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        read = 0
        async for chunk in self._stream:
            read += len(chunk)
            if read > ANSWER_LIMIT:
                raise AnswerRefused(f"FCM answered more than {ANSWER_LIMIT} bytes: not read")
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()


async def _bound_answer(response: httpx.Response) -> None:
    """httpx's response hook, run before the body is read (and closing the response when it
    raises): refuses what is longer than ANSWER_LIMIT, or compressed; bounds the rest."""
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding != "identity":
        raise AnswerRefused(f"FCM answered with Content-Encoding {encoding}: not read")
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > ANSWER_LIMIT:
        raise AnswerRefused(f"FCM answered more than {ANSWER_LIMIT} bytes ({declared}): not read")
    assert isinstance(response.stream, httpx.AsyncByteStream)  # an async client's answer
    response.stream = _BoundedStream(response.stream)


def _bound_answers(app: firebase_admin.App) -> None:
    # firebase-admin 7.7 sends messages through the httpx.AsyncClient of its messaging
    # service's private `_async_client` (an HttpxAsyncClient, whose `async_client` it is)
    client: httpx.AsyncClient = messaging._get_messaging_service(app)._async_client.async_client
    client.headers["Accept-Encoding"] = "identity"
    client.event_hooks["response"].append(_bound_answer)


class FcmPushSender:
    def __init__(self, app: firebase_admin.App) -> None:
        self.app = app

    @classmethod
    def create(
        cls,
        *,
        project_id: str,
        credentials_file: str | None = None,
        fcm_url: str | None = None,
        access_token: str | None = None,
    ) -> FcmPushSender:
        """A sender on a firebase app of its own (closed by `close`)."""
        if access_token is not None:
            cred: Any = StaticTokenCredential(access_token)
        elif credentials_file:
            cred = credentials.Certificate(credentials_file)
        else:
            cred = None  # application default credentials
        app = firebase_admin.initialize_app(
            cred,
            options={"projectId": project_id, "httpTimeout": PUSH_TIMEOUT},
            name=f"podium-push-{uuid.uuid4().hex}",
        )
        _bound_answers(app)
        if fcm_url is not None:
            # a private attribute (firebase-admin 7.7): where messages are posted
            messaging._get_messaging_service(app)._fcm_url = fcm_url
        return cls(app)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FcmPushSender | None:
        """None when FIREBASE_PROJECT_ID is not set (pushes are then skipped)."""
        env = os.environ if environ is None else environ
        project_id = env.get("FIREBASE_PROJECT_ID")
        if not project_id:
            return None
        fcm_url = env.get("PODIUM_FCM_URL") or None
        access_token = env.get("PODIUM_FCM_ACCESS_TOKEN") or None
        if (fcm_url or access_token) and env.get("PODIUM_ENV") == "production":
            raise ValueError("PODIUM_FCM_URL and PODIUM_FCM_ACCESS_TOKEN are for tests only")
        return cls.create(
            project_id=project_id,
            credentials_file=env.get("GOOGLE_APPLICATION_CREDENTIALS") or None,
            fcm_url=fcm_url,
            access_token=access_token,
        )

    async def send(self, messages: Sequence[PushMessage]) -> list[PushOutcome]:
        outcomes: list[PushOutcome] = []
        deadline = asyncio.get_running_loop().time() + SEND_DEADLINE
        for start in range(0, len(messages), FCM_BATCH):
            chunk = messages[start : start + FCM_BATCH]
            try:
                async with asyncio.timeout_at(deadline):
                    batch = await messaging.send_each_async(
                        [_fcm_message(m) for m in chunk], app=self.app
                    )
            except Exception as exc:  # noqa: BLE001 - a push outage must not fail the job
                log.warning("push batch failed", error=type(exc).__name__, count=len(chunk))
                outcomes.extend(PushOutcome.FAILED for _ in chunk)
                continue
            for response in batch.responses:
                outcomes.append(_outcome(response))
        return outcomes

    async def aclose(self) -> None:
        service = messaging._get_messaging_service(self.app)
        await service._async_client.aclose()
        # delete_app closes the services with asyncio.run(), which needs a thread of its own
        await asyncio.to_thread(firebase_admin.delete_app, self.app)


def _fcm_message(message: PushMessage) -> messaging.Message:
    # 7.7 deprecates `token` for `fid` (a Firebase installation id); the apps register FCM
    # registration tokens, which the v1 API still takes as `token`
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Message.token is deprecated", DeprecationWarning)
        return messaging.Message(
            token=message.token,
            notification=messaging.Notification(title=message.title, body=message.body),
            data=dict(message.data),
        )


def _outcome(response: messaging.SendResponse) -> PushOutcome:
    if response.success:
        return PushOutcome.SENT
    if isinstance(response.exception, DEAD_TOKEN_ERRORS):
        return PushOutcome.UNREGISTERED
    exc = response.exception
    # firebase-admin's message says why (FCM's error, a timeout, an answer not read)
    reason = "no message name in the answer" if exc is None else " ".join(str(exc).split())[:300]
    log.warning("push failed", error=type(exc).__name__, reason=reason)
    return PushOutcome.FAILED
