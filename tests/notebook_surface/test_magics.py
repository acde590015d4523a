"""The magics, driven through IPython itself (``run_cell_magic``), on the offline fakes."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from kaizen_lab import LLM, AgentResult, BaseAgent, FunctionProvider, Signature


def agent_cell(ip, line, cell="What is the capital of France?"):
    return ip.run_cell_magic("agent", line, cell)


def test_agent_magic_runs_the_signature_and_stores_the_result(ip):
    r = agent_cell(ip, '-s "question -> answer, confidence: float" --provider mock -o res')
    assert isinstance(r, AgentResult) and ip.user_ns["res"] is r
    assert set(r) == {"answer", "confidence"} and r.provider == "mock"


def test_cell_text_interpolates_only_the_variables_it_names(ip):
    ip.user_ns["country"] = "France"
    view = agent_cell(ip, "--provider mock --dry-run", "Capital of {country}? Literal {{braces}}.")
    assert view.messages[-1]["content"] == "question: Capital of France? Literal {braces}."
    with pytest.raises(UsageError, match="no variable 'nation'"):
        agent_cell(ip, "--provider mock", "Capital of {nation}?")
    with pytest.raises(UsageError, match="unbalanced braces"):
        agent_cell(ip, "--provider mock", "a { b")


def test_dry_run_shows_messages_and_calls_nothing(ip):
    before = len(__import__("kaizen_lab").global_usage())
    view = agent_cell(ip, '-s "question -> answer" --provider mock --dry-run')
    assert [m["role"] for m in view.messages] == ["system", "user"]
    assert "nothing was sent" in view._repr_html_()
    assert len(__import__("kaizen_lab").global_usage()) == before


def test_bad_options_and_signatures_are_usage_errors_with_the_fix(ip):
    with pytest.raises(UsageError, match="unrecognized arguments"):
        agent_cell(ip, "--provider mock --nonsense")
    with pytest.raises(UsageError, match="no output fields"):
        agent_cell(ip, '-s "q -> " --provider mock')
    with pytest.raises(UsageError, match="No signature named 'Missing'"):
        agent_cell(ip, "-s Missing --provider mock")
    with pytest.raises(UsageError, match="Unknown provider 'nope'"):
        agent_cell(ip, "--provider nope")


def test_signature_by_name_from_the_namespace(ip):
    ip.user_ns["Sentiment"] = Signature.parse("review -> sentiment: Literal['pos', 'neg']")
    r = agent_cell(ip, "-s Sentiment --provider mock", "Great phone")
    assert r["sentiment"] == "pos"


def test_set_fills_other_inputs_from_named_variables_only(ip):
    ip.user_ns["doc"] = "Paris is in France."
    view = agent_cell(ip, '-s "question, context -> answer" --set context=doc --provider mock --dry-run')
    assert "context: Paris is in France." in view.messages[-1]["content"]
    with pytest.raises(UsageError, match="FIELD=VARIABLE"):
        agent_cell(ip, '-s "question, context -> answer" --set context=undefined_var --provider mock')
    with pytest.raises(UsageError, match=r"Missing input\(s\) \['context'\]"):
        agent_cell(ip, '-s "question, context -> answer" --provider mock')


def test_sessions_remember_across_cells(ip):
    agent_cell(ip, "--provider mock --session s1", "My name is Alice")
    view = agent_cell(ip, "--provider mock --session s1 --dry-run", "What is my name?")
    assert [m["role"] for m in view.messages] == ["system", "user", "assistant", "user"]
    assert view.messages[1]["content"] == "question: My name is Alice"
    fresh = agent_cell(ip, "--provider mock --session s2 --dry-run", "What is my name?")
    assert len(fresh.messages) == 2


def test_kaizen_magic_runs_builtins_and_agent_objects(ip):
    r = ip.run_cell_magic("kaizen", "qa --provider mock -o ans", "What is quantum computing?")
    assert set(r) == {"answer", "confidence", "reasoning"} and ip.user_ns["ans"] is r
    ip.user_ns["mine"] = BaseAgent(
        signature="topic -> summary", llm=LLM(FunctionProvider(lambda m, q: {"summary": "s"}))
    )
    assert ip.run_cell_magic("kaizen", "mine", "cats")["summary"] == "s"
    with pytest.raises(UsageError, match="'rag' is not available"):
        ip.run_cell_magic("kaizen", "rag", "x")
    with pytest.raises(UsageError, match="No agent named 'nobody'"):
        ip.run_cell_magic("kaizen", "nobody", "x")


def test_parse_failures_show_the_inspector(ip):
    ip.user_ns["bad"] = BaseAgent(
        signature="question -> answer, confidence: float", llm=LLM(FunctionProvider(["nonsense"] * 2)), retry_attempts=1
    )
    with capture_output() as captured, pytest.raises(UsageError, match="did not fit the signature after 2"):
        ip.run_cell_magic("kaizen", "bad", "?")
    html = captured.outputs[0].data["text/html"]
    assert "nonsense" in html and "confidence" in html and "Next step" in html and "no JSON object" in html


def test_streaming_shows_text_and_returns_the_result(ip):
    ip.user_ns["streamer"] = BaseAgent(
        signature="question -> answer", llm=LLM(FunctionProvider(lambda m, q: {"answer": "streamed"}))
    )
    with capture_output() as captured:
        r = ip.run_cell_magic("kaizen", "streamer --stream", "?")
    assert r["answer"] == "streamed"
    assert any("streamed" in o.data.get("text/html", "") for o in captured.outputs)


def test_results_carry_provenance_in_display_metadata(ip):
    r = agent_cell(ip, "--provider mock --temperature 0.2")
    data, metadata = ip.display_formatter.format(r)
    prov = metadata["kaizen_lab"]
    assert prov["provider"] == "mock" and prov["model"] == "mock-model"
    assert prov["params"]["temperature"] == 0.2 and prov["prompt_tokens"] > 0
    assert prov["finished_at"].endswith("+00:00") and "text/html" in data


def test_signature_cell_defines_a_class(ip):
    body = '''"""Classify a product review."""
text: str = input("The review text")
stars: int = input("1-5", default=3)
sentiment: Literal["positive", "negative", "neutral"] = output("Sentiment")
'''
    sig = ip.run_cell_magic("signature", "Review", body)
    assert ip.user_ns["Review"] is sig
    assert sig.instructions == "Classify a product review."
    assert sig.describe() == "text: str, stars: int -> sentiment: Literal['positive', 'negative', 'neutral']"
    assert sig.input_fields["stars"].default == 3 and sig.input_fields["text"].desc == "The review text"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('text: str = input("a")\nlabel: notatype = output("b")', "line 2: field 'label'"),
        ('text: str = input("a")\nprint("hi")', "line 2: expected `name: type"),
        ('text: str = input("a")\nx: str = output("b", default="z")', "line 2: outputs cannot have a default"),
        ('text: str = input("a")\ntext: str = output("b")', "line 2: 'text' is declared twice"),
        ('text: str = input("a"', "line 1"),
        ('text: str = input("a")', "declares no OutputField"),
        ('t: str = input(desc)\nx: str = output("b")', "line 1: descriptions and defaults must be literals"),
    ],
)
def test_signature_cell_errors_name_the_line(ip, body, message):
    with pytest.raises(UsageError, match=message):
        ip.run_cell_magic("signature", "Bad", body)


def test_kaizen_line_commands(ip, tmp_path):
    providers = ip.run_line_magic("kaizen", "providers")
    assert providers.loc["local", "available"] and providers["default"].sum() == 1
    with capture_output():
        ip.run_line_magic("kaizen", "use mock")
    assert agent_cell(ip, "").provider == "mock"
    assert ip.run_line_magic("kaizen", "providers").loc["mock", "default"]
    with pytest.raises(UsageError, match="Unknown provider"):
        ip.run_line_magic("kaizen", "use nope/model")
    history = ip.run_line_magic("kaizen", "history 1")
    assert list(history["provider"]) == ["mock"] and history["raw"][0].startswith("{")
    with capture_output() as said:
        ip.run_line_magic("kaizen", f"cache on {tmp_path / 'c.sqlite'}")
    assert str(tmp_path / "c.sqlite") in said.stdout + "".join(str(o.data) for o in said.outputs)  # empty, still named
    assert agent_cell(ip, "").cache_hit is False
    assert agent_cell(ip, "").cache_hit is True
    with pytest.raises(UsageError, match="Unknown %kaizen command"):
        ip.run_line_magic("kaizen", "frobnicate")


def test_batch_over_a_dataframe_keeps_failed_rows_with_their_error(ip):
    def reply(messages, request):
        text = messages[-1]["content"].split(": ", 1)[1]
        return "garbage" if "broken" in text else {"sentiment": "positive" if "love" in text else "negative"}

    ip.user_ns["clf"] = BaseAgent(
        signature="review -> sentiment: Literal['positive', 'negative']",
        llm=LLM(FunctionProvider(reply)),
        retry_attempts=0,
    )
    ip.user_ns["reviews"] = pd.DataFrame(
        {"review": ["I love it", "awful", "broken row", "love love"], "id": [1, 2, 3, 4]}
    )
    with capture_output():
        out = ip.run_cell_magic("kaizen", "clf --over reviews --concurrency 2 -o scored", "# columns map to inputs")
    assert ip.user_ns["scored"] is out
    assert [None if pd.isna(v) else v for v in out["sentiment"]] == ["positive", "negative", None, "positive"]
    assert list(out["id"]) == [1, 2, 3, 4]
    assert out["error"].isna().tolist() == [True, True, False, True]
    assert "OutputParseError" in out["error"][2]
    assert out.attrs["kaizen_lab"]["failed"] == 1


def test_batch_needs_matching_columns_or_a_template(ip):
    ip.user_ns["frame"] = pd.DataFrame({"text": ["good", "bad"], "stars": [5, 1]})
    with pytest.raises(UsageError, match=r"no column\(s\) \['review'\]"):
        agent_cell(ip, "-s 'review -> label' --provider mock --over frame", "# map columns")
    with pytest.raises(UsageError, match="'nope', which is not a column"):
        agent_cell(ip, "-s 'review -> label' --provider mock --over frame", "{nope}")
    seen = []
    ip.user_ns["echo"] = BaseAgent(
        signature="review -> label",
        llm=LLM(FunctionProvider(lambda m, q: seen.append(m[-1]["content"]) or {"label": "x"})),
    )
    with capture_output():
        out = ip.run_cell_magic("kaizen", "echo --over frame --concurrency 1", "{text} ({stars} stars)")
    assert sorted(seen) == ["review: bad (1 stars)", "review: good (5 stars)"]
    assert list(out["label"]) == ["x", "x"]


def slow_agent(delay: float = 0.05) -> BaseAgent:
    import asyncio

    class Slow(FunctionProvider):
        async def acomplete(self, request, model):
            await asyncio.sleep(delay)
            return await super().acomplete(request, model)

    return BaseAgent(signature="text -> label", llm=LLM(Slow(lambda m, q: {"label": "ok"})))


def test_background_batch_returns_at_once_and_stores_the_result(ip):
    ip.user_ns["slow"] = slow_agent()
    ip.user_ns["rows"] = pd.DataFrame({"text": [f"row {i}" for i in range(6)]})
    with capture_output():
        handle = ip.run_cell_magic("kaizen", "slow --over rows --concurrency 2 --background -o labelled", "# map")
        assert "running" in repr(handle) and "labelled" not in ip.user_ns
        out = handle.wait(timeout=10)
    assert ip.user_ns["labelled"] is out and list(out["label"]) == ["ok"] * 6 and out["error"].isna().all()
    with pytest.raises(UsageError, match="needs -o"):
        ip.run_cell_magic("kaizen", "slow --over rows --background", "# map")


def test_cancelling_a_background_batch_keeps_the_rows_done(ip):
    ip.user_ns["slow"] = slow_agent(delay=0.1)
    ip.user_ns["rows"] = pd.DataFrame({"text": [f"row {i}" for i in range(30)]})
    with capture_output():
        handle = ip.run_cell_magic("kaizen", "slow --over rows --concurrency 1 --background -o partial", "# map")
        time.sleep(0.35)
        handle.cancel()  # what the progress bar's Cancel button does
        out = handle.wait(timeout=10)
    done = out["error"].isna().sum()
    assert 1 <= done < 30
    assert (out["error"] == "cancelled: not run").sum() == 30 - done
    assert handle.progress.cancelled


def test_signature_strings_keep_their_descriptions(ip):
    view = agent_cell(ip, "-s \"q -> a: str 'One sentence'\" --provider mock --dry-run", "hi")
    assert "a (str): One sentence" in view.messages[0]["content"]


def test_dry_run_of_a_batch_previews_the_first_row_and_calls_nothing(ip):
    import kaizen_lab

    ip.user_ns["frame"] = pd.DataFrame({"review": ["first", "second"]})
    before = len(kaizen_lab.global_usage())
    view = agent_cell(ip, "-s 'review -> label' --provider mock --over frame --dry-run", "# map")
    assert view.messages[-1]["content"] == "review: first" and "first of 2 rows" in view._repr_html_()
    assert len(kaizen_lab.global_usage()) == before
    with pytest.raises(UsageError, match="do not apply to --over"):
        agent_cell(ip, "-s 'review -> label' --provider mock --over frame --stream", "# map")
    with pytest.raises(UsageError, match="--background applies to --over"):
        agent_cell(ip, "--provider mock --background -o x")


def test_agent_with_tools_acts_under_permissions(ip, tmp_path, monkeypatch):
    monkeypatch.setenv("KAIZEN_APPROVAL_POLICY", "deny")  # a headless run: nobody clicks
    line = f"--tools write_file,list_directory --provider mock --max-cycles 2 --workspace {tmp_path} -o res"
    r = agent_cell(ip, line, "Save a note")
    assert ip.user_ns["res"] is r
    assert r.transcript[0].action == "write_file" and r.transcript[0].outcome == "denied"
    assert "decided by policy:deny" in r.warnings[0]
    assert list(tmp_path.iterdir()) == []
    r = agent_cell(ip, line + " --mode bypass", "Save a note")
    assert r.transcript[0].outcome == "executed" and (tmp_path / "mock value").read_text() == "mock value"


def test_agent_tools_options_are_checked(ip, monkeypatch):
    monkeypatch.setenv("KAIZEN_APPROVAL_POLICY", "deny")
    with pytest.raises(UsageError, match="No builtin tool is named 'teleport'"):
        agent_cell(ip, "--tools teleport --provider mock", "x")
    ip.user_ns["frame"] = __import__("pandas").DataFrame({"question": ["a"]})
    with pytest.raises(UsageError, match="leave out --over and --stream"):
        agent_cell(ip, "--tools all --provider mock --over frame", "# per row")
