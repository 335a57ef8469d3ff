"""The OpenAPI 3.1 document of the service, served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from .._algorithms import SUPPORTED_ALGORITHMS

__all__ = ["openapi_document"]

_PROBLEM = {"$ref": "#/components/responses/Problem"}
_PROBLEM_CONTENT = {
    "application/problem+json": {
        "schema": {
            "type": "object",
            "required": ["type", "title", "status", "detail", "code"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "code": {"type": "string"},
            },
        }
    }
}
_SIGNING_UNAVAILABLE = {
    "description": "signing_unavailable: the key store or the KMS cannot sign now; retry after Retry-After",
    "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 0}}},
    "content": _PROBLEM_CONTENT,
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_document(version: str) -> dict[str, Any]:
    jwk = {
        "type": "object",
        "required": ["kty", "kid", "use", "alg"],
        "properties": {
            "kty": {"type": "string", "enum": ["RSA", "EC", "OKP"]},
            "kid": {"type": "string"},
            "use": {"const": "sig"},
            "alg": {"type": "string", "enum": list(SUPPORTED_ALGORITHMS)},
        },
    }
    jwks = {"type": "object", "required": ["keys"], "properties": {"keys": {"type": "array", "items": jwk}}}
    encode_request = {
        "type": "object",
        "description": "Any claims; the server sets iss, iat and jti, and exp unless given.",
        "properties": {
            "iss": False,
            "iat": False,
            "jti": False,
            "exp": {"type": "number"},
            "nbf": {"type": "number"},
        },
    }
    encode_response = {
        "type": "object",
        "required": ["token"],
        "properties": {
            "token": {"type": "string"},
            "kid": {"type": "string"},
            "alg": {"type": "string"},
            "exp": {"type": "number"},
            "jti": {"type": "string"},
        },
    }
    decode_request = {
        "type": "object",
        "required": ["token"],
        "properties": {
            "token": {"type": "string"},
            "jwksUri": {"type": "string", "format": "uri"},
            "audience": {"type": "string"},
            "issuer": {"type": "string"},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "jwtseal", "version": version},
        "paths": {
            "/.well-known/jwks.json": {
                "get": {
                    "summary": "The public JSON Web Key Set",
                    "responses": {
                        "200": _json(jwks, "The published keys"),
                        "304": {"description": "Not modified"},
                    },
                }
            },
            "/.well-known/openid-configuration": {
                "get": {
                    "summary": "Discovery document",
                    "responses": {"200": _json({"type": "object"}, "Issuer metadata")},
                }
            },
            "/encode": {
                "post": {
                    "summary": "Sign a JSON object of claims",
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": encode_request}},
                    },
                    "responses": {
                        "200": _json(encode_response, "The signed token"),
                        "4XX": _PROBLEM,
                        "503": _SIGNING_UNAVAILABLE,
                    },
                }
            },
            "/decode": {
                "post": {
                    "summary": "Verify a token and return its claims",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": decode_request}},
                    },
                    "responses": {
                        "200": _json({"type": "object"}, "The verified claims"),
                        "4XX": _PROBLEM,
                        "5XX": _PROBLEM,
                    },
                }
            },
            "/keys": {
                "get": {
                    "summary": "Every published key with its state and times",
                    "responses": {"200": _json({"type": "object"}, "The keys")},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness: keys loaded, store readable, a signature round trip",
                    "responses": {"200": _json({"type": "object"}, "Ready"), "5XX": _PROBLEM},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {
                        "200": {"description": "Text exposition format", "content": {"text/plain": {}}}
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness: the service can sign and serve its JWKS",
                    "responses": {"200": _json({"type": "object"}, "Healthy"), "5XX": _PROBLEM},
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Problem": {"description": "RFC 9457 problem details", "content": _PROBLEM_CONTENT}
            },
        },
    }
