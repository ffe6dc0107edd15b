"""The `/graphql` endpoint: strawberry's ASGI view with Podium's context, automatic persisted
queries and a last check that no internal error text leaves the server."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema.base import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from api import graphiql
from api.auth import AuthenticationError, Authenticator
from api.graphql import edge, persisted
from api.graphql.context import Context
from api.graphql.errors import public_errors
from api.observability import request_id_from
from api.settings import Settings


class PodiumGraphQL(GraphQL[Context, None]):
    def __init__(
        self,
        schema: BaseSchema,
        *,
        settings: Settings,
        authenticator: Authenticator,
        redis: Redis | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.development else None,
            allow_queries_via_get=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            max_subscriptions_per_connection=settings.limits.max_subscriptions_per_person,
        )
        self.settings = settings
        self.authenticator = authenticator
        self._redis = redis

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The body limit, enforced as the body streams in: a declared Content-Length over it
        is refused before reading anything, a longer body once the limit is passed."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        limit = self.settings.limits.max_body_bytes
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, receive, send, limit)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise edge.BodyTooLarge
            return message

        try:
            # strawberry's own http branch, with its 400s as GraphQL errors, not plain text
            try:
                response = await self.run(Request(scope=scope, receive=limited_receive))
            except HTTPException as exc:
                response = edge.http_error(exc.status_code, exc.reason)
            await response(scope, receive, send)
        except edge.BodyTooLarge:
            await self._too_large(scope, receive, send, limit)

    @staticmethod
    async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        message = f"the request body is larger than the limit of {limit} bytes"
        extensions = {"code": edge.PAYLOAD_TOO_LARGE, "maxBytes": limit}
        response = JSONResponse(
            {"data": None, "errors": [{"message": message, "extensions": extensions}]},
            status_code=413,
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)

    def parse_json(self, data: str | bytes) -> object:
        # bytes: the POST body; text: GET's `variables` or `extensions` parameter
        if isinstance(data, bytes):
            value = edge.decoded_json(data, what="the request body")
            if not isinstance(value, dict | list):
                raise HTTPException(
                    400, 'the request body must be a JSON object: {"query": ..., ...}'
                )
            return value
        return edge.decoded_json(data, what="a query parameter")

    def decode_json(self, data: str | bytes) -> object:
        """A graphql-transport-ws message: the same checks; a refusal closes the socket with
        4400 (strawberry's answer to a message that is not JSON), not with an exception."""
        try:
            return edge.decoded_json(data, what="the message")
        except HTTPException as exc:
            raise json.JSONDecodeError(exc.reason, "", 0) from None

    def redis_of(self, request: Request | WebSocket) -> Redis | None:
        if self._redis is not None:
            return self._redis
        state = getattr(request.app, "state", None) if "app" in request.scope else None
        return getattr(state, "redis", None)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        state = request.scope.get("state") or {}
        request_id = state.get("request_id") or request_id_from(request.headers.get("x-request-id"))
        viewer, auth_error = None, None
        try:
            viewer = await self.authenticator.viewer(
                request.headers.get("authorization"), request_id=request_id
            )
        except AuthenticationError as exc:
            auth_error = str(exc)
        return Context(
            request=request,  # type: ignore[arg-type]
            response=response if isinstance(response, Response) else None,
            settings=self.settings,
            redis=self.redis_of(request),
            request_id=request_id,
            live=getattr(getattr(request.app, "state", None), "live", None)
            if "app" in request.scope
            else None,
            viewer_or_none=viewer,
            auth_error=auth_error,
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """graphql-transport-ws connection_init: the payload's Authorization (or
        authorization) is the bearer token; without a valid one the socket closes 4403."""
        params = context.connection_params or {}
        authorization = params.get("Authorization") or params.get("authorization")
        if authorization is not None:
            if not isinstance(authorization, str):
                raise ConnectionRejectionError()
            try:
                context.viewer_or_none = await self.authenticator.viewer(
                    authorization, request_id=context.request_id
                )
            except AuthenticationError:
                raise ConnectionRejectionError() from None
        if context.viewer_or_none is None:
            raise ConnectionRejectionError()
        return UNSET

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql.page())  # its assets come from Podium, not a CDN

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # a GET carrying only a persisted query's hash is a query, not a browser
        if request.query_params.get("extensions") is not None:
            return False
        return super().should_render_graphql_ide(request)

    async def execute_single(  # noqa: PLR0917
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        found: persisted.PersistedQuery | None = None
        try:
            extension = persisted.requested(request_data.extensions)
            if extension is not None:
                redis = context.redis
                if redis is None:
                    raise persisted.PersistedQueryError(
                        persisted.NOT_SUPPORTED, "PersistedQueryNotSupported"
                    )
                found = await persisted.resolve(redis, request_data.query, extension)
                request_data = dataclasses.replace(request_data, query=found.query)
        except persisted.PersistedQueryError as exc:
            if exc.status != 200:
                sub_response.status_code = exc.status
            return ExecutionResult(
                data=None, errors=[GraphQLError(exc.message, extensions={"code": exc.code})]
            )
        try:
            # subscriptions are served over WebSocket only: over plain HTTP a 400 says so
            result = await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=OperationType.from_http(request_adapter.method)
                - {OperationType.SUBSCRIPTION},
                operation_extensions=request_data.extensions,
            )
        except CannotGetOperationTypeError as e:
            raise HTTPException(400, e.as_http_error_reason()) from e
        except InvalidOperationTypeError as e:
            raise HTTPException(400, e.as_http_error_reason(request_adapter.method)) from e
        except MissingQueryError as e:
            raise HTTPException(400, "No GraphQL query found in the request") from e
        if (
            found is not None
            and found.store
            and result.data is not None
            and context.redis
            and persisted.may_persist(context.viewer_or_none, found, self.settings.limits)
        ):
            await persisted.remember(context.redis, found, self.settings.limits.persisted_query_ttl)
        return result

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.errors:
            state: dict[str, Any] = request.scope.get("state") or {}
            result.errors = public_errors(result.errors, state.get("request_id"))
        return await super().process_result(request, result)
