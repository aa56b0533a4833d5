"""Ticket creation over HTTP while Redis (broker and cache) is down.

    .venv/bin/python benchmarks/bench_outage.py --seconds 10 --clients 4

gunicorn as bench_http.py starts it (2 sync workers) on the benchmark database
(benchmarks/seed.py), against a redis-server of its own on a free port (the
machine's Redis is never touched): tickets are created for `--seconds` with
Redis up, then for as long with that redis-server killed. No Celery worker
runs: the events stay pending (the sweep's job), which is what a change costs
the web side. Prints one JSON line per phase.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_http  # noqa: E402


def start_redis(port):
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"], stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    return process


def create_for(clients, seconds, label):
    latencies, lock, errors = [], threading.Lock(), []
    stop_at = time.perf_counter() + seconds

    def run(client, i):
        mine, n = [], 0
        while time.perf_counter() < stop_at:
            body = json.dumps({"subject": f"Outage ticket {i}-{n}", "body": "The printer is on fire."})
            t = time.perf_counter()
            status, data = client.request("POST", "/api/v1/tickets/", body, {"Content-Type": "application/json"})
            mine.append(time.perf_counter() - t)
            if status != 201:
                errors.append((status, data[:200]))
            n += 1
        with lock:
            latencies.extend(mine)

    start = time.perf_counter()
    threads = [threading.Thread(target=run, args=(c, i)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    row = bench_http.summarize(f"API POST /api/v1/tickets/ [{label}, {len(clients)} clients, {seconds}s]",
                               latencies, time.perf_counter() - start)
    row["errors"] = len(errors)
    print(json.dumps(row, ensure_ascii=False), flush=True)
    if errors:
        print("first error:", errors[0], file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", bench_http.DEFAULT_DB))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    port = bench_http.free_port()
    redis = start_redis(port)
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    server = bench_http.Server(args.database_url)
    try:
        clients = []
        for _ in range(args.clients):
            c = bench_http.Client(server.port)
            c.login_token("customer101@org102.example", "bench-password")
            clients.append(c)
        create_for(clients, args.seconds, "Redis up")
        redis.kill()
        redis.wait(timeout=10)
        create_for(clients, args.seconds, "Redis down")
    finally:
        server.stop()
        if redis.poll() is None:
            redis.kill()


if __name__ == "__main__":
    main()
