"""Benchmark 5: rows/s of ``%%agent --over`` against an OpenAI-compatible HTTP server with 100 ms of latency.

Three processes: this one (the parent), a server (``python bench/batch_throughput.py serve``) and a worker
(``python bench/batch_throughput.py worker URL``), so that the server's threads do not take the worker's GIL.

- The server is a ``ThreadingHTTPServer`` on 127.0.0.1 (HTTP/1.1 keep-alive, one thread per connection). Every
  ``POST .../chat/completions`` sleeps ``LATENCY`` seconds, then answers a valid chat completion whose content is the
  JSON object the signature asks for, with the sentiment the review's wording calls for.
- The worker creates an IPython ``InteractiveShell``, runs ``%load_ext kaizen_lab`` and points litellm's ``openai``
  provider at the server through the environment (``OPENAI_BASE_URL``, ``OPENAI_API_BASE``, ``OPENAI_API_KEY``),
  the way a user points the magics at an OpenAI-compatible server without code. Then it runs

      %%agent -s "review -> sentiment: Literal[...], confidence: float" --provider openai --model bench \\
              --over reviews --concurrency 8 -o scored

  over a DataFrame of ``ROWS`` distinct reviews, timed around ``ip.run_cell_magic`` (the whole magic: reading the
  frame, the progress bar, the batch, building the result frame). One warm-up call first (it imports litellm and
  opens the connections). Then ``REPS`` timed calls at concurrency 8 and, for reference, ``REPS`` at concurrency 1
  on ``ROWS_SERIAL`` rows, interleaved. Every call is checked: every row succeeded (the error column is empty) and
  has the expected sentiment and confidence.

The ideal is concurrency / latency rows/s (80 at concurrency 8, 10 at concurrency 1); reported: the median rows/s
and its ratio to the ideal. ``python bench/batch_throughput.py profile`` prints a cProfile of one concurrency-8 call
instead, taken on the engine's background loop thread and on the cell's thread; ``... layers`` measures rows/s through
each layer (the magic, ``agent.run_batch``, raw ``litellm.acompletion``, raw ``httpx``), interleaved.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from common import ROOT, chat_completion, child_env, median

LATENCY = 0.1
ROWS = 200
ROWS_SERIAL = 30
CONCURRENCY = 8
REPS = 3
SIGNATURE = "review -> sentiment: Literal['positive','negative','neutral'], confidence: float"
WORDS = {"positive": "great", "negative": "terrible", "neutral": "okay"}


def expected_sentiment(review: str) -> str:
    return next((s for s, w in WORDS.items() if w in review), "neutral")


def reviews(n: int, offset: int = 0) -> list[str]:
    kinds = list(WORDS.items())
    return [f"Review {offset + i}: the product was {kinds[i % 3][1]} for me." for i in range(n)]


# -- the server ---------------------------------------------------------------------------------------------------
def completion(body: dict[str, Any]) -> dict[str, Any]:
    """A chat completion answering the last user message's review, as the signature's JSON object."""
    text = next((m.get("content") or "" for m in reversed(body.get("messages", [])) if m.get("role") == "user"), "")
    content = json.dumps({"sentiment": expected_sentiment(str(text)), "confidence": 0.9})
    return chat_completion(body, content, prompt_tokens=50)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real server: clients reuse their connections
    # TCP_NODELAY: the status line and headers go out in one write and the body in another; with Nagle's algorithm
    # on a kept-alive connection the body then waits for the client's delayed ACK (about 40 ms on Linux).
    disable_nagle_algorithm = True

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        time.sleep(LATENCY)
        data = json.dumps(completion(body)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default listen backlog (5) is below the connections a batch opens at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that went away: nothing to report
            super().handle_error(request, client_address)


def serve() -> None:
    """Print the server's URL, then serve until stdin closes (the parent exits or closes it)."""
    import threading

    httpd = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    print(f"http://127.0.0.1:{httpd.server_address[1]}/v1", flush=True)
    sys.stdin.read()
    httpd.shutdown()


# -- the worker ---------------------------------------------------------------------------------------------------
def magic_line(concurrency: int) -> str:
    return f'-s "{SIGNATURE}" --provider openai --model bench --over reviews --concurrency {concurrency} -o scored'


class Notebook:
    def __init__(self, url: str) -> None:
        import os

        os.environ.update({"OPENAI_BASE_URL": url, "OPENAI_API_BASE": url, "OPENAI_API_KEY": "bench"})
        from IPython.core.interactiveshell import InteractiveShell

        self.ip = InteractiveShell.instance()
        self.ip.run_line_magic("load_ext", "kaizen_lab")
        self.batch = 0

    def run(self, rows: int, concurrency: int) -> dict[str, Any]:
        """One timed ``%%agent --over`` call on ``rows`` fresh reviews; checks every row."""
        import pandas as pd

        self.batch += 1
        texts = reviews(rows, offset=self.batch * 1000)  # distinct prompts in every call
        self.ip.user_ns["reviews"] = pd.DataFrame({"review": texts})
        started = time.perf_counter()
        self.ip.run_cell_magic("agent", magic_line(concurrency), "# one row per review")
        seconds = time.perf_counter() - started
        scored = self.ip.user_ns.pop("scored")
        errors = scored["error"].dropna().tolist()
        assert not errors, f"{len(errors)} rows failed, first: {errors[0]}"
        assert scored["sentiment"].tolist() == [expected_sentiment(t) for t in texts], "wrong sentiments"
        assert all(isinstance(c, float) and c == 0.9 for c in scored["confidence"]), "wrong confidences"
        return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds, "failed": len(errors)}


def worker(url: str) -> dict[str, Any]:
    import contextlib
    import io

    nb = Notebook(url)
    out: dict[str, Any] = {"concurrency_8": [], "concurrency_1": []}
    with contextlib.redirect_stderr(io.StringIO()):  # the tqdm bar (outside a kernel, Progress draws one)
        nb.run(16, CONCURRENCY)  # warm-up: imports litellm, opens connections
        agent = next(iter(nb.ip.magics_manager.registry["KaizenMagics"].state.agents.values()))
        for _ in range(REPS):
            out["concurrency_8"].append(nb.run(ROWS, CONCURRENCY))
            out["concurrency_1"].append(nb.run(ROWS_SERIAL, 1))
    out["structured_mode"] = agent.llm.structured_mode()
    out["progress_view"] = "tqdm (no kernel)"
    return out


def layers(url: str, reps: int = 5) -> dict[str, Any]:
    """Rows/s at concurrency 8 through each layer, interleaved: the magic, ``agent.run_batch`` (no magic), raw
    ``litellm.acompletion`` and raw ``httpx`` (both sent the messages the agent sends, on kaizen's loop)."""
    import asyncio
    import contextlib
    import io

    import httpx

    from kaizen_lab._sync import submit
    from kaizen_lab.llm._litellm import get_litellm

    nb = Notebook(url)
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        nb.run(16, CONCURRENCY)
    agent = next(iter(nb.ip.magics_manager.registry["KaizenMagics"].state.agents.values()))
    litellm = get_litellm()
    texts = reviews(ROWS)
    messages = [agent.preview_messages(review=t) for t in texts]
    clients: list[httpx.AsyncClient] = []

    async def gated(call: Any) -> None:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(i: int) -> None:
            async with gate:
                await call(i)

        await asyncio.gather(*(one(i) for i in range(ROWS)))

    async def raw_litellm(i: int) -> None:
        await litellm.acompletion(model="openai/bench", messages=messages[i], temperature=0.0, max_retries=0)

    async def raw_httpx(i: int) -> None:
        if not clients:
            clients.append(httpx.AsyncClient())
        reply = await clients[0].post(f"{url}/chat/completions", json={"model": "bench", "messages": messages[i]})
        reply.raise_for_status()

    def timed(fn: Any) -> float:
        started = time.perf_counter()
        fn()
        return ROWS / (time.perf_counter() - started)

    def run_batch() -> None:
        outcomes = agent.run_batch([{"review": t} for t in texts], concurrency=CONCURRENCY, return_exceptions=True)
        assert not any(isinstance(o, BaseException) for o in outcomes)

    sides = {
        "%%agent --over (the magic)": lambda: nb.run(ROWS, CONCURRENCY)["rows_per_s"],
        "agent.run_batch (no magic)": lambda: timed(run_batch),
        "raw litellm.acompletion": lambda: timed(lambda: submit(gated(raw_litellm)).result()),
        "raw httpx": lambda: timed(lambda: submit(gated(raw_httpx)).result()),
    }
    samples: dict[str, list[float]] = {name: [] for name in sides}
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        for fn in sides.values():
            fn()  # warm-up
        for _ in range(reps):
            for name, fn in sides.items():
                samples[name].append(fn())
    return {name: {"median_rows_per_s": median(s), "samples_rows_per_s": s} for name, s in samples.items()}


def profile(url: str) -> None:
    """cProfile one concurrency-8 call, on the background loop thread (the batch) and on this thread (the cell)."""
    import contextlib
    import cProfile
    import io
    import pstats

    from kaizen_lab._sync import _background_loop

    nb = Notebook(url)
    with contextlib.redirect_stderr(io.StringIO()):
        nb.run(16, CONCURRENCY)
    loop_profile, cell_profile = cProfile.Profile(), cProfile.Profile()
    loop = _background_loop()
    loop.call_soon_threadsafe(loop_profile.enable)
    cell_profile.enable()
    with contextlib.redirect_stderr(io.StringIO()):
        result = nb.run(ROWS, CONCURRENCY)
    cell_profile.disable()
    done = __import__("threading").Event()
    loop.call_soon_threadsafe(lambda: (loop_profile.disable(), done.set()))
    done.wait()
    print(f"{result['rows_per_s']:.1f} rows/s under the profiler ({result['seconds']:.2f} s)")
    for name, prof in (("background loop thread", loop_profile), ("cell thread", cell_profile)):
        print(f"\n=== {name} ===")
        pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)


# -- the parent ---------------------------------------------------------------------------------------------------
def _start_server() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def measure() -> dict[str, Any]:
    import tempfile

    server, url = _start_server()
    try:
        with tempfile.TemporaryDirectory(prefix="kaizen-bench-ipython-") as ipython_dir:  # no ~/.ipython profile
            proc = subprocess.run(
                [sys.executable, __file__, "worker", url],
                capture_output=True,
                text=True,
                env={**child_env(), "IPYTHONDIR": ipython_dir},
                cwd=ROOT,
                timeout=600,
            )
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=10)
    if proc.returncode != 0:
        raise RuntimeError(f"batch_throughput worker failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    runs = json.loads(proc.stdout.strip().splitlines()[-1])
    out: dict[str, Any] = {
        "latency_s": LATENCY,
        "path": "%%agent --provider openai --model bench, litellm pointed at the server by OPENAI_BASE_URL",
        "structured_mode": runs["structured_mode"],
        "progress_view": runs["progress_view"],
    }
    for key, concurrency in (("concurrency_8", CONCURRENCY), ("concurrency_1", 1)):
        samples = runs[key]
        rate = median([s["rows_per_s"] for s in samples])
        ideal = concurrency / LATENCY
        out[key] = {
            "concurrency": concurrency,
            "rows": samples[0]["rows"],
            "median_rows_per_s": rate,
            "ideal_rows_per_s": ideal,
            "ratio": rate / ideal,
            "samples_rows_per_s": [s["rows_per_s"] for s in samples],
            "samples_seconds": [s["seconds"] for s in samples],
            "failed_rows": sum(s["failed"] for s in samples),
        }
    return out


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "measure"
    if mode == "serve":
        serve()
    elif mode == "worker":
        print(json.dumps(worker(sys.argv[2])))
    elif mode in ("profile", "layers"):
        server, url = _start_server()
        try:
            if mode == "profile":
                profile(url)
            else:
                print(json.dumps(layers(url), indent=2))
        finally:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(timeout=10)
    else:
        print(json.dumps(measure(), indent=2))
