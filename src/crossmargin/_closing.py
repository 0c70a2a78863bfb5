"""One context-manager protocol for the objects that hold something until ``close()``."""

from __future__ import annotations

from types import TracebackType
from typing import Self

__all__ = ["Closing"]


class Closing:
    """Mixin: ``with obj:`` returns ``obj`` and calls ``obj.close()`` on the way out.

    An exception raised in the block propagates (``close`` runs first). Subclasses define
    ``close`` (idempotent by convention).
    """

    __slots__ = ()

    def close(self) -> None:
        """Release what the object holds (the default holds nothing)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
