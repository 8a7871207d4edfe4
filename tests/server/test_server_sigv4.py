"""The store's SigV4 check against the worked examples of Amazon's S3 documentation."""

from __future__ import annotations

from typing import Dict, Optional

import pytest

from avatars.testing.objects import S3Error
from avatars.testing.sigv4 import parse_amz_date, verify

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
STAMP = parse_amz_date("20130524T000000Z")


def secrets(key_id: str) -> Optional[str]:
    return SECRET if key_id == KEY_ID else None


def get_headers(signature: str) -> Dict[str, str]:
    return {
        "host": "examplebucket.s3.amazonaws.com",
        "range": "bytes=0-9",
        "x-amz-content-sha256": EMPTY_SHA256,
        "x-amz-date": "20130524T000000Z",
        "authorization": (
            f"AWS4-HMAC-SHA256 Credential={KEY_ID}/20130524/us-east-1/s3/aws4_request,"
            f"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature={signature}"
        ),
    }


GET_SIGNATURE = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
PRESIGNED_QUERY = (
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
)


def test_header_example_verifies() -> None:
    signed = verify("GET", "/test.txt", "", get_headers(GET_SIGNATURE), secrets, clock=STAMP + 60)
    assert (signed.access_key_id, signed.region, signed.presigned) == (KEY_ID, "us-east-1", False)


def test_presigned_example_verifies_until_it_expires() -> None:
    host = {"host": "examplebucket.s3.amazonaws.com"}
    assert verify("GET", "/test.txt", PRESIGNED_QUERY, host, secrets, clock=STAMP + 3600).presigned
    with pytest.raises(S3Error) as expired:
        verify("GET", "/test.txt", PRESIGNED_QUERY, host, secrets, clock=STAMP + 86401)
    assert (expired.value.status, expired.value.message) == (403, "Request has expired")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"range": "bytes=0-10"}, "SignatureDoesNotMatch"),  # a signed header altered
        ({"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}, "SignatureDoesNotMatch"),
        (
            {"authorization": get_headers(GET_SIGNATURE)["authorization"].replace(KEY_ID, "AKIDUNKNOWN")},
            "InvalidAccessKeyId",
        ),
        ({"x-amz-date": "20130524T000100Z"}, "SignatureDoesNotMatch"),
        ({"x-amz-content-sha256": None}, "InvalidRequest"),
    ],
)
def test_any_change_breaks_the_example(change: Dict[str, Optional[str]], code: str) -> None:
    headers = get_headers(GET_SIGNATURE)
    for name, value in change.items():
        if value is None:
            headers.pop(name)
        else:
            headers[name] = value
    with pytest.raises(S3Error) as refused:
        verify("GET", "/test.txt", "", headers, secrets, clock=STAMP + 60)
    assert refused.value.code == code


def test_other_path_and_skew_are_refused() -> None:
    with pytest.raises(S3Error) as other_path:
        verify("GET", "/test2.txt", "", get_headers(GET_SIGNATURE), secrets, clock=STAMP + 60)
    assert other_path.value.code == "SignatureDoesNotMatch"
    with pytest.raises(S3Error) as skewed:
        verify("GET", "/test.txt", "", get_headers(GET_SIGNATURE), secrets, clock=STAMP + 16 * 60)
    assert skewed.value.code == "RequestTimeTooSkewed"
