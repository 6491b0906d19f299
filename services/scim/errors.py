"""SCIM errors (RFC 7644 §3.12) and the schema URNs of the resources and messages Picket speaks."""

from __future__ import annotations

from typing import Any

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"

# RFC 7644 §3.12, Table 9: the `scimType` values of a 400 (and `uniqueness` of a 409).
SCIM_TYPES = frozenset({
    "invalidFilter", "tooMany", "uniqueness", "mutability", "invalidSyntax", "invalidPath",
    "noTarget", "invalidValue", "invalidVers", "sensitive",
})


class ScimError(Exception):
    """A SCIM request refused: `status` the HTTP status, `detail` a sentence for people,
    `scim_type` one of `SCIM_TYPES` (or None, as for a 404)."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        if scim_type is not None and scim_type not in SCIM_TYPES:
            raise ValueError(f"not a SCIM error type: {scim_type!r}")
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type

    def body(self) -> dict[str, Any]:
        """The error response body: `status` is a string, as RFC 7644 §3.12 says."""
        out: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "detail": self.detail, "status": str(self.status)}
        if self.scim_type is not None:
            out["scimType"] = self.scim_type
        return out

    def __repr__(self) -> str:
        return f"ScimError({self.status}, {self.detail!r}, {self.scim_type!r})"
