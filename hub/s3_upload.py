"""Upload an object to S3 or an S3-compatible store (MinIO, R2, Garage, Ceph), signed with SigV4."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signed_headers(
    method: str,
    url: str,
    headers: dict[str, str],
    payload_sha256: str,
    *,
    access_key_id: str,
    secret_access_key: str,
    region: str,
    now: datetime.datetime,
    service: str = "s3",
) -> dict[str, str]:
    """`headers` plus the AWS Signature Version 4 ones (`x-amz-date`, `Authorization`, ...).

    Every header given is signed, with `host`, `x-amz-date` and `x-amz-content-sha256`.
    The URL's path must be URI-encoded already, as it is sent (S3 signs it as is).
    """
    parts = urlsplit(url)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    all_headers = {
        **{k.lower(): " ".join(v.split()) for k, v in headers.items()},
        "host": parts.netloc,
        "x-amz-content-sha256": payload_sha256,
        "x-amz-date": amz_date,
    }
    names = sorted(all_headers)
    query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
        for k, _, v in sorted(p.partition("=") for p in parts.query.split("&") if p)
    )
    canonical = "\n".join(
        [
            method,
            parts.path or "/",
            query,
            "".join(f"{n}:{all_headers[n]}\n" for n in names),
            ";".join(names),
            payload_sha256,
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        [ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(
        _hmac(_hmac(_hmac(f"AWS4{secret_access_key}".encode(), day), region), service),
        "aws4_request",
    )
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (
        f"{ALGORITHM} Credential={access_key_id}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return {
        **headers,
        **{k: all_headers[k] for k in ("x-amz-content-sha256", "x-amz-date")},
        "Authorization": authorization,
    }


def main(
    endpoint_url: str,
    bucket: str,
    key: str,
    access_key_id: str,
    secret_access_key: str,
    content: str = "",
    content_base64: str | None = None,
    content_type: str = "application/octet-stream",
    region: str = "us-east-1",
    path_style: bool = True,
    session_token: str | None = None,
    timeout_s: float = 120,
) -> dict[str, Any]:
    """PUT one object and answer where it is.

    Args:
        endpoint_url: e.g. https://s3.eu-west-1.amazonaws.com, http://minio:9000, or
            https://<account>.r2.cloudflarestorage.com.
        bucket: The bucket.
        key: The object's key, e.g. reports/2024-06-01.csv.
        access_key_id: The access key.
        secret_access_key: The secret key; keep it in a secret variable.
        content: The object as text (UTF-8).
        content_base64: The object as base64, for binary data (wins over content).
        content_type: Its media type.
        region: The signing region (us-east-1 suits most S3-compatible stores).
        path_style: Address the bucket in the path (endpoint/bucket/key), as MinIO and most
            compatible stores want; off for AWS's bucket.endpoint/key.
        session_token: For temporary credentials.
        timeout_s: Seconds to wait for the upload.

    Returns:
        The object's URL, ETag and size.
    """
    data = base64.b64decode(content_base64) if content_base64 is not None else content.encode()
    endpoint = urlsplit(endpoint_url.rstrip("/"))
    object_path = quote(key.lstrip("/"), safe="/-_.~")
    if path_style:
        url = f"{endpoint.scheme}://{endpoint.netloc}{endpoint.path}/{bucket}/{object_path}"
    else:
        url = f"{endpoint.scheme}://{bucket}.{endpoint.netloc}{endpoint.path}/{object_path}"
    headers = {"Content-Type": content_type, "Content-Length": str(len(data))}
    if session_token:
        headers["X-Amz-Security-Token"] = session_token
    headers = signed_headers(
        "PUT",
        url,
        headers,
        hashlib.sha256(data).hexdigest(),
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        region=region,
        now=datetime.datetime.now(datetime.UTC),
    )
    request = urllib.request.Request(url, data=data, headers=headers, method="PUT")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            etag = response.headers.get("ETag", "").strip('"')
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        raise RuntimeError(f"the store refused the upload: HTTP {exc.code}: {detail}") from None
    return {"url": url, "etag": etag, "size": len(data)}
