"""Webhooks cannot be turned inward: no loopback, private, metadata or own-deployment address,
not at subscription time and not at send time (DNS may change), no redirect followed, and the
connection goes to the address that was checked."""

from __future__ import annotations

import json

import httpx
import pytest

from services.bus import topics
from services.bus.core import EmbeddedBus
from services.config.settings import ApiKey, Settings
from services.delivery.subscriptions import Subscription, SubscriptionError, parse_subscription
from services.delivery.webhook_net import WebhookAddressError, WebhookPolicy, check_target, deployment_policy
from services.delivery.webhooks import WebhookSender

from .conftest import LiveServer, make_runtime, wait_for
from .webhook_servers import Server, answer, tls_pair

PUBLIC_V4, PUBLIC_V6 = "34.1.2.3", "2606:4700:4700::1111"  # public unicast; never connected to here

# Each row: a special-purpose block from the IANA registries (RFC 6890 and successors),
# written out here, not taken from the code under test, and the word the refusal must name.
REFUSED = [
    pytest.param("https://127.0.0.1/h", "loopback", id="v4-loopback"),
    pytest.param("https://127.8.9.10/h", "loopback", id="v4-loopback-not-.1"),
    pytest.param("https://[::1]/h", "loopback", id="v6-loopback"),
    pytest.param("https://10.20.30.40/h", "private", id="rfc1918-10"),
    pytest.param("https://172.16.5.4/h", "private", id="rfc1918-172"),
    pytest.param("https://192.168.1.1/h", "private", id="rfc1918-192"),
    pytest.param("https://100.64.0.1/h", "carrier-grade NAT", id="cgnat"),
    pytest.param("https://169.254.169.254/latest/meta-data/", "cloud metadata", id="metadata-v4"),
    pytest.param("https://[fd00:ec2::254]/latest/meta-data/", "cloud metadata", id="metadata-v6"),
    pytest.param("https://100.100.100.200/h", "cloud metadata", id="metadata-alibaba"),
    pytest.param("https://169.254.1.1/h", "link-local", id="v4-link-local"),
    pytest.param("https://[fe80::1]/h", "link-local", id="v6-link-local"),
    pytest.param("https://[fd12:3456::1]/h", "unique-local", id="v6-ula"),
    pytest.param("https://224.0.0.251/h", "multicast", id="v4-multicast"),
    pytest.param("https://[ff02::1]/h", "multicast", id="v6-multicast"),
    pytest.param("https://0.0.0.0/h", "unspecified", id="v4-unspecified"),
    pytest.param("https://[::]/h", "unspecified", id="v6-unspecified"),
    pytest.param("https://240.0.0.1/h", "reserved", id="class-e"),
    pytest.param("https://255.255.255.255/h", "refused", id="broadcast"),
    pytest.param("https://192.0.2.10/h", "refused", id="documentation"),
    pytest.param("https://2130706433/h", "loopback", id="v4-loopback-as-one-number"),
    pytest.param("https://0x7f.1/h", "loopback", id="v4-loopback-in-hex"),
    pytest.param("https://[::ffff:127.0.0.1]/h", "loopback", id="v4-mapped-loopback"),
    pytest.param("https://[::ffff:169.254.169.254]/h", "cloud metadata", id="v4-mapped-metadata"),
    pytest.param("https://[::ffff:10.0.0.1]/h", "private", id="v4-mapped-private"),
    pytest.param("https://[2002:a9fe:a9fe::1]/h", "cloud metadata", id="6to4-metadata"),
    pytest.param("https://[64:ff9b::a00:1]/h", "private", id="nat64-private"),
    pytest.param("http://34.1.2.3/h", "https", id="plain-http"),
    pytest.param("https://user:pw@34.1.2.3/h", "user name", id="credentials"),
    pytest.param("ftp://34.1.2.3/h", "https URL", id="not-http"),
    pytest.param("https://34.1.2.3/h h", "control characters", id="space-in-path"),
    pytest.param("https://hôtes.example/h", "xn-- form", id="non-ascii-host"),
]


def resolver_of(table: dict[str, list[str]]):
    """A DNS stand-in: the test decides what each name resolves to, and may change it."""
    def resolve(host: str, _port: int) -> list[str]:
        if host not in table:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return list(table[host])
    return resolve


@pytest.mark.parametrize("url, reason", REFUSED)
def test_inward_addresses_are_refused_with_the_reason(url, reason):
    with pytest.raises(WebhookAddressError, match=reason):
        check_target(url, WebhookPolicy())
    with pytest.raises(SubscriptionError, match=reason):
        parse_subscription({"delivery": {"kind": "webhook", "url": url}}, "VN-MSA")


def test_public_https_addresses_are_accepted_and_the_checked_address_is_kept():
    names = resolver_of({"hooks.vn-msa.example": [PUBLIC_V6, PUBLIC_V4]})
    target = check_target("https://hooks.vn-msa.example:8443/mfc?x=1", WebhookPolicy(resolver=names))
    assert (target.host, target.port, target.path, target.ip) == ("hooks.vn-msa.example", 8443, "/mfc?x=1",
                                                                  PUBLIC_V6)
    assert check_target(f"https://{PUBLIC_V4}/h", WebhookPolicy()).ip == PUBLIC_V4


@pytest.mark.parametrize("answers", [["10.0.0.5"], [PUBLIC_V4, "127.0.0.1"], ["fd00:ec2::254"]],
                         ids=["private", "one-of-two-is-loopback", "metadata-v6"])
def test_a_name_is_refused_when_any_of_its_addresses_is_inward(answers):
    names = resolver_of({"hooks.vn-msa.example": answers})
    with pytest.raises(SubscriptionError, match="hooks.vn-msa.example .* refused"):
        parse_subscription({"delivery": {"kind": "webhook", "url": "https://hooks.vn-msa.example/h"}},
                           "VN-MSA", WebhookPolicy(resolver=names))


def test_an_unresolvable_name_is_refused_at_subscription():
    with pytest.raises(SubscriptionError, match="cannot resolve webhook host 'nowhere.example'"):
        parse_subscription({"delivery": {"kind": "webhook", "url": "https://nowhere.example/h"}}, "VN-MSA",
                           WebhookPolicy(resolver=resolver_of({})))


def test_the_loopback_setting_lets_only_loopback_through_over_plain_http():
    env = Settings.from_env({"MFC_WEBHOOK_ALLOW_LOOPBACK_HTTP": "1"})
    assert env.webhook_allow_loopback_http and not Settings.from_env({}).webhook_allow_loopback_http
    names = resolver_of({"hooks.vn-msa.example": [PUBLIC_V4], "localhost": ["127.0.0.1"]})
    policy = WebhookPolicy(allow_loopback_http=True, resolver=names)
    assert check_target("http://127.0.0.1:8081/h", policy).ip == "127.0.0.1"
    assert check_target("http://localhost:8081/h", policy).ip == "127.0.0.1"
    for url, reason in [("http://10.0.0.1/h", "private"), ("http://[fd00:ec2::254]/h", "cloud metadata"),
                        ("http://hooks.vn-msa.example/h", "only to loopback")]:
        with pytest.raises(WebhookAddressError, match=reason):
            check_target(url, policy)


def test_the_deployments_own_broker_database_and_api_are_refused():
    names = resolver_of({"broker.mfc.example": [PUBLIC_V4], "db.mfc.example": ["34.9.9.9"]})
    settings = Settings(bus="kafka://broker.mfc.example:9092", db="postgresql+psycopg://u:p@db.mfc.example/mfc",
                        port=8000, webhook_allow_loopback_http=True)
    policy = deployment_policy(settings, names)
    for url in (f"https://{PUBLIC_V4}:9092/h", f"https://[::ffff:{PUBLIC_V4}]:9092/h", "https://34.9.9.9:5432/h",
                "http://127.0.0.1:8000/v1/ingest/ais"):
        with pytest.raises(WebhookAddressError, match="endpoint of this deployment"):
            check_target(url, policy)
    assert check_target(f"https://{PUBLIC_V4}/h", policy).port == 443  # another port of that host is not
    assert check_target("http://127.0.0.1:8001/h", policy).ip == "127.0.0.1"


@pytest.fixture
def agency_api(tmp_path):
    runtime = make_runtime(tmp_path, api_keys=(ApiKey("ph-coastguard-key", "agency", "PH-CG"),))
    with LiveServer(runtime) as server:
        yield server.url, {"Authorization": "Bearer ph-coastguard-key"}


def test_the_api_refuses_inward_webhooks_with_422_and_caps_subscriptions_per_agency(agency_api):
    url, key = agency_api
    for hook, reason in [("https://169.254.169.254/latest/meta-data/", "cloud metadata"),
                         ("https://[::ffff:127.0.0.1]:8000/h", "loopback"), ("https://10.1.1.1/h", "private"),
                         ("http://127.0.0.1:9/h", "https")]:  # plain http: the loopback setting is off here
        r = httpx.post(f"{url}/v1/subscriptions", headers=key,
                       json={"delivery": {"kind": "webhook", "url": hook}})
        assert r.status_code == 422 and reason in r.json()["error"], (hook, r.text)
    for _ in range(50):
        assert httpx.post(f"{url}/v1/subscriptions", headers=key, json={"types": ["swarm"]}).status_code == 201
    r = httpx.post(f"{url}/v1/subscriptions", headers=key, json={"types": ["distress"]})
    assert r.status_code == 409 and "already holds 50 subscriptions" in r.json()["error"]
    assert len(httpx.get(f"{url}/v1/subscriptions", headers=key).json()["subscriptions"]) == 50


def _sub(url: str, sub_id: str = "S1") -> Subscription:
    return Subscription(sub_id, "VN-MSA", delivery="webhook", url=url, secret="vn-msa-webhook-secret-1")


def _alert(alert_id: str = "A1") -> dict:
    return {"alert_id": alert_id, "type": "distress", "severity": "critical", "lat": 10.0, "lon": 114.0,
            "state": "open"}


@pytest.mark.parametrize("rebound_to, reason", [("127.0.0.1", "loopback"), ("::ffff:127.0.0.1", "loopback"),
                                                ("169.254.169.254", "cloud metadata")])
def test_a_dns_rebinding_after_subscription_is_refused_at_send(rebound_to, reason):
    with Server() as inside:
        table = {"hooks.vn-msa.example": [PUBLIC_V4]}
        policy = WebhookPolicy(resolver=resolver_of(table))
        hook = f"https://hooks.vn-msa.example:{inside.port}/hook"
        sub = parse_subscription({"delivery": {"kind": "webhook", "url": hook}}, "VN-MSA", policy)
        table["hooks.vn-msa.example"] = [rebound_to]  # the name now points inward
        bus = EmbeddedBus()
        dead = bus.consumer(topics.DEADLETTER, "test")
        sender = WebhookSender(bus, policy, attempts=3, first_backoff_s=0.01)
        sender.start()
        try:
            sender.submit(sub, _alert())
            (rec,) = wait_for(lambda: dead.poll(0.1))
        finally:
            sender.stop()
        assert "after 1 attempt" in rec.value["reason"] and "hooks.vn-msa.example" in rec.value["reason"]
        assert f"refused: {reason}" in rec.value["reason"] or f": {reason}" in rec.value["reason"]
        assert inside.requests == [] and sender.delivered == 0


def test_the_connection_goes_to_the_checked_address_and_names_the_host():
    with Server() as receiver:
        answers = iter([["127.0.0.1"], [PUBLIC_V4]])  # a second look-up would point elsewhere
        policy = WebhookPolicy(allow_loopback_http=True, resolver=lambda host, port: next(answers))
        bus = EmbeddedBus()
        sender = WebhookSender(bus, policy)
        sender.start()
        try:
            sender.submit(_sub(f"http://hooks.vn-msa.test:{receiver.port}/hook"), _alert())
            ((headers, body),) = wait_for(lambda: receiver.requests)
        finally:
            sender.stop()
            bus.close()
        assert headers["host"] == f"hooks.vn-msa.test:{receiver.port}" and json.loads(body)["alert_id"] == "A1"


def test_https_is_pinned_yet_verifies_the_hosts_certificate():
    ctx_server, client = tls_pair("hooks.vn-msa.test")  # the certificate names hooks.vn-msa.test only
    names = resolver_of({"hooks.vn-msa.test": ["127.0.0.1"], "other.vn-msa.test": ["127.0.0.1"]})
    bus = EmbeddedBus()
    dead = bus.consumer(topics.DEADLETTER, "test")
    sender = WebhookSender(bus, WebhookPolicy(allow_loopback_http=True, resolver=names), attempts=1, tls=client)
    sender.start()
    with Server(tls=ctx_server) as receiver:
        try:
            sender.submit(_sub(f"https://hooks.vn-msa.test:{receiver.port}/hook"), _alert())
            ((headers, _),) = wait_for(lambda: receiver.requests)
            assert headers["host"] == f"hooks.vn-msa.test:{receiver.port}"
            # the same server reached under a name its certificate does not carry: refused by TLS
            sender.submit(_sub(f"https://other.vn-msa.test:{receiver.port}/hook", "S2"), _alert("A2"))
            (rec,) = wait_for(lambda: dead.poll(0.1))
            assert "CERTIFICATE_VERIFY_FAILED" in rec.value["reason"] and len(receiver.requests) == 1
        finally:
            sender.stop()


def test_a_redirect_is_a_failed_delivery_and_is_not_followed():
    with Server() as elsewhere, Server(answer(302, {"Location": elsewhere.url})) as redirecting:
        bus = EmbeddedBus()
        dead = bus.consumer(topics.DEADLETTER, "test")
        sender = WebhookSender(bus, WebhookPolicy(allow_loopback_http=True), attempts=3, first_backoff_s=0.01)
        sender.start()
        try:
            sender.submit(_sub(redirecting.url), _alert())
            (rec,) = wait_for(lambda: dead.poll(0.1))
        finally:
            sender.stop()
        assert f"HTTP 302 redirect to {elsewhere.url} not followed" in rec.value["reason"]
        assert "after 1 attempt" in rec.value["reason"]
        assert len(redirecting.requests) == 1 and elsewhere.requests == []
