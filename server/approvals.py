"""Signed resume and cancel URLs for suspended flow steps (approvals).

A URL carries the step's job id, a nonce (`resume_id`, chosen by the caller, as
the `wmill` client's `get_resume_urls()` does) and the approver, signed with
HMAC-SHA256 under a key of the workspace derived from the master key. The URLs
need no token: the signature is the credential, and one signed URL can only
approve (or cancel) the one step it was made for.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote, urlencode

from server import errors


def workspace_key(master: bytes, workspace: str) -> bytes:
    """The workspace's signing key: rotating the master key revokes every URL."""
    return hmac.new(master, b"tidemill resume urls\0" + workspace.encode(), "sha256").digest()


def signature(key: bytes, job_id: str, resume_id: int, approver: str | None) -> str:
    message = f"{job_id}\0{resume_id}\0{approver or ''}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def verify(key: bytes, job_id: str, resume_id: int, approver: str | None, given: str) -> None:
    """Raise Unauthorized unless `given` is the signature of exactly this URL."""
    if not hmac.compare_digest(signature(key, job_id, resume_id, approver), given):
        raise errors.Unauthorized("this resume URL is not valid (wrong or tampered signature)")


def urls(
    key: bytes,
    *,
    base_url: str,
    workspace: str,
    job_id: str,
    resume_id: int,
    approver: str | None,
) -> dict[str, str]:
    """`{approvalPage, resume, cancel}` in Windmill's shape and paths."""
    sig = signature(key, job_id, resume_id, approver)
    tail = f"{quote(workspace)}/{job_id}/{resume_id}/{sig}"
    query = f"?{urlencode({'approver': approver})}" if approver else ""
    base = base_url.rstrip("/")
    api = f"{base}/api/w/{quote(workspace)}/jobs_u"
    return {
        "approvalPage": f"{base}/approve/{tail}{query}",
        "resume": f"{api}/resume/{job_id}/{resume_id}/{sig}{query}",
        "cancel": f"{api}/cancel/{job_id}/{resume_id}/{sig}{query}",
    }
