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


def _compose_production_env() -> dict[str, str]:
    """The web service's environment in docker-compose.yml, `${VAR:-default}`
    resolved to its default, with the values a deployer must supply."""
    import re
    import secrets

    import yaml

    web = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]["environment"]
    supplied = {"SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "support.example.com"}

    def resolve(value):
        match = re.fullmatch(r"\$\{(\w+)(?::-(.*)|:\?.*)\}", str(value))
        if not match:
            return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: supplied.get(m.group(1), m.group(2)), str(value))
        return supplied.get(match.group(1), match.group(2) if match.group(2) is not None else "")

    return {name: resolve(value) for name, value in web.items()}


def _run_django(code_or_args, environment, check=False):
    import os
    import subprocess
    import sys

    base = {k: v for k, v in os.environ.items()
            if k not in ("SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
            and not k.startswith("SECURE_")}  # the browser tests set DJANGO_ALLOW_ASYNC_UNSAFE; production does not
    base.update(DJANGO_SETTINGS_MODULE="helpdesk.settings", **environment)
    args = [sys.executable, "-c", code_or_args] if isinstance(code_or_args, str) else [sys.executable, *code_or_args]
    return subprocess.run(args, env=base, cwd=ROOT, capture_output=True, text=True, timeout=120, check=check)


def test_check_deploy_is_clean_with_the_production_settings():
    """`manage.py check --deploy` with docker-compose.yml's environment (what
    the README documents for production): no warning at all."""
    env = _compose_production_env()
    assert env["SECURE_SSL_REDIRECT"] == "true" and env["SECURE_HSTS_SECONDS"] == "31536000"
    result = _run_django(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_security_settings_come_from_the_environment():
    probe = ("import django; django.setup(); from django.conf import settings as s; "
             "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
             "s.SECURE_HSTS_PRELOAD, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.HELPDESK_API_DOCS_PUBLIC)")
    key = {"SECRET_KEY": "x" * 60}
    on = _run_django(probe, {**key, "SECURE_SSL_REDIRECT": "true", "SECURE_HSTS_SECONDS": "600",
                             "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true", "SECURE_HSTS_PRELOAD": "true",
                             "SECURE_COOKIES": "true", "API_DOCS_PUBLIC": "true"}, check=True)
    assert on.stdout.split() == ["True", "600", "True", "True", "True", "True", "True"]
    off = _run_django(probe, key, check=True)
    assert off.stdout.split() == ["False", "0", "False", "False", "False", "False", "False"]


def test_production_refuses_to_start_with_the_demo_key_or_none():
    """With DEBUG off, a missing SECRET_KEY or the public demo key stops the
    process (ImproperlyConfigured) instead of signing sessions with a known key."""
    from helpdesk.settings import DEMO_SECRET_KEY

    for environment in ({"DEBUG": "false"}, {"DEBUG": "false", "SECRET_KEY": DEMO_SECRET_KEY}, {"SECRET_KEY": ""}):
        result = _run_django(["manage.py", "check"], environment)
        assert result.returncode != 0, environment
        assert "ImproperlyConfigured: SECRET_KEY is unset or the built-in demo key while DEBUG is off" in result.stderr
    # Development (DEBUG on) keeps the zero-setup default; a real key works with DEBUG off.
    assert _run_django(["manage.py", "check"], {"DEBUG": "true"}).returncode == 0
    assert _run_django(["manage.py", "check"], {"SECRET_KEY": "k" * 60}).returncode == 0


def test_make_run_serves_the_demo_with_a_generated_key():
    """`make run` (DEBUG off) passes a random key it keeps in var/secret_key
    (ignored by git), never the demo key: the dry run shows both steps."""
    import subprocess

    plan = subprocess.run(["make", "-n", "-B", "run"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    assert "token_urlsafe(50)" in plan and "> var/secret_key" in plan
    assert 'SECRET_KEY="$(cat var/secret_key)"' in plan
    assert "manage.py collectstatic" in plan
    assert "var/" in (ROOT / ".gitignore").read_text().split()


def test_make_run_on_another_port_mails_links_to_that_port():
    """The links in the demo's mails (sign-up, password reset) follow PORT;
    an exported BASE_URL still wins."""
    import os
    import subprocess

    plan = subprocess.run(["make", "-n", "-B", "run", "PORT=8123"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60).stdout
    serve = next(line for line in plan.splitlines() if "run-demo.sh" in line)
    show = serve.split(" sh scripts/run-demo.sh")[0] + ' sh -c \'echo "$BASE_URL"\''
    for exported, expected in (({}, "http://127.0.0.1:8123"), ({"BASE_URL": "https://help.example"}, "https://help.example")):
        env = {k: v for k, v in os.environ.items() if k != "BASE_URL"} | exported
        out = subprocess.run(["sh", "-c", show.replace("$(cat var/secret_key)", "x")], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=30).stdout
        assert out.strip() == expected
