"""Shared API fixtures: tokens for the small city's people; a client that holds each answer to the schema."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import jsonschema
import pytest

from cogov.people.auth import token_issue

SCHEMA_URL = "/api/v1/openapi.json"


@pytest.fixture
def tokens(small_city) -> dict[str, str]:
    """An API token for each person of the small city, by name."""
    return {name: token_issue(person=p) for name, p in small_city.people.items()}


#: jsonschema checks "date-time" only with an optional extra; this is the check the API's clients rely on.
FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _aware_iso_datetime(value) -> bool:
    if not isinstance(value, str):
        return True
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return True


def _closed(node):
    """The schema with every object that lists its properties closed to others (no undocumented fields)."""
    if isinstance(node, dict):
        node = {k: _closed(v) for k, v in node.items()}
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [_closed(v) for v in node]
    return node


@dataclass
class Contract:
    """Calls the API and checks each answer against the OpenAPI document the API itself serves.

    ``call`` takes the path *template* of the operation (as the schema spells it) and its parameters, so the
    operation is never guessed from a URL. Problems are collected, not raised one by one, so that a test shows
    every way the answers drift from the schema; ``verify()`` fails with all of them.
    """

    client: object
    doc: dict
    problems: list[str] = field(default_factory=list)

    def response_schema(self, method: str, template: str, status: int) -> dict | None:
        """The JSON schema of one documented response (None: the status is not documented)."""
        op = self.doc["paths"][template][method]
        answer = op["responses"].get(str(status))
        if answer is None:
            return None
        body = answer.get("content", {}).get("application/json", {}).get("schema", {})
        # refs in the body schema point at #/components/…: keep the components at the root to resolve them
        return {**_closed(body), "components": _closed(self.doc["components"])}

    def call(self, method: str, template: str, *, expect: int, token: str | None = None, body=None,
             raw: str | None = None, query: dict | None = None, **path):
        """Make the request, check status ``expect`` and the body against the schema; return the response."""
        url = "/api/v1" + template.removeprefix("/api/v1").format(**path)
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        if method == "get":
            r = self.client.get(url, query or {}, **headers)
        else:
            data = raw if raw is not None else json.dumps(body if body is not None else {})
            r = self.client.post(url, data, content_type="application/json", **headers)
        where = f"{method.upper()} {url}"
        try:
            payload = r.json()
        except ValueError:
            self.problems.append(f"{where}: {r.status_code} answer is not JSON: {r.content[:200]!r}")
            return r
        if r.status_code != expect:
            self.problems.append(f"{where}: expected {expect}, got {r.status_code} {str(payload)[:200]}")
        if r.status_code >= 400 and not (isinstance(payload, dict) and isinstance(payload.get("code"), str)
                                          and payload["code"] and isinstance(payload.get("message"), str)
                                          and payload["message"]):
            self.problems.append(f"{where}: error body without code and message: {payload!r}")
        schema = self.response_schema(method, template, r.status_code)
        if schema is None:
            declared = ", ".join(self.doc["paths"][template][method]["responses"])
            self.problems.append(f"{where}: status {r.status_code} is not declared in the schema "
                                 f"(declared: {declared}); body {payload!r}")
            return r
        validator = jsonschema.Draft202012Validator(schema, format_checker=FORMATS)
        for error in validator.iter_errors(payload):
            at = "/".join(str(p) for p in error.absolute_path) or "(body)"
            self.problems.append(f"{where} {r.status_code}: {at}: {error.message}")
        return r

    def get(self, template: str, **kw):
        return self.call("get", template, **kw)

    def post(self, template: str, **kw):
        return self.call("post", template, **kw)

    def verify(self) -> None:
        """Fail with every problem seen so far."""
        count = len(self.problems)
        assert not self.problems, f"{count} answers break the schema:\n" + "\n".join(self.problems)


@pytest.fixture
def openapi(client, db) -> dict:
    """The OpenAPI document as the API serves it."""
    r = client.get(SCHEMA_URL)
    assert r.status_code == 200
    doc = r.json()
    for schema in doc["components"]["schemas"].values():  # each one a valid JSON Schema (OpenAPI 3.1)
        jsonschema.Draft202012Validator.check_schema(schema)
    return doc


@pytest.fixture
def contract(client, openapi) -> Contract:
    """A client that checks every answer against the served schema (call ``verify()`` at the end)."""
    return Contract(client=client, doc=openapi)
