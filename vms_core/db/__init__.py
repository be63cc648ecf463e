"""The catalog: models, engines and migrations."""

from vms_core.db.engine import Database, shown_url, upgrade_schema
from vms_core.db.models import Base

__all__ = ["Base", "Database", "shown_url", "upgrade_schema"]
