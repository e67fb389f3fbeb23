"""The API's error documents, rate and size limits, and offline docs, on a tiny app."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from suanwang.api.docs import install_offline_docs
from suanwang.api.errors import ApiError, install_error_handlers
from suanwang.api.limits import (
    BodySizeLimitMiddleware,
    RateLimiter,
    TokenBucket,
    rate_limited,
    retry_after_header,
)
from suanwang.core.errors import SuanwangError, UnknownIdError

MAX_BYTES = 1024


class Item(BaseModel):
    n: int


class Batch(BaseModel):
    items: list[Item]


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_app() -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, title="Tiny")
    install_error_handlers(app)
    install_offline_docs(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=MAX_BYTES)

    @app.post("/batch")
    def batch(body: Batch) -> dict[str, int]:
        return {"count": len(body.items)}

    @app.get("/page")
    def page(limit: int = 10) -> dict[str, int]:
        return {"limit": limit}

    @app.get("/api-error")
    def api_error() -> None:
        raise ApiError(409, "conflict", "task t-1 is already running", "task_id")

    @app.get("/limited")
    def limited() -> None:
        raise rate_limited(2.3)

    @app.get("/unknown-site")
    def unknown_site() -> None:
        raise UnknownIdError("site", "cn-zhongwie", ["cn-zhongwei", "cn-ulanqab"])

    @app.get("/domain-error")
    def domain_error() -> None:
        raise SuanwangError("no pool can run 5000 GPUs")

    @app.get("/http-detail")
    def http_detail() -> None:
        raise HTTPException(403, "operators only")

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret-internal-detail in /srv/suanwang/x.py")

    return app


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(make_app(), raise_server_exceptions=False) as c:
        yield c


def error_of(response_json: object) -> dict[str, object]:
    assert isinstance(response_json, dict)
    assert set(response_json) == {"error"}
    err = response_json["error"]
    assert isinstance(err, dict)
    assert set(err) == {"code", "message", "field"}
    assert isinstance(err["message"], str)
    assert err["message"]
    return err


# --- error documents -------------------------------------------------------------------------


def test_a_wrong_type_deep_in_the_body_names_its_dotted_field(client: TestClient) -> None:
    r = client.post("/batch", json={"items": [{"n": "seven"}, {"n": 2}]})
    assert r.status_code == 422
    err = error_of(r.json())
    assert err["code"] == "invalid"
    assert err["field"] == "items.0.n"
    assert "valid integer" in str(err["message"])


def test_a_missing_field_is_named_without_the_body_prefix(client: TestClient) -> None:
    r = client.post("/batch", json={"items": [{}]})
    assert r.status_code == 422
    assert error_of(r.json())["field"] == "items.0.n"


def test_a_bad_query_parameter_is_named_without_the_query_prefix(client: TestClient) -> None:
    r = client.get("/page", params={"limit": "many"})
    assert r.status_code == 422
    err = error_of(r.json())
    assert (err["code"], err["field"]) == ("invalid", "limit")


def test_a_body_of_the_wrong_shape_names_the_body(client: TestClient) -> None:
    r = client.post("/batch", json=[1, 2])
    assert r.status_code == 422
    assert error_of(r.json())["field"] == "body"


def test_a_missing_body_says_a_json_body_is_required(client: TestClient) -> None:
    r = client.post("/batch", headers={"content-type": "application/json"})
    assert r.status_code == 422
    err = error_of(r.json())
    assert err["field"] == "body"
    assert "body is required" in str(err["message"])


def test_malformed_json_is_a_400_that_says_so(client: TestClient) -> None:
    r = client.post("/batch", content=b'{"items": [', headers={"content-type": "application/json"})
    assert r.status_code == 400
    err = error_of(r.json())
    assert err["code"] == "malformed_json"
    assert "not valid JSON" in str(err["message"])
    assert err["field"] is None


def test_a_body_not_sent_as_json_is_a_415_naming_the_content_type(client: TestClient) -> None:
    r = client.post("/batch", content=b'{"items": []}', headers={"content-type": "text/plain"})
    assert r.status_code == 415
    err = error_of(r.json())
    assert err["code"] == "unsupported_media_type"
    assert "application/json" in str(err["message"])
    assert "text/plain" in str(err["message"])


def test_an_api_error_renders_its_status_code_message_and_field(client: TestClient) -> None:
    r = client.get("/api-error")
    assert r.status_code == 409
    assert r.json() == {
        "error": {
            "code": "conflict",
            "message": "task t-1 is already running",
            "field": "task_id",
        }
    }


def test_a_rate_limited_error_is_a_429_with_retry_after_in_whole_seconds(
    client: TestClient,
) -> None:
    r = client.get("/limited")
    assert r.status_code == 429
    assert error_of(r.json())["code"] == "rate_limited"
    assert r.headers["retry-after"] == "3"


def test_an_unknown_id_is_a_404_with_the_cores_suggestion(client: TestClient) -> None:
    r = client.get("/unknown-site")
    assert r.status_code == 404
    err = error_of(r.json())
    assert err["code"] == "not_found"
    assert "cn-zhongwie" in str(err["message"])
    assert "cn-zhongwei" in str(err["message"])


def test_another_domain_error_is_a_400_bad_request(client: TestClient) -> None:
    r = client.get("/domain-error")
    assert r.status_code == 400
    err = error_of(r.json())
    assert (err["code"], err["message"]) == ("bad_request", "no pool can run 5000 GPUs")


def test_an_http_exception_keeps_its_own_detail_as_message(client: TestClient) -> None:
    r = client.get("/http-detail")
    assert r.status_code == 403
    err = error_of(r.json())
    assert (err["code"], err["message"]) == ("forbidden", "operators only")


def test_an_unknown_route_is_a_404_not_found_naming_the_path(client: TestClient) -> None:
    r = client.get("/v1/nothing-here")
    assert r.status_code == 404
    err = error_of(r.json())
    assert err["code"] == "not_found"
    assert "/v1/nothing-here" in str(err["message"])


def test_a_wrong_method_is_a_405_that_keeps_the_allow_header(client: TestClient) -> None:
    r = client.delete("/batch")
    assert r.status_code == 405
    err = error_of(r.json())
    assert err["code"] == "method_not_allowed"
    assert r.headers["allow"] == "POST"
    assert "DELETE" in str(err["message"])
    assert "POST" in str(err["message"])


def test_an_unexpected_exception_is_a_500_internal_without_the_traceback(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="suanwang.api"):
        r = client.get("/boom")
    assert r.status_code == 500
    err = error_of(r.json())
    assert err["code"] == "internal"
    for leak in ("Traceback", "RuntimeError", "secret-internal-detail", "x.py", 'File "'):
        assert leak not in r.text
    ref = re.search(r"reference ([0-9a-f]{12})", str(err["message"]))
    assert ref is not None
    logged = [rec for rec in caplog.records if ref.group(1) in rec.getMessage()]
    assert logged
    assert logged[0].exc_info is not None
    assert "secret-internal-detail" in caplog.text


def test_an_api_error_can_carry_retry_after_and_other_headers() -> None:
    err = ApiError(429, "rate_limited", "slow down", retry_after=0.2, headers={"X-A": "b"})
    assert err.headers == {"X-A": "b", "Retry-After": "1"}


def test_an_api_error_has_a_readable_repr() -> None:
    err = ApiError(400, "bad_request", "nope", "x")
    assert "bad_request" in repr(err)
    assert str(err) == "nope"


# --- token bucket and rate limiter ---------------------------------------------------------


def test_a_full_bucket_lets_a_burst_through_then_refuses_with_the_wait() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(0.5)


def test_a_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)
    for _ in range(3):
        bucket.take()
    clock.advance(0.5)
    assert bucket.take() == 0.0
    assert bucket.take() == pytest.approx(0.5)
    clock.advance(3600)
    assert bucket.tokens == pytest.approx(3.0)


def test_a_refused_take_costs_nothing() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, burst=1, clock=clock)
    bucket.take()
    for _ in range(5):
        assert bucket.take() == pytest.approx(1.0)
    clock.advance(1.0)
    assert bucket.take() == 0.0


def test_a_clock_stepping_back_adds_no_tokens() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, burst=2, clock=clock)
    bucket.take()
    bucket.take()
    clock.advance(-100)
    assert bucket.take() == pytest.approx(1.0)


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 5), (1, 0.5), (float("inf"), 1)])
def test_a_bucket_refuses_a_nonsense_rate_or_burst(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match="must"):
        TokenBucket(rate=rate, burst=burst, clock=FakeClock())


def test_a_cost_above_the_burst_is_refused_as_a_programming_error() -> None:
    with pytest.raises(ValueError, match="cost"):
        TokenBucket(rate=1.0, burst=2, clock=FakeClock()).take(3)


def test_the_limiter_keeps_one_bucket_per_token() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=2, clock=clock)
    assert limiter.check("tok-a") is None
    assert limiter.check("tok-a") is None
    wait = limiter.check("tok-a")
    assert wait == pytest.approx(1.0)
    assert limiter.check("tok-b") is None
    clock.advance(1.0)
    assert limiter.check("tok-a") is None


def test_the_limiter_forgets_tokens_whose_buckets_have_refilled() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=2, clock=clock)
    for key in ("a", "b", "c"):
        limiter.check(key)
    assert len(limiter) == 3
    clock.advance(2.0)  # every bucket is full again
    limiter.check("d")
    assert len(limiter) == 1
    assert "d" in limiter
    assert "a" not in limiter


def test_a_forgotten_token_starts_again_with_a_full_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=2, clock=clock)
    limiter.check("a")
    limiter.check("a")
    clock.advance(10)
    limiter.check("b")  # evicts "a"
    assert "a" not in limiter
    assert limiter.check("a") is None
    assert limiter.check("a") is None
    assert limiter.check("a") is not None


def test_the_limiter_never_holds_more_than_max_keys() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=0.001, burst=5, clock=clock, max_keys=100)
    for i in range(1000):
        limiter.check(f"tok-{i}")
    assert len(limiter) == 100
    assert "tok-999" in limiter
    assert "tok-0" not in limiter


def test_the_limiter_keeps_a_busy_token_even_past_max_keys() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=0.001, burst=5, clock=clock, max_keys=2)
    limiter.check("busy")
    for i in range(10):
        limiter.check(f"other-{i}")
        limiter.check("busy")
    assert "busy" in limiter
    assert len(limiter) == 2


@pytest.mark.parametrize(("seconds", "header"), [(0.01, "1"), (1.0, "1"), (1.2, "2"), (59.9, "60")])
def test_retry_after_is_whole_seconds_rounded_up(seconds: float, header: str) -> None:
    assert retry_after_header(seconds) == header


# --- body size -----------------------------------------------------------------------------


def test_a_body_within_the_limit_goes_through(client: TestClient) -> None:
    r = client.post("/batch", json={"items": [{"n": 1}]})
    assert r.status_code == 200
    assert r.json() == {"count": 1}


def test_a_content_length_over_the_limit_is_a_413_too_large(client: TestClient) -> None:
    body = json.dumps({"items": [{"n": i} for i in range(500)]}).encode()
    assert len(body) > MAX_BYTES
    r = client.post("/batch", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413
    err = error_of(r.json())
    assert err["code"] == "too_large"
    assert "1 KiB" in str(err["message"])


def test_a_chunked_body_over_the_limit_is_a_413_too_large(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"items": ['
        for i in range(500):
            yield b'{"n": %d},' % i
        yield b'{"n": 0}]}'

    r = client.post("/batch", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert r.status_code == 413
    assert error_of(r.json())["code"] == "too_large"


def test_a_small_chunked_body_goes_through(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"items": '
        yield b'[{"n": 4}]}'

    r = client.post("/batch", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 200
    assert r.json() == {"count": 1}


def test_the_size_limit_answers_json_even_on_a_bare_asgi_app() -> None:
    async def bare(scope: Scope, receive: Receive, send: Send) -> None:  # pragma: no cover
        raise AssertionError("the app must not run")

    app = BodySizeLimitMiddleware(bare, max_bytes=1000)
    r = TestClient(app).post("/", content=b"x" * 2000)
    assert r.status_code == 413
    assert error_of(r.json())["code"] == "too_large"


def test_a_chunked_overflow_without_error_handlers_is_still_a_json_413() -> None:
    async def reader(scope: Scope, receive: Receive, send: Send) -> None:
        body = await Request(scope, receive).body()
        await PlainTextResponse(str(len(body)))(scope, receive, send)

    def chunks() -> Iterator[bytes]:
        yield b"x" * 600
        yield b"x" * 600

    c = TestClient(BodySizeLimitMiddleware(reader, max_bytes=1000))
    assert c.post("/", content=b"x" * 10).text == "10"
    r = c.post("/", content=chunks())
    assert r.status_code == 413
    assert error_of(r.json())["code"] == "too_large"


# --- offline docs --------------------------------------------------------------------------

ASSET_REF = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
URL_IN_JS = re.compile(r"""url:\s*'([^']+)'""")


def without_comments(html: str) -> str:
    return re.sub(r"<!--.*?-->", "", html, flags=re.DOTALL)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_reference_no_external_url(client: TestClient, page: str) -> None:
    r = client.get(page)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = without_comments(r.text)
    assert "http://" not in html
    assert "https://" not in html
    assert "cdn" not in r.text.lower()
    assert "googleapis" not in r.text.lower()


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_every_asset_a_docs_page_references_is_served_by_the_app(
    client: TestClient, page: str
) -> None:
    html = without_comments(client.get(page).text)
    refs = ASSET_REF.findall(html)
    if page == "/redoc":
        refs += re.findall(r"""spec-url="([^"]+)\"""", html)
    else:
        refs += URL_IN_JS.findall(html)
    assert any(ref.endswith(".js") for ref in refs)
    assert "/openapi.json" in refs
    for ref in refs:
        assert ref.startswith("/"), ref
        assert client.get(ref).status_code == 200, ref


def test_the_served_scripts_name_no_cdn(client: TestClient) -> None:
    for asset in ("/static/redoc/redoc.standalone.js", "/static/swagger-ui/swagger-ui-bundle.js"):
        r = client.get(asset)
        assert r.status_code == 200
        assert "cdn." not in r.text
        assert "googleapis" not in r.text


def test_swagger_ui_is_told_not_to_use_the_online_validator(client: TestClient) -> None:
    assert '"validatorUrl": null' in client.get("/docs").text


def test_only_the_needed_asset_files_are_served(client: TestClient) -> None:
    assert client.get("/static/swagger-ui/LICENSE").status_code == 404
    assert client.get("/static/swagger-ui/").status_code == 404
    assert client.get("/static/redoc/../swagger-ui/LICENSE").status_code == 404
    r = client.get("/static/redoc/nothing.js")
    assert r.status_code == 404
    assert error_of(r.json())["code"] == "not_found"


def test_the_docs_stay_out_of_the_openapi_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not any(p.endswith(("/docs", "/redoc")) or "/static/" in p for p in paths)


def test_the_docs_can_live_under_a_prefix_and_a_root_path() -> None:
    app = FastAPI(docs_url=None, redoc_url=None)
    install_offline_docs(app, prefix="/v1")
    with TestClient(app, root_path="/api") as c:
        html = c.get("/v1/docs").text
        assert "/api/v1/static/swagger-ui/swagger-ui-bundle.js" in html
        assert "'/api/openapi.json'" in html
        # ASGI servers put the root path in front of the path (uvicorn --root-path).
        assert c.get("/api/v1/static/swagger-ui/swagger-ui-bundle.js").status_code == 200
        assert c.get("/api/v1/docs").status_code == 200
        assert "/api/v1/static/redoc/redoc.standalone.js" in c.get("/v1/redoc").text


def test_installing_the_docs_on_an_app_with_fastapis_own_pages_is_refused() -> None:
    with pytest.raises(ValueError, match="docs_url=None"):
        install_offline_docs(FastAPI())


def test_installing_the_docs_without_an_openapi_document_is_refused() -> None:
    with pytest.raises(ValueError, match="openapi_url"):
        install_offline_docs(FastAPI(docs_url=None, redoc_url=None, openapi_url=None))
