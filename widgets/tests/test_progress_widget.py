"""Progress: counts, ETA, summary, cancelling from another thread, throttled drawing, and the text fallbacks."""

from __future__ import annotations

import sys
import threading
import time

import pytest
from kaizen_lab_widgets import Progress

import kaizen_lab


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def parts(p: Progress):
    bar, label, button = p.widget.children
    return bar, label, button


def test_counts_eta_and_summary():
    clock = FakeClock()
    p = Progress(5, "batch", widget=False, clock=clock)
    assert p.eta is None  # nothing processed yet
    for ok in (True, True, False):
        clock.now += 1.0
        p.advance(ok=ok, tokens=400, cost=0.0004)
    assert (p.done, p.failed, p.total, p.tokens) == (2, 1, 5, 1200)
    assert p.cost == pytest.approx(0.0012)
    assert p.elapsed == pytest.approx(3.0)
    assert p.eta == pytest.approx(2.0)  # 1 s per row so far, 2 rows left
    clock.now += 2.0
    p.finish()
    clock.now += 50.0
    assert p.elapsed == pytest.approx(5.0), "the clock stops at finish"
    assert p.eta is None
    assert p.summary() == "5 rows: 2 done, 1 failed, 5.0 s, 1,200 tokens, $0.0012"
    assert repr(p) == "<Progress 'batch': 3/5 rows, 2 done, 1 failed, finished>"


def test_summary_says_cancelled_and_tiny_costs_stay_visible():
    clock = FakeClock()
    p = Progress(200, widget=False, clock=clock)
    p.advance(tokens=1234, cost=0.000012)
    p.cancel()
    clock.now += 12.3
    p.finish()
    assert p.summary() == "200 rows: 1 done, 0 failed, cancelled, 12.3 s, 1,234 tokens, $0.000012"


def test_on_result_counts_results_and_exceptions_from_run_batch():
    agent = kaizen_lab.BaseAgent(signature="q -> a", llm=kaizen_lab.LLM(kaizen_lab.MockProvider()))
    p = Progress(3, widget=False)
    agent.run_batch([{"q": "1"}, {"q": "2"}, {}], return_exceptions=True, on_result=p.on_result)
    p.finish()
    assert (p.done, p.failed) == (2, 1)  # the third lacks its input
    assert p.tokens > 0


def test_cancel_button_stops_a_worker_thread_and_runs_callbacks(comms):
    p = Progress(1000, "run", widget=True)
    bar, _label, button = parts(p)
    called = threading.Event()
    p.on_cancel(called.set)
    started = threading.Event()

    def work() -> None:
        for _ in range(1000):
            if p.cancelled:
                break
            p.advance(tokens=1)
            started.set()
            time.sleep(0.001)
        p.finish()

    worker = threading.Thread(target=work)
    worker.start()
    started.wait(5)
    button.click()  # what a frontend click does once the kernel handles it
    worker.join(5)
    assert p.cancelled and called.is_set()
    assert p.done < 1000
    assert button.disabled and button.description == "Cancelled"
    assert bar.bar_style == "danger"
    assert bar.value == p.done, "the final state is drawn"


def test_cancel_from_another_thread_and_late_callbacks(comms):
    p = Progress(10, widget=True)
    t = threading.Thread(target=p.cancel)
    t.start()
    t.join(5)
    assert p.cancelled
    late = []
    p.on_cancel(lambda: late.append(1))
    assert late == [1], "a callback registered after cancelling runs at once"
    p.cancel()  # idempotent
    assert p.eta is None


def test_cancel_after_finish_is_ignored():
    p = Progress(1, widget=False)
    p.advance()
    p.finish()
    p.cancel()
    assert not p.cancelled


def test_concurrent_advances_are_all_counted(comms):
    p = Progress(4000, widget=True)

    def work() -> None:
        for i in range(500):
            p.advance(ok=i % 10 != 0, tokens=2, cost=0.5)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    p.finish()
    assert (p.done, p.failed, p.tokens) == (3600, 400, 8000)
    assert p.cost == pytest.approx(2000.0)
    assert parts(p)[0].value == 4000


def test_drawing_is_throttled_and_the_final_state_always_drawn(comms):
    p = Progress(1000, widget=True)
    bar, label, button = parts(p)
    for _ in range(1000):
        p.advance(tokens=1)
    updates = comms[bar.model_id].updates()
    assert len(updates) < 20, f"{len(updates)} bar updates for 1000 rows: not throttled"
    p.finish()
    assert bar.value == 1000
    assert comms[bar.model_id].updates()[-1]["value"] == 1000, "the frontend got the final value"
    assert bar.bar_style == "success"
    assert button.disabled
    assert "1000/1000 rows" in label.value and "1,000 tokens" in label.value


def test_a_throttled_update_is_drawn_shortly_after_a_burst(comms):
    p = Progress(10, widget=True)
    bar = parts(p)[0]
    p.advance()
    p.advance()  # within 0.1 s of the first: held back...
    deadline = time.monotonic() + 2
    while bar.value != 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert bar.value == 2, "...and drawn without waiting for the next advance or finish"


def test_widget_mimebundle_shows_the_view_with_a_deterministic_text(comms):
    p = Progress(3, "demo", widget=True)
    bundle = p._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == p.widget.model_id
    assert bundle["text/plain"] == "<Progress 'demo': 0/3 rows, 0 done, 0 failed>"


def test_auto_outside_a_kernel_is_text():
    p = Progress(2, widget=None)
    assert p.widget is None
    assert p._repr_mimebundle_() == {"text/plain": repr(p)}
    p.finish()


def test_tqdm_fallback_writes_a_bar_to_stderr(capsys):
    pytest.importorskip("tqdm")
    with Progress(3, "rows", widget=False) as p:
        for _ in range(3):
            p.advance(tokens=10)
    err = capsys.readouterr().err
    assert "3/3" in err and "30 tokens" in err


def test_plain_lines_without_tqdm_at_most_once_a_second(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # as if tqdm were not installed
    monkeypatch.setitem(sys.modules, "tqdm.std", None)
    clock = FakeClock()
    p = Progress(10, "batch", widget=False, clock=clock)
    for _ in range(10):
        clock.now += 0.25
        p.advance(tokens=5)
    p.finish()
    lines = capsys.readouterr().err.splitlines()
    assert lines[:3] == [
        "batch: 0/10 rows · 0.0 s · 0 tokens · $0.0000",
        "batch: 4/10 rows · 1.0 s · ETA 1.5 s · 20 tokens · $0.0000",
        "batch: 8/10 rows · 2.0 s · ETA 0.5 s · 40 tokens · $0.0000",
    ]
    assert lines[3:] == ["batch: 10 rows: 10 done, 0 failed, 2.5 s, 50 tokens, $0.0000"]
