"""GraphiQL served entirely by Podium: the page and its scripts, no CDN (it works offline).

``static/`` holds the built files of the npm packages graphiql 3.8.3, react 18.2.0 and
react-dom 18.2.0 as published (``npm pack``), each with its MIT licence beside it (see
``static/README.md`` to update them). The page is served at ``GET /graphql`` by a browser in
development; the files under ``/graphiql/static/``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

HERE = Path(__file__).parent
STATIC_PREFIX = "/graphiql/static"


@cache
def page() -> str:
    return (HERE / "index.html").read_text(encoding="utf-8")


def static_route() -> Mount:
    return Mount(STATIC_PREFIX, StaticFiles(directory=HERE / "static"), name="graphiql-static")
