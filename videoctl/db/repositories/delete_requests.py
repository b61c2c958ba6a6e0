"""The r2_delete_request outbox: prefixes waiting for the delete-r2 path."""

from __future__ import annotations

from videoctl.db.repositories._base import _all, _known_id, _one, _Repository
from videoctl.domain.errors import InvalidState, NotFound
from videoctl.domain.models import DeleteRequest
from videoctl.domain.reconcile import covering_prefixes


class DeleteRequestRepository(_Repository):
    """Prefixes waiting for the delete-r2 path."""

    def add(self, prefix: str, reason: str, video_id: int | None) -> DeleteRequest:
        return DeleteRequest.from_row(_one(self.conn, "insert_delete_request",
                                           {"prefix": prefix, "reason": reason, "video_id": video_id}))

    def pending(self, limit: int = 100) -> list[DeleteRequest]:
        """Pending requests, locked until the transaction ends (concurrent drains skip them)."""
        return [DeleteRequest.from_row(r) for r in _all(self.conn, "pending_delete_requests", {"limit": limit})]

    def get(self, request_id: int) -> DeleteRequest:
        row = _one(self.conn, "get_delete_request", {"id": request_id})
        if row is None:
            raise NotFound(f"delete request {request_id} not found",
                           hint="list pending requests with `videoctl r2 pending`")
        return DeleteRequest.from_row(row)

    def mark_sent(self, request_id: int) -> None:
        _one(self.conn, "mark_delete_request_sent", {"id": request_id})

    def discard(self, request_id: int, reason: str) -> DeleteRequest:
        """Stop trying a pending request; refused, saying why, for one that is not pending."""
        if not _known_id(request_id):
            raise NotFound(f"delete request {request_id} not found")
        row = _one(self.conn, "discard_delete_request", {"id": request_id, "reason": reason})
        if row is not None:
            return DeleteRequest.from_row(row)
        found = self.get(request_id)
        if found.sent_at is not None:
            raise InvalidState(f"delete request {request_id} ({found.prefix}) was already sent at "
                               f"{found.sent_at:%Y-%m-%d %H:%M:%S} UTC")
        raise InvalidState(f"delete request {request_id} ({found.prefix}) was already discarded: "
                           f"{found.discard_reason}")

    def list_pending(self, limit: int = 100) -> tuple[list[DeleteRequest], int]:
        """Up to *limit* pending requests, oldest first, without locking them; and how many are pending."""
        rows = _all(self.conn, "list_pending_delete_requests", {"limit": limit})
        total = rows[0]["total"] if rows else 0
        return [DeleteRequest.from_row(r) for r in rows], total

    def pending_covering(self, prefix: str) -> DeleteRequest | None:
        """A pending request that deletes *prefix* anyway: for it, or for a folder above it."""
        row = _one(self.conn, "pending_delete_covering", {"prefixes": covering_prefixes(prefix)})
        return DeleteRequest.from_row(row) if row else None
