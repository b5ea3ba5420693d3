"""Self-tests of ``emulator/faithful/tls.py``: HTTPS listeners terminate TLS, DescribeSSLPolicies.

Real emulator process, real boto3 calls, real TLS handshakes (Python's ssl) on the loopback
address the extension's ``/_faithful/tls/address`` route resolves a load balancer's DNS name and
listener port to; the certificate is a self-signed one imported with ACM's ImportCertificate.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import ssl
import uuid

import boto3
import pytest
import requests

from core.selfsigned import import_self_signed

FIXED_OK = {"StatusCode": "200", "ContentType": "text/plain", "MessageBody": "ok"}
TO_HTTPS = {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}


@pytest.fixture
def https_lb(aws, emulator):
    """A load balancer with an HTTPS listener (TLS 1.2+ policy, fixed 200) and an HTTP redirect listener."""
    ec2, elb = aws("ec2"), aws("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
        for i, z in enumerate("ab")
    ]
    lb = elb.create_load_balancer(Name=f"tls-{uuid.uuid4().hex[:8]}", Subnets=subnets)["LoadBalancers"][0]
    cert_arn = import_self_signed(aws("acm"), "us-east-1")
    https = elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Port=443, Protocol="HTTPS",
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06", Certificates=[{"CertificateArn": cert_arn}],
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": FIXED_OK}],
    )["Listeners"][0]  # fmt: skip
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Port=80, Protocol="HTTP",
        DefaultActions=[{"Type": "redirect", "RedirectConfig": TO_HTTPS}],
    )  # fmt: skip
    return {"dns": lb["DNSName"], "listener": https, "cert_arn": cert_arn, "endpoint": emulator.endpoint_url}


def _address(endpoint: str, dns: str, port: int = 443) -> tuple[str, int]:
    resp = requests.get(f"{endpoint}/_faithful/tls/address", params={"host": dns, "port": str(port)}, timeout=5)
    assert resp.status_code == 200, resp.text
    host, _, p = resp.json()["address"].rpartition(":")
    return host, int(p)


def _handshake(address: tuple[str, int], dns: str, *, maximum: ssl.TLSVersion | None = None) -> tuple[str, bytes, str]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    if maximum:
        ctx.maximum_version = maximum
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with socket.create_connection(address, timeout=5) as raw, ctx.wrap_socket(raw, server_hostname=dns) as tls:
        conn = http.client.HTTPConnection(dns)
        conn.sock = tls
        conn.request("GET", "/x?y=1", headers={"Host": dns})
        resp = conn.getresponse()
        return str(tls.version()), tls.getpeercert(binary_form=True) or b"", f"{resp.status} {resp.read().decode()}"


def test_https_listener_presents_the_imported_certificate_over_tls_1_2_or_later(aws, https_lb):
    address = _address(https_lb["endpoint"], https_lb["dns"])
    version, der, answer = _handshake(address, https_lb["dns"])
    assert version in ("TLSv1.2", "TLSv1.3")
    assert answer == "200 ok"
    pem = aws("acm").get_certificate(CertificateArn=https_lb["cert_arn"])["Certificate"]
    assert hashlib.sha256(der).hexdigest() == hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def test_policy_refuses_tls_1_1_until_a_legacy_policy_is_set(aws, https_lb):
    address = _address(https_lb["endpoint"], https_lb["dns"])
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _handshake(address, https_lb["dns"], maximum=ssl.TLSVersion.TLSv1_1)
    aws("elbv2").modify_listener(ListenerArn=https_lb["listener"]["ListenerArn"], SslPolicy="ELBSecurityPolicy-2016-08")
    try:
        version, _, _ = _handshake(address, https_lb["dns"], maximum=ssl.TLSVersion.TLSv1_1)
    except ssl.SSLError as exc:  # the local OpenSSL build may refuse TLS 1.1 itself
        pytest.skip(f"this OpenSSL cannot speak TLS 1.1 as a client: {exc}")
    assert version == "TLSv1.1"


def test_http_listener_redirects_to_https_on_the_same_host(https_lb):
    resp = requests.get(
        f"{https_lb['endpoint']}/pay?a=1", headers={"Host": https_lb["dns"]}, allow_redirects=False, timeout=5
    )
    assert resp.status_code == 301
    assert resp.headers["Location"] == f"https://{https_lb['dns']}:443/pay?a=1"


def test_http_listener_address_is_the_data_plane_also_behind_a_proxy(https_lb):
    """/_faithful/http/address names where the HTTP listener answers (the gateway): a client that reaches
    the emulator through a proxy that rewrites Host asks it there and sends the request to that address."""
    resp = requests.get(
        f"{https_lb['endpoint']}/_faithful/http/address", params={"host": https_lb["dns"], "port": "80"}, timeout=5
    )
    assert resp.status_code == 200, resp.text
    address = resp.json()["address"]
    assert address == https_lb["endpoint"].split("//", 1)[1]
    answer = requests.get(f"http://{address}/pay", headers={"Host": https_lb["dns"]}, allow_redirects=False, timeout=5)
    assert answer.status_code == 301
    assert answer.headers["Location"] == f"https://{https_lb['dns']}:443/pay"
    for port in ("443", "8080"):  # an HTTPS listener is not an HTTP one; no listener at all
        none = requests.get(
            f"{https_lb['endpoint']}/_faithful/http/address", params={"host": https_lb["dns"], "port": port}, timeout=5
        )
        assert none.status_code == 404, (port, none.text)


def test_address_of_an_unknown_listener_is_404(https_lb):
    resp = requests.get(
        f"{https_lb['endpoint']}/_faithful/tls/address", params={"host": https_lb["dns"], "port": 8443}, timeout=5
    )
    assert resp.status_code == 404


def test_describe_ssl_policies_answers_aws_definitions(aws):
    elb = aws("elbv2")
    modern = elb.describe_ssl_policies(Names=["ELBSecurityPolicy-TLS13-1-2-2021-06"])["SslPolicies"][0]
    assert modern["SslProtocols"] == ["TLSv1.2", "TLSv1.3"]
    assert modern["Ciphers"][0] == {"Name": "TLS_AES_128_GCM_SHA256", "Priority": 1}
    legacy = elb.describe_ssl_policies(Names=["ELBSecurityPolicy-2016-08"])["SslPolicies"][0]
    assert {"TLSv1", "TLSv1.1"} <= set(legacy["SslProtocols"])
    with pytest.raises(elb.exceptions.SSLPolicyNotFoundException):
        elb.describe_ssl_policies(Names=["ELBSecurityPolicy-Nope"])


def test_load_balancer_of_another_region_answers_its_dns_name(emulator):
    """A load balancer made in us-east-2 answers its DNS name to an unsigned client (whose requests the
    emulator scopes to its default Region, us-east-1): HTTP redirects, HTTPS serves its default action."""
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-2")
    ec2, elb = (session.client(s, endpoint_url=emulator.endpoint_url) for s in ("ec2", "elbv2"))
    vpc = ec2.create_vpc(CidrBlock="10.19.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.19.{i}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for i, zone in enumerate(("us-east-2a", "us-east-2b"))
    ]
    lb = elb.create_load_balancer(Name=f"tls2-{uuid.uuid4().hex[:8]}", Subnets=subnets)["LoadBalancers"][0]
    dns = lb["DNSName"]
    assert ".us-east-2.elb.amazonaws.com" in dns
    cert_arn = import_self_signed(session.client("acm", endpoint_url=emulator.endpoint_url), "us-east-2")
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Port=443, Protocol="HTTPS",
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06", Certificates=[{"CertificateArn": cert_arn}],
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": FIXED_OK}],
    )  # fmt: skip
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Port=80, Protocol="HTTP",
        DefaultActions=[{"Type": "redirect", "RedirectConfig": TO_HTTPS}],
    )  # fmt: skip
    resp = requests.get(
        f"{emulator.endpoint_url}/_faithful/http/address", params={"host": dns, "port": "80"}, timeout=5
    )
    assert resp.status_code == 200, resp.text
    answer = requests.get(
        f"http://{resp.json()['address']}/pay?a=1", headers={"Host": dns}, allow_redirects=False, timeout=5
    )
    assert (answer.status_code, answer.headers.get("Location")) == (301, f"https://{dns}:443/pay?a=1"), answer.text
    _, _, served = _handshake(_address(emulator.endpoint_url, dns), dns)
    assert served == "200 ok"
