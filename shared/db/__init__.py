"""Database access: one async engine per service, bound to the service's own schema."""

from shared.db.database import Database, normalize_database_url
from shared.db.uow import UnitOfWork

__all__ = ["Database", "UnitOfWork", "normalize_database_url"]
