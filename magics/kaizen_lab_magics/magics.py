"""``%%agent``, ``%%kaizen``, ``%%signature`` and ``%kaizen``: thin adapters from a cell to the engine."""

from __future__ import annotations

import collections
import queue
import time
from dataclasses import dataclass, field
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import HTML, display

import kaizen_lab
from kaizen_lab import (
    LLM,
    AgentResult,
    BaseAgent,
    ChainOfThoughtAgent,
    ConfigurationError,
    ExecutionContext,
    LiveRun,
    OutputParseError,
    PermissionMode,
    ReActAgent,
    ResponseCache,
    Signature,
    SimpleQAAgent,
)
from kaizen_lab._sync import submit
from kaizen_lab.llm.providers import provider_names, split_model

from ._signature_cell import parse_signature_cell
from ._template import interpolate
from ._views import MessagesView, ParseFailureView

BUILTIN_AGENTS: dict[str, type[BaseAgent]] = {"qa": SimpleQAAgent, "cot": ChainOfThoughtAgent, "react": ReActAgent}
COMING_AGENTS = ("rag", "code", "memory", "vision", "transcription", "extraction")
POLL_SECONDS = 0.05


@dataclass
class MagicState:
    """What the magics remember between cells in one kernel."""

    provider: str | None = None
    model: str | None = None
    cache: ResponseCache | None = None
    agents: dict[tuple[Any, ...], BaseAgent] = field(default_factory=dict)
    parsed: dict[str, type[Signature]] = field(default_factory=dict)  # one class per signature string
    history: collections.deque[AgentResult] = field(default_factory=lambda: collections.deque(maxlen=100))


def _common_arguments(fn: Any) -> Any:
    for arg in reversed(
        [
            argument("-o", "--out", help="store the result in this variable (it is also displayed)"),
            argument("--provider", help="provider for this cell (openai, anthropic, ollama, local, mock, ...)"),
            argument("--model", help="model for this cell, e.g. gpt-4o-mini or ollama/llama3.2"),
            argument("--session", help="session id: earlier turns of this session go into the prompt"),
            argument("--dry-run", action="store_true", help="show the messages that would be sent; call nothing"),
            argument("--stream", action="store_true", help="show the model's text as it is written"),
            argument("--temperature", type=float),
            argument("--max-tokens", type=int),
            argument("--over", metavar="DATAFRAME", help="run once per row; columns map to input fields"),
            argument("--concurrency", type=int, default=4, help="rows in flight at once with --over"),
            argument("--background", action="store_true", help="with --over: return at once; the result goes to -o"),
        ]
    ):
        fn = arg(fn)
    return fn


@magics_class
class KaizenMagics(Magics):
    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.state = MagicState()

    # -- %%agent ------------------------------------------------------------------------------------------------
    @magic_arguments()
    @argument("-s", "--signature", default="question -> answer", help="a signature string or a Signature's name")
    @argument("--input", help="the input field that gets the cell's text (default: the first required input)")
    @argument("--set", action="append", default=[], metavar="FIELD=VARIABLE", help="fill an input from a variable")
    @argument("--tools", help='let the agent act (ReAct): "all", or names such as read_file,write_file')
    @argument("--max-cycles", type=int, default=6, help="with --tools: reason/act cycles before answering")
    @argument("--mode", default="default", choices=[m.value for m in PermissionMode], help="with --tools: permissions")
    @argument("--workspace", help="with --tools: the folder file tools may use (default: a per-agent folder)")
    @_common_arguments
    @cell_magic
    def agent(self, line: str, cell: str) -> Any:
        """Run a signature on the cell's text: ``%%agent -s "question -> answer, confidence: float" -o res``.

        With ``--tools`` the agent reasons and acts (ReAct); calls that need approval show a card in the cell's
        output and the kernel stays free while you decide.
        """
        args = parse_argstring(self.agent, line)
        sig = self._signature(args.signature)
        if args.tools:
            agent = self._tool_agent(sig, args)
        else:
            agent = self._agent(
                ("agent", sig), lambda llm, turns: BaseAgent(signature=sig, llm=llm, max_turns=turns), args
            )
        if args.over:
            return self._batch(agent, args, cell)
        inputs = self._inputs(agent, cell, args)
        return self._run(agent, inputs, args)

    # -- %%kaizen -----------------------------------------------------------------------------------------------
    @magic_arguments()
    @argument("name", help="a built-in agent (qa, cot) or the name of an agent object in your namespace")
    @_common_arguments
    @cell_magic
    def kaizen(self, line: str, cell: str) -> Any:
        """Run a named agent on the cell's text: ``%%kaizen qa``."""
        args = parse_argstring(self.kaizen, line)
        args.input, args.set = None, []
        agent = self._named_agent(args)
        if args.over:
            return self._batch(agent, args, cell)
        return self._run(agent, self._inputs(agent, cell, args), args)

    # -- %%signature --------------------------------------------------------------------------------------------
    @cell_magic
    def signature(self, line: str, cell: str) -> type[Signature]:
        """Define a Signature class in your namespace (see ``_signature_cell`` for the syntax)."""
        name = line.strip()
        sig = parse_signature_cell(name, cell)
        self.shell.user_ns[name] = sig
        return sig

    # -- %kaizen ------------------------------------------------------------------------------------------------
    @line_magic("kaizen")
    def kaizen_line(self, line: str) -> Any:
        """``%kaizen providers | use PROVIDER[/MODEL] | usage | history [N] | cache on|off|clear|record|replay |
        memory [NAME]``."""
        words = line.split()
        command, rest = (words[0], words[1:]) if words else ("help", [])
        handler = getattr(self, f"_cmd_{command}", None)
        if handler is None:
            raise UsageError(f"Unknown %kaizen command {command!r}. {self._cmd_help.__doc__}")
        return handler(rest)

    def _cmd_help(self, rest: list[str]) -> None:
        """Commands: providers, use PROVIDER[/MODEL], usage, history [N], cache on|off|clear|record|replay [PATH], memory [NAME]."""  # noqa: E501 - shown as is
        display(HTML(f"<pre>{self._cmd_help.__doc__}</pre>"))

    def _cmd_providers(self, rest: list[str]) -> Any:
        import pandas as pd

        default = self.state.provider or kaizen_lab.default_provider()
        rows = [
            {
                "name": p.name,
                "available": p.available,
                "default": p.name == default,
                "reason": p.reason,
                "default_model": p.default_model,
            }
            for p in kaizen_lab.detect_providers()
        ]
        return pd.DataFrame(rows).set_index("name")

    def _cmd_use(self, rest: list[str]) -> None:
        if len(rest) != 1:
            raise UsageError("Usage: %kaizen use PROVIDER or PROVIDER/MODEL, e.g. %kaizen use ollama/llama3.2")
        provider, model = split_model(rest[0])
        provider = provider or model
        if provider not in provider_names():
            raise UsageError(f"Unknown provider {rest[0]!r}; use one of {provider_names()}.")
        self.state.provider, self.state.model = provider, (model if model != provider else None)
        self.state.agents.clear()
        shown = f"{provider}/{self.state.model}" if self.state.model else provider
        display(HTML(f"Cells now use <b>{shown}</b> unless they say otherwise."))

    def _cmd_usage(self, rest: list[str]) -> None:
        from kaizen_lab_widgets import usage_figure, usage_table

        table = usage_table()
        display(table)
        if len(table):
            display(usage_figure())
        display(kaizen_lab.global_usage().totals())

    def _cmd_history(self, rest: list[str]) -> Any:
        import pandas as pd

        n = int(rest[0]) if rest and rest[0].isdigit() else 10
        rows = [
            {
                "signature": r.signature,
                "provider": r.provider,
                "model": r.model,
                "sent": r.messages[-1]["content"] if r.messages else "",
                "raw": r.raw,
                "parsed": dict(r),
                "tokens": r.usage.total_tokens,
                "cache_hit": r.cache_hit,
            }
            for r in list(self.state.history)[-n:]
        ]
        return pd.DataFrame(rows)

    def _cmd_cache(self, rest: list[str]) -> None:
        mode = rest[0] if rest else ""
        if mode == "clear":
            if self.state.cache is not None:
                self.state.cache.clear()
            display(HTML("Response cache cleared."))
            return
        if mode not in ("on", "off", "record", "replay"):
            raise UsageError("Usage: %kaizen cache on|off|clear|record|replay [PATH]")
        path = rest[1] if len(rest) > 1 else None
        self.state.cache = None if mode == "off" else ResponseCache(path, mode=mode)  # type: ignore[arg-type]
        self.state.agents.clear()
        where = f" at {self.state.cache.path}" if self.state.cache is not None else ""  # an empty cache is falsy
        display(HTML(f"Response cache: <b>{mode}</b>{where}."))

    def _cmd_memory(self, rest: list[str]) -> Any:
        """``%kaizen memory [NAME]``: a MemoryExplorer on the memory store NAME, on agent NAME's memory, or (without
        a name) on the one store in the namespace."""
        if len(rest) > 1:
            raise UsageError("Usage: %kaizen memory [NAME], where NAME is a memory store or an agent with one.")
        from kaizen_lab_widgets import MemoryExplorer

        from ._memory import find_memory

        return MemoryExplorer(find_memory(self.shell.user_ns, rest[0] if rest else None))

    # -- helpers ------------------------------------------------------------------------------------------------
    def _signature(self, spec: str) -> type[Signature]:
        spec = spec.strip()
        if len(spec) > 1 and spec[0] == spec[-1] and spec[0] in "'\"":
            spec = spec[1:-1]  # one pair of outer quotes; a description's quotes inside stay
        if spec.isidentifier():
            value = self.shell.user_ns.get(spec)
            if value is None:
                raise UsageError(
                    f"No signature named {spec!r} is defined; define it (class or %%signature {spec}) or pass a "
                    'string such as -s "question -> answer".'
                )
            spec = value
        if isinstance(spec, str):
            if spec not in self.state.parsed:
                try:
                    self.state.parsed[spec] = Signature.parse(spec)
                except ConfigurationError as e:
                    raise UsageError(str(e)) from None
            return self.state.parsed[spec]
        try:
            return Signature.coerce(spec)
        except ConfigurationError as e:
            raise UsageError(str(e)) from None

    def _llm(self, args: Any) -> LLM:
        prefix, _ = split_model(args.model)
        provider = args.provider or (None if prefix else self.state.provider)  # --model keeps %kaizen use's provider
        model = args.model or (None if args.provider else self.state.model)
        try:
            return LLM(
                provider,
                model,
                temperature=args.temperature if args.temperature is not None else 0.0,
                max_tokens=args.max_tokens,
                cache=self.state.cache,
            )
        except ConfigurationError as e:
            raise UsageError(str(e)) from None

    def _agent(self, key: tuple[Any, ...], make: Any, args: Any) -> BaseAgent:
        """Agents are kept per signature and settings, so a --session remembers across cells."""
        full_key = (*key, args.provider, args.model, args.temperature, args.max_tokens, bool(args.session))
        agent = self.state.agents.get(full_key)
        if agent is None:
            agent = self.state.agents[full_key] = make(self._llm(args), 10 if args.session else 0)
        return agent

    def _tool_agent(self, sig: type[Signature], args: Any) -> BaseAgent:
        if args.over or args.stream:
            raise UsageError("--tools runs one task at a time and shows each step: leave out --over and --stream.")
        tools = "all" if args.tools == "all" else [t.strip() for t in args.tools.split(",") if t.strip()]

        def make(llm: LLM, turns: int) -> BaseAgent:
            return ReActAgent(
                signature=sig,
                llm=llm,
                max_turns=turns,
                tools=tools,
                max_cycles=args.max_cycles,
                context=ExecutionContext(args.mode),
                workspace=args.workspace,
            )

        try:
            return self._agent(("react", sig, args.tools, args.max_cycles, args.mode, args.workspace), make, args)
        except ConfigurationError as e:
            raise UsageError(str(e)) from None

    def _named_agent(self, args: Any) -> BaseAgent:
        name = args.name
        value = self.shell.user_ns.get(name)
        if isinstance(value, BaseAgent):
            return value
        if name in BUILTIN_AGENTS:
            cls = BUILTIN_AGENTS[name]
            return self._agent(("kaizen", name), lambda llm, turns: cls(llm=llm, max_turns=turns), args)
        hint = f"{name!r} is not available in this version of kaizen_lab; " if name in COMING_AGENTS else ""
        raise UsageError(
            f"{hint}No agent named {name!r}: use a built-in ({', '.join(BUILTIN_AGENTS)}) or the name of an agent "
            "object in your namespace."
        )

    def _inputs(self, agent: BaseAgent, cell: str, args: Any) -> dict[str, Any]:
        fields = agent.signature.input_fields
        target = args.input or next((n for n, s in fields.items() if s.required), next(iter(fields), None))
        if target not in fields:
            raise UsageError(f"--input {target!r} is not an input of {agent.signature.describe()!r}.")
        inputs: dict[str, Any] = {}
        text = interpolate(cell, self.shell.user_ns).strip()
        if text:
            inputs[target] = text
        for pair in args.set:
            name, _, variable = pair.partition("=")
            if name not in fields or not variable.isidentifier() or variable not in self.shell.user_ns:
                raise UsageError(f"--set {pair!r}: expected FIELD=VARIABLE with an input field and a defined variable.")
            inputs[name] = self.shell.user_ns[variable]
        missing = [n for n, s in fields.items() if s.required and n not in inputs]
        if missing:
            raise UsageError(f"Missing input(s) {missing}: write the text in the cell, or use --set FIELD=VARIABLE.")
        return inputs

    def _run(self, agent: BaseAgent, inputs: dict[str, Any], args: Any) -> Any:
        if args.background:
            raise UsageError("--background applies to --over batches only.")
        if args.dry_run:
            return MessagesView(
                agent.preview_messages(args.session, **inputs), agent.llm.provider_name, agent.llm.model
            )
        try:
            if args.stream:
                result = self._run_streaming(agent, inputs, args.session)
            else:
                result = agent.run(session_id=args.session, **inputs)
        except OutputParseError as e:
            display(ParseFailureView(e, agent.signature))
            raise UsageError(f"The model's reply did not fit the signature after {e.attempts} attempt(s).") from None
        except ConfigurationError as e:
            raise UsageError(str(e)) from None
        if isinstance(result, LiveRun):  # waiting for a click: it is already on screen; follow it to the end
            self._follow(result, args.out)
            return None
        self.state.history.append(result)
        if args.out:
            self.shell.user_ns[args.out] = result
        return result

    def _follow(self, live: LiveRun, out: str | None) -> None:
        """``-o`` names the LiveRun until it finishes, then the AgentResult itself."""
        if out:
            self.shell.user_ns[out] = live

        def finished(task: Any) -> None:
            if task.cancelled() or task.exception() is not None:
                return
            self.state.history.append(task.result())
            if out and self.shell.user_ns.get(out) is live:
                self.shell.user_ns[out] = task.result()

        live.task.add_done_callback(finished)

    def _run_streaming(self, agent: BaseAgent, inputs: dict[str, Any], session: str | None) -> AgentResult:
        """Run on the background loop while this (the cell's) thread shows the text as it arrives."""
        pieces: queue.SimpleQueue[str] = queue.SimpleQueue()
        handle = display(HTML("<pre style='white-space:pre-wrap'>…</pre>"), display_id=True)
        with kaizen_lab.stream_to(pieces.put):
            future = submit(agent.arun(session_id=session, **inputs))
        text = ""
        try:
            while not future.done():
                time.sleep(POLL_SECONDS)
                text = _drain(pieces, text, handle)
        except KeyboardInterrupt:
            future.cancel()
            raise
        _drain(pieces, text, handle)
        handle.update(HTML(""))  # the final result replaces the streamed text
        return future.result()

    def _batch(self, agent: BaseAgent, args: Any, cell: str) -> Any:
        """With --over, columns map to input fields; a cell body other than # comments is a per-row template
        for the --input field, filled from the row's columns (``Review: {text}``)."""
        from ._batch import first_row_inputs, run_over_dataframe, start_in_background

        if args.session or args.stream:
            raise UsageError("--session and --stream do not apply to --over batches; leave them out.")
        frame = self.shell.user_ns.get(args.over)
        if frame is None:
            raise UsageError(f"--over {args.over!r}: no such variable; pass the name of a DataFrame.")
        template = "\n".join(ln for ln in cell.splitlines() if not ln.lstrip().startswith("#")).strip()
        fields = agent.signature.input_fields
        target = args.input or next((n for n, s in fields.items() if s.required), None)
        if args.dry_run:
            inputs = first_row_inputs(agent, frame, template or None, target)
            view = MessagesView(agent.preview_messages(**inputs), agent.llm.provider_name, agent.llm.model)
            view.note = f"first of {len(frame)} rows"
            return view
        if args.background:
            if not args.out:
                raise UsageError("--background needs -o NAME: the result is stored there when the batch ends.")
            return start_in_background(
                agent,
                frame,
                out=args.out,
                namespace=self.shell.user_ns,
                concurrency=args.concurrency,
                template=template or None,
                target=target,
            )
        result = run_over_dataframe(
            agent, frame, concurrency=args.concurrency, template=template or None, target=target
        )
        if args.out:
            self.shell.user_ns[args.out] = result
        return result


def _drain(pieces: queue.SimpleQueue[str], text: str, handle: Any) -> str:
    import html

    grown = text
    while True:
        try:
            grown += pieces.get_nowait()
        except queue.Empty:
            break
    if grown != text and handle is not None:
        handle.update(HTML(f"<pre style='white-space:pre-wrap'>{html.escape(grown)}</pre>"))
    return grown
