"""Which failures of the store blame the data written, and which the store itself."""

from __future__ import annotations

import struct

from clickhouse_connect.driver.exceptions import DatabaseError, DataError, OperationalError
from clickhouse_connect.driver.exceptions import Error as StoreError

__all__ = ["StoreError", "is_data_error"]

# Server error codes that blame the data (ClickHouse's own numbering), not the store.
DATA_ERROR_CODES = {6, 26, 27, 32, 38, 41, 53, 69, 70, 72, 117, 131, 190, 321, 349, 352, 394}


def is_data_error(exc: BaseException) -> bool:
    """Whether a failed insert blames the rows (find them and refuse them) rather than the store
    (pause and retry)."""
    if isinstance(exc, OperationalError):
        return False
    if isinstance(exc, (DataError, ValueError, TypeError, OverflowError, struct.error)):
        return True
    if isinstance(exc, DatabaseError):
        code = getattr(exc, "code", None)
        return code in DATA_ERROR_CODES if code is not None else False
    return False
