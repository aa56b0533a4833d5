"""The production shape (docker-compose.yml) and the demo (scripts/run-demo.sh)
keep in step with the code: every queue a task is routed to has a worker."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _routed_suffixes(settings):
    default = settings.CELERY_TASK_DEFAULT_QUEUE
    queues = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert all(q.startswith(default) for q in queues), queues  # derived from CELERY_QUEUE
    return {q[len(default):] for q in queues}


def test_every_routed_queue_has_a_worker_in_compose_and_in_the_demo(settings):
    compose = (ROOT / "docker-compose.yml").read_text()
    demo = (ROOT / "scripts" / "run-demo.sh").read_text()
    suffixes = _routed_suffixes(settings)
    assert suffixes == {"-outgoing"}
    for suffix in suffixes:
        assert f"-Q $${{CELERY_QUEUE:-celery}}{suffix} " in compose, suffix
        assert f'-Q "${{CELERY_QUEUE:-celery}}{suffix}"' in demo, suffix
    # The event worker takes the default queue, not the outgoing one.
    assert "-Q $${CELERY_QUEUE:-celery} " in compose


def test_only_the_event_worker_drops_kombus_ack_emulation():
    """The event worker's lost tasks are recovered by the sweep (their events
    stay pending); mail and webhooks have no such net, so the outgoing worker
    keeps kombu's unacknowledged-message store (the default)."""
    import yaml

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert services["worker"]["environment"]["BROKER_ACK_EMULATION"] == "0"
    assert "-Q $${CELERY_QUEUE:-celery} " in " ".join(services["worker"]["command"])
    for name, service in services.items():
        if name != "worker":
            assert "BROKER_ACK_EMULATION" not in (service.get("environment") or {}), name


def test_the_event_workers_setting_reaches_kombu(settings):
    """BROKER_ACK_EMULATION=0 (the event worker's environment in compose)
    turns kombu's ack emulation off in the Celery app; unset, it stays on."""
    import os
    import subprocess
    import sys

    def options(**env):
        probe = ("import django; django.setup(); from helpdesk.celery import app; "
                 "print(app.conf.broker_transport_options.get('ack_emulation'))")
        environment = {k: v for k, v in os.environ.items() if k != "BROKER_ACK_EMULATION"}
        environment.update(DJANGO_SETTINGS_MODULE="helpdesk.settings", REDIS_URL=settings.REDIS_URL, **env)
        return subprocess.run([sys.executable, "-c", probe], env=environment, cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.split()[-1]

    assert options(BROKER_ACK_EMULATION="0") == "False"
    assert options() == "True"
