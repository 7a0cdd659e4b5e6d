"""Access tokens (EdDSA JWT), the principal they carry, and role and scope checks."""

from shared.auth.deps import (
    CurrentPrincipal,
    OptionalPrincipal,
    get_principal,
    require_roles,
)
from shared.auth.principal import Principal, Role
from shared.auth.tokens import SigningKey, TokenSigner, TokenVerifier, generate_signing_key

__all__ = [
    "CurrentPrincipal",
    "OptionalPrincipal",
    "Principal",
    "Role",
    "SigningKey",
    "TokenSigner",
    "TokenVerifier",
    "generate_signing_key",
    "get_principal",
    "require_roles",
]
