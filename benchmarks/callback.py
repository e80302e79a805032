"""Callback endpoint throughput and latency: Kefu vs a bare decrypting endpoint, side by side.

    .venv/bin/python benchmarks/callback.py [--seconds 10] [--connections 200] [--rounds 3]

Load comes from `wrk` (Debian package) at 200 concurrent connections, sending one
kf_msg_or_event callback as many distinct signed requests (each its own nonce, a fresh
timestamp): Kefu records a signed request once and answers a repeat as a replay without
storing it, so sending one request over and over would measure only the replay path.
Kefu runs `kefu serve` on SQLite with its in-process worker on and pulling from the built-in
simulator, while simulated customers keep writing; the bare endpoint (benchmarks/bare_endpoint.py)
only parses, verifies and decrypts. Rounds alternate between the two; medians are reported,
with wrk's CPU share. Afterwards every customer message must be stored exactly once.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kefu_procs import free_port, wait_http

from kefu.clock import Clock
from kefu.simulator import SimulatorServer
from kefu.wecom.crypto import CallbackCrypto

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def signed_requests(crypto: CallbackCrypto, open_kfid: str, count: int) -> tuple[list[str], str]:
    """`count` query strings signing one body, each with its own nonce (a new set per call, so
    no run repeats another's) and the current time, within Kefu's timestamp window."""
    inner = (
        f"<xml><ToUserName><![CDATA[{crypto.receive_id}]]></ToUserName><CreateTime>1700000000</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
        f"<Token><![CDATA[ENCbenchmarktoken]]></Token><OpenKfId><![CDATA[{open_kfid}]]></OpenKfId></xml>"
    )
    encrypted = crypto.encrypt(inner)
    timestamp, prefix = str(int(time.time())), secrets.token_hex(6)
    queries = []
    for n in range(count):
        nonce = f"{prefix}{n}"
        signature = crypto.sign(timestamp, nonce, encrypted)
        queries.append(f"msg_signature={signature}&timestamp={timestamp}&nonce={nonce}")
    body = (
        f"<xml><ToUserName><![CDATA[{crypto.receive_id}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    )
    return queries, body


WRK_THREADS = 2
# wrk's threads take turns through the signed queries (read from a file: too many for a Lua
# table literal); past the end they wrap around, and Kefu answers those as replays.
QUERIES_LUA = """
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
function init(args)
  queries = {}
  for line in io.lines(%(file)s) do queries[#queries + 1] = line end
  i = id
end
function request()
  local query = queries[(i %% #queries) + 1]
  i = i + %(threads)d
  return wrk.format(nil, %(path)s .. "?" .. query)
end
"""


def wrk(
    url: str,
    body: str,
    *,
    seconds: int,
    connections: int,
    workdir: Path,
    queries: list[str],
    rate: int | None = None,
) -> dict[str, float]:
    """Closed loop (as fast as answers come) or, with `rate`, paced: each connection waits a
    random 0..2·connections/rate seconds between requests (random, so the connections do not
    fire in synchronised bursts), so latency is measured at a fixed mean offered load."""
    script, query_file = workdir / "post.lua", workdir / "queries.txt"
    query_file.write_text("\n".join(queries) + "\n")
    mean_ms = connections * 1000 // rate if rate else 0
    pacing = f"function delay() return math.random(0, {2 * mean_ms}) end\n" if rate else ""
    path = "/" + url.split("/", 3)[3]
    script.write_text(
        'wrk.method = "POST"\nwrk.body = '
        + json.dumps(body)
        + '\nwrk.headers["Content-Type"] = "text/xml"\n'
        + pacing
        + QUERIES_LUA
        % {"file": json.dumps(str(query_file)), "path": json.dumps(path), "threads": WRK_THREADS}
    )
    started = time.monotonic()
    proc = subprocess.Popen(
        ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = proc.communicate()
    wall = time.monotonic() - started
    return parse_wrk(out) | {"wall_s": wall}


def parse_wrk(out: str) -> dict[str, float]:
    def ms(value: str) -> float:
        number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
        return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]

    result: dict[str, float] = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "99"):
        result[f"p{pct}_ms"] = ms(re.search(rf"\s{pct}(?:\.000)?%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non_2xx"] = float(errors.group(1)) if errors else 0.0
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["socket_errors"] = float(sum(int(x) for x in socket_errors.groups())) if socket_errors else 0.0
    return result


def cpu_seconds_of_children() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--paced-rate", type=int, default=500, help="offered req/s for the latency rounds")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="kefu-bench-"))
    database_url = f"sqlite:///{workdir / 'kefu.db'}"
    clock = Clock()
    with SimulatorServer(clock=clock, callback_timeout_s=5.0) as sim:
        corp = sim.control("POST", "corps", {"name": "bench"})
        open_kfid = sim.control("POST", f"corps/{corp['corpid']}/accounts", {"name": "压测"})["open_kfid"]
        env = {
            **os.environ,
            "KEFU_ENV": "development",
            "KEFU_DATABASE_URL": database_url,
            "KEFU_SECRET_KEY": "benchmark-secret-key",
            "KEFU_WECOM_API_BASE": sim.url,
            "KEFU_LOG_LEVEL": "WARNING",
        }
        subprocess.run([BIN / "kefu", "db", "upgrade"], env=env, check=True, capture_output=True)
        added = subprocess.run(
            [
                BIN / "kefu",
                "connections",
                "add",
                "--name",
                "bench",
                "--corp-id",
                corp["corpid"],
                "--secret",
                corp["secret"],
                "--token",
                corp["callback_token"],
                "--aes-key",
                corp["encoding_aes_key"],
                "--json",
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        connection_id = json.loads(added.stdout)["connection"]["id"]
        kefu_port, bare_port = free_port(), free_port()
        kefu = subprocess.Popen([BIN / "kefu", "serve", "--port", str(kefu_port)], env=env)
        bare = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "bare_endpoint.py"),
                str(bare_port),
                corp["callback_token"],
                corp["encoding_aes_key"],
                corp["corpid"],
            ],
            env=env,
        )
        try:
            wait_http(f"http://127.0.0.1:{kefu_port}/healthz")
            wait_http(f"http://127.0.0.1:{bare_port}/")
            sim.control(
                "PUT",
                f"corps/{corp['corpid']}/callback",
                {"url": f"http://127.0.0.1:{kefu_port}/wecom/callback/{connection_id}", "verify": True},
            )
            crypto = CallbackCrypto(corp["callback_token"], corp["encoding_aes_key"], corp["corpid"])
            customers = [
                sim.control("POST", f"corps/{corp['corpid']}/customers", {})["external_userid"]
                for _ in range(20)
            ]
            sent: list[str] = []
            stop = threading.Event()

            def customers_write() -> None:  # real traffic for the worker to pull while under load
                i = 0
                while not stop.is_set():
                    item = sim.control(
                        "POST",
                        f"customers/{customers[i % 20]}/messages",
                        {"open_kfid": open_kfid, "msgtype": "text", "text": {"content": f"消息{i}"}},
                    )
                    sent.append(item["item"]["msgid"])
                    i += 1
                    time.sleep(0.05)

            results: dict[str, list[dict[str, float]]] = {
                "bare": [],
                "kefu": [],
                "bare@rate": [],
                "kefu@rate": [],
            }
            plan = [
                ("bare", bare_port, None),
                ("kefu", kefu_port, None),
                ("bare@rate", bare_port, args.paced_rate),
                ("kefu@rate", kefu_port, args.paced_rate),
            ]
            for _ in range(args.rounds):
                for name, port, rate in plan:
                    # a fresh set per run, more than even a closed loop sends
                    queries, body = signed_requests(crypto, open_kfid, max(50_000, args.seconds * 10_000))
                    writer = threading.Thread(target=customers_write) if name.startswith("kefu") else None
                    if writer:
                        stop.clear()
                        writer.start()
                    before = cpu_seconds_of_children()
                    run = wrk(
                        f"http://127.0.0.1:{port}/wecom/callback/{connection_id}",
                        body,
                        seconds=args.seconds,
                        connections=args.connections,
                        workdir=workdir,
                        queries=queries,
                        rate=rate,
                    )
                    run["wrk_cpu_share"] = (cpu_seconds_of_children() - before) / (
                        run["wall_s"] * (os.cpu_count() or 1)
                    )
                    if writer:
                        stop.set()
                        writer.join()
                    results[name].append(run)
            stored = wait_stored(database_url, len(sent))
        finally:
            for proc in (kefu, bare):
                proc.terminate()
                proc.wait(timeout=30)
    report(results, sent=len(sent), stored=stored, args=args)


def wait_stored(database_url: str, expected: int, timeout_s: float = 60) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    deadline = time.monotonic() + timeout_s
    while True:
        with engine.connect() as conn:
            # Pulled items only: Kefu also stores its own replies (origin 0) in this table.
            total = conn.execute(
                text("SELECT count(*), count(DISTINCT msgid) FROM messages WHERE origin <> 0")
            ).one()
            replies = conn.execute(text("SELECT count(*) FROM messages WHERE origin = 0")).scalar_one()
        if total[0] >= expected or time.monotonic() > deadline:
            engine.dispose()
            return {"rows": int(total[0]), "distinct_msgids": int(total[1]), "replies": int(replies)}
        time.sleep(0.5)


def report(results: dict[str, list[dict[str, float]]], *, sent: int, stored: dict[str, int], args) -> None:  # type: ignore[no-untyped-def]
    def median(name: str, key: str) -> float:
        return statistics.median(run[key] for run in results[name])

    rows = []
    for name in ("bare", "kefu", "bare@rate", "kefu@rate"):
        rows.append(
            {
                "endpoint": name,
                "rps": median(name, "rps"),
                "p50_ms": median(name, "p50_ms"),
                "p99_ms": median(name, "p99_ms"),
                "non_2xx": sum(r["non_2xx"] for r in results[name]),
                "socket_errors": sum(r["socket_errors"] for r in results[name]),
                "wrk_cpu_share": median(name, "wrk_cpu_share"),
            }
        )
    ratio = rows[1]["rps"] / rows[0]["rps"]
    print(
        f"\ncallback benchmark: {args.rounds} alternating rounds of {args.seconds}s, "
        f"{args.connections} connections,"
        f" medians; {os.cpu_count()} cores"
    )
    print(
        f"{'endpoint':<10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'non-2xx':>8} {'sock err':>8} {'wrk CPU':>8}"
    )
    for row in rows:
        print(
            f"{row['endpoint']:<10} {row['rps']:>9.0f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
            f"{row['non_2xx']:>8.0f} {row['socket_errors']:>8.0f} {row['wrk_cpu_share']:>7.0%}"
        )
    print(
        f"kefu / bare throughput: {ratio:.2f} (target ≥ 0.5); at {args.paced_rate} req/s offered over "
        f"{args.connections} connections: kefu p99 {rows[3]['p99_ms']:.1f} ms, "
        f"bare p99 {rows[2]['p99_ms']:.1f} ms"
        " (target < 50)"
    )
    print(
        f"customer messages sent during the Kefu rounds: {sent}; stored rows: {stored['rows']}, "
        f"distinct msgids: {stored['distinct_msgids']}; answered by Kefu so far: {stored['replies']}"
    )
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / f"callback-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(
        json.dumps({"rows": rows, "ratio": ratio, "sent": sent, "stored": stored, "raw": results}, indent=2)
    )


if __name__ == "__main__":
    main()
