"""``%%agent --over df``: one run per row, bounded concurrency, a progress bar, failed rows kept with their error.

The batch runs on the engine's background loop; this thread (the cell's) drains finished rows and updates the
progress display, because a running cell can send display updates but not receive clicks. Ctrl+C (the Stop
button) stops new rows from starting; rows already done are kept.

With ``--background`` the cell returns at once (the way a widget click can reach the kernel at all): the progress
bar's Cancel works, and the result lands in the ``-o`` variable and below the bar when the batch ends.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.display import display

from kaizen_lab import AgentInterrupted, AgentResult, BaseAgent
from kaizen_lab._sync import submit

if TYPE_CHECKING:
    import pandas as pd

POLL_SECONDS = 0.05


def _rows(agent: BaseAgent, frame: pd.DataFrame, template: str | None, target: str | None) -> list[dict[str, Any]]:
    fields = agent.signature.input_fields
    filled = {target} if template and target else set()
    missing = [n for n, s in fields.items() if s.required and n not in frame.columns and n not in filled]
    if missing:
        raise UsageError(
            f"The DataFrame has no column(s) {missing} for the signature's inputs; its columns are "
            f"{list(frame.columns)}. Rename columns to match the input fields, or write a per-row template."
        )
    used = [n for n in fields if n in frame.columns and n not in filled]
    rows = []
    for record in frame.to_dict("records"):
        row = {n: record[n] for n in used}
        if template and target:
            row[target] = _fill(template, record)
        rows.append(row)
    return rows


def _fill(template: str, record: dict[str, Any]) -> str:
    try:
        return template.format_map(record)
    except (KeyError, IndexError, ValueError) as e:
        raise UsageError(
            f"The per-row template {template!r} refers to {e}, which is not a column; columns: {list(record)}."
        ) from None


def run_over_dataframe(
    agent: BaseAgent, frame: Any, *, concurrency: int = 4, template: str | None = None, target: str | None = None
) -> pd.DataFrame:
    import pandas as pd
    from kaizen_lab_widgets import Progress

    if not isinstance(frame, pd.DataFrame):
        raise UsageError(f"--over needs a pandas DataFrame, got {type(frame).__name__}.")
    items = _rows(agent, frame, template, target)
    progress = Progress(len(items), description=f"{agent.signature.__name__} over {len(items)} rows").display()
    finished: queue.SimpleQueue[tuple[int, AgentResult | BaseException]] = queue.SimpleQueue()
    cancel = threading.Event()
    future = submit(
        agent.arun_batch(
            items,
            concurrency=concurrency,
            return_exceptions=True,
            on_result=lambda i, outcome: finished.put((i, outcome)),
            cancel=cancel,
        )
    )
    try:
        while not future.done():
            time.sleep(POLL_SECONDS)
            _drain(finished, progress)
            if progress.cancelled:
                cancel.set()
    except KeyboardInterrupt:
        cancel.set()  # stop starting rows; those in flight finish, and every finished row is kept
        while not future.done():
            time.sleep(POLL_SECONDS)
    _drain(finished, progress)
    progress.finish()
    return _frame(frame, agent, future.result())


def _counted(progress: Any) -> Callable[[int, AgentResult | BaseException], None]:
    """Rows that never started (cancelled) are not counted as done or failed."""

    def count(index: int, outcome: AgentResult | BaseException) -> None:
        if not isinstance(outcome, AgentInterrupted):
            progress.on_result(index, outcome)

    return count


def first_row_inputs(agent: BaseAgent, frame: Any, template: str | None, target: str | None) -> dict[str, Any]:
    """The inputs of the first row, for a dry run of a batch."""
    rows = _rows(agent, _check_frame(frame).head(1), template, target)
    if not rows:
        raise UsageError("The DataFrame is empty: there is no row to preview.")
    return rows[0]


def _check_frame(frame: Any) -> pd.DataFrame:
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise UsageError(f"--over needs a pandas DataFrame, got {type(frame).__name__}.")
    return frame


class BackgroundBatch:
    """A batch running after its cell returned; ``wait()`` blocks for it (from a script or a test)."""

    def __init__(self, future: concurrent.futures.Future[Any], progress: Any, out: str) -> None:
        self.future = future
        self.progress = progress
        self.out = out

    def cancel(self) -> None:
        self.progress.cancel()

    def wait(self, timeout: float | None = None) -> pd.DataFrame:
        return self.future.result(timeout)

    def __repr__(self) -> str:
        state = "finished" if self.future.done() else "running"
        return f"<background batch {state}: the result goes to {self.out!r}>"


def start_in_background(
    agent: BaseAgent,
    frame: Any,
    *,
    out: str,
    namespace: dict[str, Any],
    concurrency: int = 4,
    template: str | None = None,
    target: str | None = None,
) -> BackgroundBatch:
    from kaizen_lab_widgets import Progress

    items = _rows(agent, _check_frame(frame), template, target)
    progress = Progress(len(items), description=f"{agent.signature.__name__} over {len(items)} rows").display()
    report = _Report()
    cancel = threading.Event()
    progress.on_cancel(cancel.set)

    async def batch() -> pd.DataFrame:
        try:
            outcomes = await agent.arun_batch(
                items, concurrency=concurrency, return_exceptions=True, on_result=_counted(progress), cancel=cancel
            )
            result = _frame(frame, agent, outcomes)
        except BaseException as e:  # nobody awaits a background batch: say what happened where the user looks
            report.fail(e, out)
            raise
        finally:
            progress.finish()
        namespace[out] = result
        report.show(result, out)
        return result

    return BackgroundBatch(submit(batch()), progress, out)


class _Report:
    """Where the result shows up after the cell returned: an Output widget in a kernel (plain print() from
    another thread goes nowhere there), stdout elsewhere."""

    def __init__(self) -> None:
        self.output = None
        try:
            import ipywidgets
            from IPython import get_ipython

            if get_ipython() is not None and getattr(get_ipython(), "kernel", None) is not None:
                self.output = ipywidgets.Output()
                display(self.output)
        except ImportError:
            pass

    def fail(self, error: BaseException, out: str) -> None:
        line = f"{out}: the batch stopped with {type(error).__name__}: {error}"
        if self.output is None:
            print(line)
        else:
            self.output.append_stderr(line + "\n")

    def show(self, result: pd.DataFrame, out: str) -> None:
        meta = result.attrs.get("kaizen_lab", {})
        line = f"{out}: {meta.get('rows', len(result))} rows, {meta.get('failed', 0)} failed or cancelled."
        if self.output is None:
            print(line)
            return
        self.output.append_stdout(line + "\n")
        self.output.append_display_data(result)


def _drain(finished: queue.SimpleQueue[tuple[int, AgentResult | BaseException]], progress: Any) -> None:
    while True:
        try:
            _, outcome = finished.get_nowait()
        except queue.Empty:
            return
        _counted(progress)(0, outcome)


def _frame(frame: pd.DataFrame, agent: BaseAgent, outcomes: list[AgentResult | BaseException]) -> pd.DataFrame:
    out = frame.copy()
    error_column = "error" if "error" not in agent.signature.output_fields else "kaizen_error"
    for name in agent.signature.output_fields:
        out[name] = [o.get(name) if isinstance(o, AgentResult) else None for o in outcomes]
    out[error_column] = [None if isinstance(o, AgentResult) else _describe(o) for o in outcomes]
    done = [o for o in outcomes if isinstance(o, AgentResult)]
    out.attrs["kaizen_lab"] = {
        "signature": agent.signature.describe(),
        "provider": agent.llm.provider_name,
        "model": agent.llm.model,
        "rows": len(outcomes),
        "failed": len(outcomes) - len(done),
        "tokens": sum(o.usage.total_tokens for o in done),
        "cost": sum(o.cost for o in done),
    }
    return out


def _describe(error: BaseException) -> str:
    if isinstance(error, AgentInterrupted):
        return "cancelled: not run"
    return f"{type(error).__name__}: {error}"
