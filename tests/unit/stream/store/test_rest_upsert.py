"""The lean REST upsert path: the same signature the SDK computes, and failures classified like the SDK's."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace
from urllib.parse import unquote

from azure.cosmos import auth

from tweet_triage.store.rest_upsert import RestResponseError, master_key_token, partition_key_header
from tweet_triage.store.retry import classify

KEY = base64.b64encode(bytes(range(64))).decode()


def test_the_master_key_signature_is_the_one_the_sdk_computes() -> None:
    date = "Tue, 01 Dec 2026 12:00:00 GMT"
    link = "dbs/tweet-triage/colls/predictions"
    ours = master_key_token("POST", "docs", link, date, base64.b64decode(KEY))
    sdk = auth._get_authorization_header(  # type: ignore[no-untyped-call]
        SimpleNamespace(master_key=KEY, resource_tokens=None), "post", "", link, True, "docs", {"x-ms-date": date}
    )
    assert unquote(ours) == sdk
    assert ours != master_key_token("POST", "docs", link, "Tue, 01 Dec 2026 12:00:01 GMT", base64.b64decode(KEY))


def test_answers_of_the_rest_path_are_classified_like_the_sdks() -> None:
    throttled = classify(RestResponseError(429, "too many", {"x-ms-retry-after-ms": "1500"}))
    assert throttled.service_wide and throttled.retry_after == 1.5
    missing = classify(RestResponseError(404, "Resource Not Found", {}))
    assert missing.service_wide and missing.schema_missing
    assert classify(RestResponseError(401, "bad key", {})).service_wide
    assert classify(RestResponseError(413, "too large", {})).scope == "item"
    assert classify(RestResponseError(400, "bad partition key", {})).scope == "item"


def test_the_partition_key_header_is_ascii_json_like_the_sdks() -> None:
    for tweet_id in ("1628374619283746192", "odd-é-火-😀", 'quote"and\\backslash'):
        header = partition_key_header(tweet_id)
        assert header.isascii() and json.loads(header) == [tweet_id]
