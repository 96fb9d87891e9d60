"""Webhook delivery: bounded in time and size, one slow receiver delays nobody else, and the
signature covers the timestamp, the delivery id and the body."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from pathlib import Path

import pytest

from services.bus import topics
from services.bus.core import EmbeddedBus
from services.delivery.subscriptions import Subscription
from services.delivery.webhook_http import WebhookSendError, post
from services.delivery.webhook_net import Target, WebhookPolicy
from services.delivery.webhooks import WebhookSender, verify

from .conftest import wait_for
from .webhook_servers import Server, answer, endless_body, tls_pair, trickle

LOOPBACK = WebhookPolicy(allow_loopback_http=True)
SECRET = "vn-msa-webhook-secret-1"


def target(server: Server) -> Target:
    return Target("http", "127.0.0.1", server.port, "/hook", "127.0.0.1")


def sub(url: str, sub_id: str = "S1") -> Subscription:
    return Subscription(sub_id, "VN-MSA", delivery="webhook", url=url, secret=SECRET)


def alert(alert_id: str = "A1") -> dict:
    return {"alert_id": alert_id, "type": "distress", "severity": "critical", "lat": 10.0, "lon": 114.0,
            "state": "open"}


def test_a_huge_answer_is_read_only_up_to_the_cap():
    with Server(endless_body()) as huge:
        started = time.monotonic()
        got = post(target(huge), b"{}", {"Content-Type": "application/json"}, deadline_s=5.0,
                   max_response_bytes=65_536)
        elapsed_s = time.monotonic() - started
    assert got.status == 200 and got.truncated and len(got.body) == 65_536
    assert elapsed_s < 2.0  # it did not wait for the announced 1 GiB


@pytest.mark.parametrize("where, tls", [("headers", False), ("body", False), ("headers", True), ("body", True)],
                         ids=["headers", "body", "tls-headers", "tls-body"])
def test_a_trickling_receiver_is_cut_off_at_the_deadline(where, tls):
    server_tls, client_tls = tls_pair("hooks.vn-msa.test") if tls else (None, None)
    with Server(trickle(where, every_s=0.05, max_s=6.0), tls=server_tls) as slow:
        to = Target("https", "hooks.vn-msa.test", slow.port, "/hook", "127.0.0.1") if tls else target(slow)
        started = time.monotonic()
        with pytest.raises(WebhookSendError, match="within the 1 s deadline"):
            post(to, b"{}", {}, deadline_s=1.0, tls=client_tls)
        elapsed_s = time.monotonic() - started
    assert 0.9 <= elapsed_s < 2.0, elapsed_s  # each byte came well within any per-read timeout


def test_a_slow_receiver_does_not_delay_a_fast_one():
    release = threading.Event()

    def stall(h, _body):  # answers only when the test ends (or after 8 s)
        release.wait(8.0)
        answer(200)(h, _body)

    bus = EmbeddedBus()
    with Server(stall) as slow, Server() as fast:
        sender = WebhookSender(bus, LOOPBACK, threads=2, deadline_s=10.0)
        sender.start()
        try:
            for i in range(5):
                sender.submit(sub(slow.url, "S-SLOW"), alert(f"A{i}"))
            wait_for(lambda: slow.requests, timeout_s=5.0)
            submitted = time.monotonic()
            for i in range(5):
                sender.submit(sub(fast.url, "S-FAST"), alert(f"B{i}"))
            assert wait_for(lambda: len(fast.requests) == 5, timeout_s=5.0), len(fast.requests)
            assert max(fast.arrived) - submitted < 1.0
            assert len(slow.requests) == 1  # the slow one holds one sender, for its own deliveries only
            release.set()  # the slow receiver recovers: its own queue drains, nothing was lost
            assert wait_for(lambda: sender.delivered == 10, timeout_s=10.0) and len(slow.requests) == 5
        finally:
            release.set()
            sender.stop()


def test_a_trickling_receiver_is_retried_then_dead_lettered_with_the_reason():
    bus = EmbeddedBus()
    dead = bus.consumer(topics.DEADLETTER, "test")
    with Server(trickle("body", every_s=0.05, max_s=3.0)) as slow:
        sender = WebhookSender(bus, LOOPBACK, attempts=2, first_backoff_s=0.01, deadline_s=0.5)
        sender.start()
        try:
            sender.submit(sub(slow.url), alert())
            (rec,) = wait_for(lambda: dead.poll(0.1), timeout_s=5.0)
        finally:
            sender.stop()
    assert "after 2 attempt(s): no complete answer within the 0.5 s deadline" in rec.value["reason"]
    assert len(slow.requests) == 2 and json.loads(rec.value["line"])["alert_id"] == "A1"


def test_the_signature_covers_time_delivery_id_and_body_and_survives_retries():
    statuses = iter([503, 200])
    with Server(lambda h, b: answer(next(statuses))(h, b)) as receiver:
        sender = WebhookSender(EmbeddedBus(), LOOPBACK, first_backoff_s=0.01)
        sender.start()
        try:
            sender.submit(sub(receiver.url), alert())
            assert wait_for(lambda: sender.delivered == 1)
        finally:
            sender.stop()
    (first, _), (headers, body) = receiver.requests
    delivery = headers["x-mfc-delivery"]
    assert first["x-mfc-delivery"] == delivery  # a retry is the same delivery: the receiver can drop doubles
    fields = dict(part.split("=", 1) for part in headers["x-mfc-signature"].split(","))
    t = int(fields["t"])
    # computed here with the hmac module, as a receiver in any language would
    expected = hmac.new(SECRET.encode(), f"{t}.{delivery}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(fields["v1"], expected) and abs(time.time() - t) < 60
    sig = headers["x-mfc-signature"]
    assert verify(SECRET, body, sig, delivery_id=delivery)
    assert not verify(SECRET, body, sig, delivery_id=first["x-mfc-delivery"][::-1])  # another delivery's id
    assert not verify(SECRET, body.replace(b"critical", b"low"), sig, delivery_id=delivery)  # edited body
    assert not verify(SECRET, body, sig, delivery_id=delivery, now=t + 3600)  # an old delivery replayed
    assert not verify(SECRET, body, f"t={t + 1},v1={fields['v1']}", delivery_id=delivery)  # moved timestamp


def test_the_receiver_example_in_the_docs_accepts_a_real_delivery_and_refuses_a_forged_one():
    doc = (Path(__file__).parent.parent / "docs" / "webhooks.md").read_text()
    code = doc.split("```python\n", 1)[1].split("```", 1)[0]
    example: dict = {}
    exec(compile(code, "docs/webhooks.md", "exec"), example)  # noqa: S102 - our own documentation
    with Server() as receiver:
        sender = WebhookSender(EmbeddedBus(), LOOPBACK)
        sender.start()
        try:
            sender.submit(sub(receiver.url), alert())
            ((headers, body),) = wait_for(lambda: receiver.requests)
        finally:
            sender.stop()
    genuine = example["genuine"]
    assert genuine(SECRET, headers, body)
    assert not genuine("a-guessed-secret-value", headers, body)
    assert not genuine(SECRET, {**headers, "x-mfc-delivery": "0" * 32}, body)
    assert not genuine(SECRET, headers, body + b" ")
    assert not genuine(SECRET, {"x-mfc-delivery": headers["x-mfc-delivery"]}, body)
