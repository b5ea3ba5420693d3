"""The bounded HTTP probe against a real local HTTP server (pytest-httpserver on 127.0.0.1)."""

from __future__ import annotations

import time

from pytest_httpserver import HTTPServer

from conformance.probes import http_get, safe_url


def _host(httpserver: HTTPServer) -> str:
    return f"127.0.0.1:{httpserver.port}"


def test_503_then_200_passes(httpserver: HTTPServer):
    httpserver.expect_ordered_request("/").respond_with_data("warming up", status=503)
    httpserver.expect_ordered_request("/").respond_with_data("warming up", status=503)
    httpserver.expect_request("/").respond_with_data("ok", status=200)
    obs = http_get(_host(httpserver), deadline=10)
    assert obs.status == 200
    assert obs.attempts == 3
    assert obs.status_line == "HTTP 200 OK"


def test_503_forever_fails_within_its_deadline_with_url_status_and_time(httpserver: HTTPServer):
    httpserver.expect_request("/").respond_with_data("down", status=503)
    started = time.monotonic()
    obs = http_get(_host(httpserver), deadline=2)
    elapsed = time.monotonic() - started
    assert obs.status == 503
    assert obs.url == f"http://{_host(httpserver)}/"
    assert 2 <= elapsed < 2 + 5 + 1  # deadline, plus at most one wait and one request
    assert obs.elapsed >= 2 and obs.attempts >= 2


def test_unreachable_host_is_an_observation_not_a_crash():
    obs = http_get("127.0.0.1:9", deadline=1, timeout=0.5)
    assert obs.status is None
    assert obs.status_line.startswith("no response (")


def test_via_sends_the_host_header_to_the_endpoint(httpserver: HTTPServer):
    httpserver.expect_request("/", headers={"Host": "lb.example.elb.amazonaws.com"}).respond_with_data("ok")
    obs = http_get("lb.example.elb.amazonaws.com", via=httpserver.url_for("/").rstrip("/"), deadline=5)
    assert obs.status == 200
    assert obs.url == "http://lb.example.elb.amazonaws.com/"


def test_presigned_url_never_shows_its_query_string():
    url = "https://bucket.s3.amazonaws.com/key?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA/x"
    assert safe_url(url) == "https://bucket.s3.amazonaws.com/key"
    assert safe_url("http://user:secret@host:8080/p?q=1") == "http://host:8080/p"


def test_via_an_endpoint_that_names_the_data_plane_sends_the_request_there(httpserver: HTTPServer):
    """Through a proxy in front of the emulator (which rewrites Host), the probe asks the endpoint where
    the load balancer's HTTP listener answers and sends the request there, with Host naming it."""
    data_plane = HTTPServer(host="127.0.0.1", port=0)
    data_plane.start()
    try:
        data_plane.expect_request("/pay", headers={"Host": "lb.example.elb.amazonaws.com"}).respond_with_data(
            "", status=301, headers={"Location": "https://lb.example.elb.amazonaws.com:443/pay"}
        )
        httpserver.expect_request(
            "/_faithful/http/address", query_string={"host": "lb.example.elb.amazonaws.com", "port": "80"}
        ).respond_with_json({"address": f"127.0.0.1:{data_plane.port}"})
        obs = http_get(
            "lb.example.elb.amazonaws.com", path="/pay", expect=301, via=httpserver.url_for("/").rstrip("/"), deadline=5
        )
    finally:
        data_plane.stop()
    assert obs.status == 301 and obs.attempts == 1
    assert obs.header("Location") == "https://lb.example.elb.amazonaws.com:443/pay"
    assert obs.url == "http://lb.example.elb.amazonaws.com/pay"


def test_via_an_endpoint_with_no_such_listener_is_no_response(httpserver: HTTPServer):
    httpserver.expect_request("/_faithful/http/address").respond_with_json({"message": "no HTTP listener"}, status=404)
    obs = http_get("lb.example.elb.amazonaws.com", via=httpserver.url_for("/").rstrip("/"), deadline=0.5)
    assert obs.status is None
    assert obs.status_line == "no response (no HTTP listener on port 80)"
