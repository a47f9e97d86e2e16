"""A route for a hot read: FastAPI routes it, documents it and handles its errors as any other,
but calls its endpoint directly.

FastAPI's request handler solves dependencies, reads the body and validates and serialises the
answer on every request, a cost that dominates a read which is one indexed SELECT. An endpoint
of a `LeanRoute` takes only string path parameters and the `Request`, and returns a `Response`
itself, so none of that has anything to do; the declaration (response model, responses, extra
OpenAPI) is the same as for any route and so is the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


class LeanRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        needs = self.dependant
        if (
            self.dependencies
            or needs.dependencies
            or needs.query_params
            or needs.header_params
            or needs.cookie_params
            or needs.body_params
            or needs.request_param_name is None
            or any(p.field_info.annotation is not str for p in needs.path_params)
        ):
            # Nothing may be declared that this route would then not check.
            raise TypeError(f"{path}: a lean route takes string path parameters and the request")

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint
        names = tuple(p.name for p in self.dependant.path_params)
        request_name = self.dependant.request_param_name
        assert request_name is not None

        async def handler(request: Request) -> Response:
            values = request.path_params
            arguments: dict[str, Any] = {name: values[name] for name in names}
            arguments[request_name] = request
            answer: Response = await endpoint(**arguments)
            return answer

        return handler
