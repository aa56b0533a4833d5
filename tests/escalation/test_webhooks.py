"""Trigger webhooks against real HTTP listeners on loopback: local targets
are refused (literal, numeric, IPv6, by name, behind a redirect) and the
listener receives nothing; allowed ones get a timestamped signature; every
try is recorded on the firing; the task carries no secret; URLs are masked."""

import base64
import hashlib
import hmac
import json
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis
from django.conf import settings as django_settings

from escalation.models import Trigger, TriggerFiring, WebhookDelivery
from escalation.tasks import call_webhook, deliver_webhook
from escalation.webhooks import address_refusal, mask_url
from tests.fixtures import BrokerQueue
from tickets import services
from tickets.deliveries import send_delivery
from tickets.models import OutgoingDelivery
from tickets.tasks import process_events


class Listener:
    """A real HTTP server on loopback that records every request. `statuses`:
    the answers in turn (the last one repeats); `location`: a Location header
    to send; `on_request`: called with each request before it is answered."""

    def __init__(self, host="127.0.0.1", statuses=(204,), location=None, tls=None):
        listener = self
        self.received, self.statuses, self.location, self.on_request = [], list(statuses), location, None

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                listener.received.append((dict(self.headers), body))
                if listener.on_request:
                    listener.on_request()
                status = listener.statuses.pop(0) if len(listener.statuses) > 1 else listener.statuses[0]
                self.send_response(status)
                if listener.location:
                    self.send_header("Location", listener.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_PUT = do_POST

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
            daemon_threads = True

        self.server = Server((host, 0), Handler)
        if tls:  # (certificate file, key file)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _eager_retries():
    """Eager tasks that propagate their exceptions stop at the first retry;
    without propagation Celery runs the retries inline, as a worker would
    run them later (the backoff's wait skipped)."""
    from helpdesk.celery import app

    kept = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = kept


@pytest.fixture
def listen():
    started = []

    def start(**kw):
        started.append(Listener(**kw))
        return started[-1]

    yield start
    for listener in started:
        listener.stop()


@pytest.fixture
def allow_loopback(settings):
    """Loopback allowed as an admin would allow an internal network."""
    def allow(*ports):
        settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
        settings.WEBHOOK_ALLOWED_PORTS = list(ports)
    return allow


def fire(customer, django_capture_on_commit_callbacks, subject="Hook me"):
    """A new ticket, its events processed, the webhook tasks run (eagerly)."""
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.create_ticket(requester=customer, subject=subject, body="b")
        process_events()
    return ticket


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:{v4}/hook",
    "http://0x7f000001:{v4}/hook",
    "http://2130706433:{v4}/hook",
    "http://0177.0.0.1:{v4}/hook",
    "http://127.1:{v4}/hook",
    "http://[::ffff:127.0.0.1]:{v4}/hook",
    "http://[::1]:{v6}/hook",
    "http://localhost:{v4}/hook",
    "http://LOCALHOST.:{v4}/hook",
])
def test_a_webhook_to_loopback_is_refused_and_the_listener_receives_nothing(
        url, settings, listen, customer, django_capture_on_commit_callbacks):
    v4, v6 = listen(), listen(host="::1")
    settings.WEBHOOK_ALLOWED_PORTS = [v4.port, v6.port]  # the port is allowed: the address is what is refused
    url = url.format(v4=v4.port, v6=v6.port)
    # Saved without the form's check, as a trigger saved before it (or while an
    # allow-list that has since been removed let it through).
    trigger = Trigger.objects.create(name="hook", events=["ticket_created"], conditions={},
                                     actions=[{"type": "webhook", "url": url, "secret": "s3cret"},
                                              {"type": "add_tags", "tags": ["after"]}])
    ticket = fire(customer, django_capture_on_commit_callbacks)
    assert v4.received == [] and v6.received == []
    firing = TriggerFiring.objects.get(trigger=trigger, ticket=ticket)
    [delivery] = firing.deliveries.all()
    assert delivery.outcome == WebhookDelivery.Outcome.FAILED and delivery.attempt == 1
    assert delivery.status_code is None and "refused" in delivery.error and "loopback" in delivery.error
    assert any(e.startswith("webhook (action 1): refused") for e in firing.errors)
    assert ticket.tags.filter(name="after").exists()  # the other actions are not held up


def test_a_redirect_is_not_followed(allow_loopback, listen, customer, make_trigger,
                                    django_capture_on_commit_callbacks):
    """The allowed host answers 307 to a target that is not allowed (another
    port): the target receives nothing and the 307 is a recorded failure."""
    target = listen()
    redirector = listen(statuses=(307,), location=f"http://127.0.0.1:{target.port}/hook")
    allow_loopback(redirector.port)
    trigger = make_trigger(actions=[{"type": "webhook", "url": f"http://127.0.0.1:{redirector.port}/hook"}])
    fire(customer, django_capture_on_commit_callbacks)
    assert len(redirector.received) == 1 and target.received == []
    [delivery] = WebhookDelivery.objects.filter(firing__trigger=trigger)
    assert delivery.status_code == 307 and delivery.outcome == "failed" and "redirect" in delivery.error


def test_an_allowed_delivery_is_signed_with_a_timestamp_and_recorded(
        allow_loopback, listen, customer, make_trigger, admin_user, api, client, django_capture_on_commit_callbacks):
    hook = listen()
    allow_loopback(hook.port)
    trigger = make_trigger(actions=[{"type": "webhook", "url": f"http://127.0.0.1:{hook.port}/hook",
                                     "secret": "s3cret"}])
    ticket = fire(customer, django_capture_on_commit_callbacks)
    [(headers, body)] = hook.received
    assert headers["Host"] == f"127.0.0.1:{hook.port}"
    timestamp = headers["X-Helpdesk-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    expected = hmac.new(b"s3cret", timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["X-Helpdesk-Signature"] == f"t={timestamp},v1={expected}"
    assert json.loads(body)["ticket"]["number"] == ticket.number
    [delivery] = WebhookDelivery.objects.filter(firing__trigger=trigger)
    assert (delivery.status_code, delivery.outcome, delivery.attempt, delivery.error) == (204, "delivered", 1, "")
    assert delivery.duration_ms is not None
    # Shown on the firing: the API's firings endpoint and the admin's firing page.
    [row] = api.as_user(admin_user).get(f"/api/v1/triggers/{trigger.pk}/firings/").json()["results"]
    assert [(d["status_code"], d["outcome"], d["attempt"]) for d in row["deliveries"]] == [(204, "delivered", 1)]
    assert row["deliveries"][0]["duration_ms"] == delivery.duration_ms
    client.force_login(admin_user)
    html = client.get(f"/admin/escalation/triggerfiring/{delivery.firing_id}/change/").content.decode()
    assert "Webhook deliveries" in html and ">204<" in html and "delivered" in html


def _certificate(directory, name):
    """A self-signed certificate for `name`: (certificate file, key file)."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"],
                   check=True, capture_output=True, timeout=30)
    return str(cert), str(key)


def test_https_connects_to_the_checked_address_and_verifies_the_name(
        settings, listen, tmp_path, customer, make_trigger, django_capture_on_commit_callbacks):
    """An allowed host name: resolved once, the connection made to the
    address checked, the name sent as Host and SNI and the certificate
    verified for it (WEBHOOK_CA_BUNDLE trusts the test's own certificate)."""
    right, wrong = _certificate(tmp_path, "localhost"), _certificate(tmp_path, "other.test")
    hook, impostor = listen(tls=right), listen(tls=wrong)
    settings.WEBHOOK_ALLOWED_HOSTS = ["localhost"]
    settings.WEBHOOK_ALLOWED_PORTS = [hook.port, impostor.port]
    settings.WEBHOOK_CA_BUNDLE = str(tmp_path / "bundle.pem")
    (tmp_path / "bundle.pem").write_text(open(right[0]).read() + open(wrong[0]).read())
    trigger = make_trigger(actions=[{"type": "webhook", "url": f"https://localhost:{hook.port}/hook"},
                                    {"type": "webhook", "url": f"https://localhost:{impostor.port}/hook"}])
    fire(customer, django_capture_on_commit_callbacks)
    [(headers, _body)] = hook.received
    assert headers["Host"] == f"localhost:{hook.port}"
    assert impostor.received == []  # its certificate is trusted, but not for this name
    deliveries = {d.action_index: d for d in WebhookDelivery.objects.filter(firing__trigger=trigger, attempt=1)}
    assert deliveries[0].status_code == 204 and deliveries[0].outcome == "delivered"
    assert deliveries[1].status_code is None and "TLS error" in deliveries[1].error


def test_each_retry_is_checked_again_and_recorded(settings, allow_loopback, listen, customer, make_trigger,
                                                  django_capture_on_commit_callbacks):
    """The first try gets a 503; before the retry the target stops being
    allowed (as when a name starts resolving to a private address): the retry
    is refused, sends nothing, and both tries stay on the firing."""
    hook = listen(statuses=(503, 204))
    allow_loopback(hook.port)
    trigger = make_trigger(actions=[{"type": "webhook", "url": f"http://127.0.0.1:{hook.port}/hook"}])

    def disallow():
        django_settings.WEBHOOK_ALLOWED_NETWORKS = []

    hook.on_request = disallow
    fire(customer, django_capture_on_commit_callbacks)
    assert len(hook.received) == 1
    tries = list(WebhookDelivery.objects.filter(firing__trigger=trigger).values_list(
        "attempt", "status_code", "outcome"))
    assert tries == [(1, 503, "retrying"), (2, None, "failed")]
    assert "refused" in WebhookDelivery.objects.get(attempt=2).error


def test_a_failing_endpoint_is_retried_until_it_answers(allow_loopback, listen, customer, make_trigger,
                                                        django_capture_on_commit_callbacks):
    hook = listen(statuses=(503, 429, 204))
    allow_loopback(hook.port)
    trigger = make_trigger(actions=[{"type": "webhook", "url": f"http://127.0.0.1:{hook.port}/hook"}])
    fire(customer, django_capture_on_commit_callbacks)
    assert len(hook.received) == 3
    assert list(WebhookDelivery.objects.filter(firing__trigger=trigger).values_list(
        "attempt", "status_code", "outcome")) == [(1, 503, "retrying"), (2, 429, "retrying"), (3, 204, "delivered")]
    assert deliver_webhook.retry_backoff == 2 and deliver_webhook.max_retries == 6


def test_the_task_carries_the_trigger_not_the_secret(allow_loopback, listen, customer, make_trigger, broker_queue,
                                                     django_capture_on_commit_callbacks):
    """The message in the broker names the trigger, the action and the
    firing; the worker reads the URL and the secret from the trigger."""
    hook = listen()
    allow_loopback(hook.port)
    url = f"http://hookuser:pa55word@127.0.0.1:{hook.port}/hook?token=abc123"
    trigger = make_trigger(actions=[{"type": "add_tags", "tags": ["x"]},
                                    {"type": "webhook", "url": url, "secret": "s3cret"}])
    outgoing = BrokerQueue(redis.Redis.from_url(django_settings.REDIS_URL), django_settings.HELPDESK_OUTGOING_QUEUE)
    outgoing.broker.delete(outgoing.name)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ticket = services.create_ticket(requester=customer, subject="s", body="b")
        with django_capture_on_commit_callbacks(execute=True):
            broker_queue.run_next()
        [raw] = outgoing.broker.lrange(outgoing.name, 0, -1)
        for secret in (b"s3cret", b"pa55word", b"abc123", b"hookuser"):
            assert secret not in raw and secret not in base64.b64decode(json.loads(raw)["body"])
        name, args, kwargs = outgoing.take()
    finally:
        outgoing.broker.delete(outgoing.name)
    firing = TriggerFiring.objects.get(trigger=trigger, ticket=ticket)
    assert name == "tickets.deliveries.send_delivery" and kwargs == {}
    row = OutgoingDelivery.objects.get(pk=args[0])  # the outgoing delivery, written with the firing
    p = row.payload
    assert [p["trigger_id"], p["action_index"], p["ticket_id"], p["chain"]] == [trigger.pk, 1, ticket.pk, firing.chain]
    assert p["body"]["ticket"]["number"] == ticket.number
    for secret in ("s3cret", "pa55word", "abc123", "hookuser"):
        assert secret not in json.dumps(p)
    send_delivery.apply(args=args)  # as the worker runs it
    [(headers, body)] = hook.received
    timestamp = headers["X-Helpdesk-Timestamp"]
    assert headers["X-Helpdesk-Signature"].endswith(
        hmac.new(b"s3cret", timestamp.encode() + b"." + body, hashlib.sha256).hexdigest())
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"hookuser:pa55word").decode()
    assert firing.deliveries.get().outcome == "delivered"


def test_credentials_in_the_url_are_masked_in_firings_logs_admin_and_api(
        allow_loopback, listen, customer, make_trigger, admin_user, api, client, caplog,
        django_capture_on_commit_callbacks):
    hook = listen(statuses=(500, 204))
    allow_loopback(hook.port)
    url = f"http://hookuser:pa55word@127.0.0.1:{hook.port}/hook?token=abc123&team=7"
    trigger = make_trigger(actions=[{"type": "webhook", "url": url, "secret": "s3cret"}])
    caplog.set_level("INFO")
    fire(customer, django_capture_on_commit_callbacks)
    assert len(hook.received) == 2  # delivered with the credentials, on the second try
    masked = f"http://***@127.0.0.1:{hook.port}/hook?token=***&team=7"
    firing = TriggerFiring.objects.get(trigger=trigger)
    assert firing.actions_done == [f"webhook → {masked}"]
    assert {d.url for d in firing.deliveries.all()} == {masked}
    shown = [caplog.text, api.as_user(admin_user).get(f"/api/v1/triggers/{trigger.pk}/firings/").content.decode()]
    client.force_login(admin_user)
    shown.append(client.get(f"/admin/escalation/triggerfiring/{firing.pk}/change/").content.decode())
    shown.append(client.get("/admin/escalation/triggerfiring/").content.decode())
    assert f"webhook {masked} (try 1): HTTP 500" in caplog.text
    for text in shown:
        assert "pa55word" not in text and "abc123" not in text and "hookuser" not in text
        assert masked in text or masked.replace("&", "&amp;") in text


def test_mask_url():
    assert mask_url("https://u:p@hooks.example.com/x?api_key=1&access_token=2&a=3#f") == \
        "https://***@hooks.example.com/x?api_key=***&access_token=***&a=3#f"
    assert mask_url("https://TOKEN@hooks.example.com/") == "https://***@hooks.example.com/"
    assert mask_url("https://hooks.example.com/x") == "https://hooks.example.com/x"


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/hook", "http://0x7f000001/hook", "http://2130706433/", "http://[::1]/hook",
    "http://localhost/hook", "http://10.1.2.3/", "http://192.168.0.1/", "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://[::ffff:10.0.0.1]/",
    "http://0.0.0.0/", "https://hooks.example.com:22/",
])
def test_a_local_address_or_port_is_refused_when_the_trigger_is_saved(api, client, admin_user, url):
    response = api.as_user(admin_user).post("/api/v1/triggers/", {
        "name": "hook", "events": ["ticket_created"], "actions": [{"type": "webhook", "url": url}]}, format="json")
    assert response.status_code == 400
    [message] = response.json()["actions"]
    assert "action 1:" in message and ("WEBHOOK_ALLOWED" in message or "port 22 is not allowed" in message)
    client.force_login(admin_user)
    response = client.post("/admin/escalation/trigger/add/", {
        "name": "hook", "position": 0, "events": ["ticket_created"], "active": "on", "conditions": "{}",
        "actions": json.dumps([{"type": "webhook", "url": url}])})
    assert response.status_code == 200 and "action 1:" in response.content.decode()
    assert not Trigger.objects.exists()


def test_a_host_name_is_saved_and_checked_at_delivery(api, admin_user, settings):
    """Saving does not resolve names (the answer may change by delivery time)."""
    response = api.as_user(admin_user).post("/api/v1/triggers/", {
        "name": "hook", "events": ["ticket_created"],
        "actions": [{"type": "webhook", "url": "https://hooks.example.com/x"}]}, format="json")
    assert response.status_code == 201
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    response = api.as_user(admin_user).post("/api/v1/triggers/", {
        "name": "hook", "events": ["ticket_created"],
        "actions": [{"type": "webhook", "url": "http://127.0.0.1:8080/x"}]}, format="json")
    assert response.status_code == 201  # allowed by the admin


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "100.64.0.1", "169.254.1.1", "224.0.0.1", "0.0.0.0",
    "240.0.0.1", "255.255.255.255", "::", "::1", "fc00::1", "fe80::1", "fec0::1", "ff02::1", "::ffff:10.0.0.1",
    "64:ff9b::a00:1", "2002:a00:1::1", "169.254.169.254", "fd00:ec2::254",
])
def test_local_private_and_reserved_addresses_are_refused(settings, address):
    assert address_refusal(address)


def test_public_addresses_pass_and_metadata_needs_its_own_entry(settings):
    assert address_refusal("93.184.215.14") is None and address_refusal("2606:4700::1") is None
    settings.WEBHOOK_ALLOWED_NETWORKS = ["169.254.0.0/16", "10.0.0.0/8"]
    assert address_refusal("169.254.1.1") is None and address_refusal("10.2.3.4") is None
    assert address_refusal("::ffff:10.2.3.4") is None
    assert "metadata" in address_refusal("169.254.169.254")  # a wide allowed network does not open it
    settings.WEBHOOK_ALLOWED_NETWORKS = ["169.254.169.254/32"]
    assert address_refusal("169.254.169.254") is None


def test_a_task_queued_in_the_old_format_is_checked_and_signed(settings, listen, caplog):
    """Tasks queued before the upgrade carry (url, secret, payload): a local
    target is refused (logged, not retried, no crash); an allowed one is
    delivered with the new signature."""
    hook = listen()
    settings.WEBHOOK_ALLOWED_PORTS = [hook.port]
    url = f"http://127.0.0.1:{hook.port}/hook"
    assert call_webhook.apply(args=(url, "k", {"x": 1})).result == "failed"
    assert hook.received == [] and "not delivered" in caplog.text and "refused" in caplog.text
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    assert call_webhook.apply(args=(url, "k", {"x": 1})).result == "delivered"
    [(headers, body)] = hook.received
    assert headers["X-Helpdesk-Signature"].endswith(
        hmac.new(b"k", headers["X-Helpdesk-Timestamp"].encode() + b"." + body, hashlib.sha256).hexdigest())


def test_a_webhook_removed_from_its_trigger_is_dropped_and_recorded(allow_loopback, listen, customer, make_trigger,
                                                                    django_capture_on_commit_callbacks):
    hook = listen()
    allow_loopback(hook.port)
    trigger = make_trigger(actions=[{"type": "webhook", "url": f"http://127.0.0.1:{hook.port}/hook"}])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        ticket = services.create_ticket(requester=customer, subject="s", body="b")
        process_events()
    Trigger.objects.filter(pk=trigger.pk).update(actions=[{"type": "add_tags", "tags": ["x"]}])
    for callback in queued:
        callback()
    assert hook.received == []
    delivery = WebhookDelivery.objects.get(firing__ticket=ticket)
    assert delivery.outcome == "failed" and "no longer has this webhook" in delivery.error


def test_allowed_host_names_match_exactly_or_by_domain(settings):
    from escalation.webhooks import _host_allowed

    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.internal", ".corp.example"]
    assert _host_allowed("hooks.internal") and _host_allowed("HOOKS.internal.")
    assert _host_allowed("corp.example") and _host_allowed("a.b.corp.example")
    assert not _host_allowed("evilhooks.internal") and not _host_allowed("evilcorp.example")


def test_the_firings_endpoint_reads_deliveries_in_constant_queries(
        allow_loopback, listen, customer, make_trigger, admin_user, api, django_assert_max_num_queries,
        django_capture_on_commit_callbacks):
    hook = listen(statuses=(503, 204))
    allow_loopback(hook.port)
    trigger = make_trigger(actions=[{"type": "webhook", "url": f"http://127.0.0.1:{hook.port}/a"},
                                    {"type": "webhook", "url": f"http://127.0.0.1:{hook.port}/b"}])
    client = api.as_user(admin_user)
    url = f"/api/v1/triggers/{trigger.pk}/firings/"
    fire(customer, django_capture_on_commit_callbacks)
    client.get(url)  # the token's first use
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        assert len(client.get(url).json()["results"][0]["deliveries"]) == 3  # 503 then 204, and 204
    for i in range(4):
        fire(customer, django_capture_on_commit_callbacks, subject=f"more {i}")
    with django_assert_max_num_queries(len(one)):
        rows = client.get(url).json()["results"]
    assert len(rows) == 5 and all(len(r["deliveries"]) == 2 for r in rows[:4])
