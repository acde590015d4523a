"""The litellm provider path against a real HTTP server on 127.0.0.1: structured output, faults, retries."""

from __future__ import annotations

import socket
import time

import pytest

from kaizen_lab import BaseAgent, OutputParseError, ProviderError, QAConfig, SimpleQAAgent
from kaizen_lab.llm.local import local_model_available
from tests.servers import Fault, OpenAICompatibleServer, Slow, Text, llama_backend

pytestmark = pytest.mark.network_loopback
SIG = "question -> answer, confidence: float"


def http_agent(url: str, signature: str = SIG, structured: str | None = None, **kw):
    provider_config = {"api_base": url, "api_key": "test-key-not-secret"}
    if structured:
        provider_config["structured"] = structured
    kw.setdefault("retry_attempts", 2)
    return BaseAgent(signature=signature, llm_provider="openai", model="smollm2", provider_config=provider_config, **kw)


@pytest.fixture
def server():
    with OpenAICompatibleServer() as s:
        yield s


@pytest.mark.local_model
@pytest.mark.skipif(not local_model_available(), reason="embedded model not installed (make install)")
def test_real_model_over_http_with_native_json_schema():
    with OpenAICompatibleServer(llama_backend) as s:
        config = QAConfig(
            llm_provider="openai",
            model="smollm2",
            provider_config={"api_base": s.url, "api_key": "x", "structured": "json_schema"},
        )
        r = SimpleQAAgent(config).ask("What is the capital of France?")
        assert "Paris" in r["answer"]
        assert 0.0 <= r["confidence"] <= 1.0
        assert (r.provider, r.model) == ("openai", "smollm2")
        assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
        sent = s.requests[0]["response_format"]
        assert sent["type"] == "json_schema" and sent["json_schema"]["strict"] is True
        assert sent["json_schema"]["schema"]["required"] == ["answer", "confidence", "reasoning"]


def test_prompt_mode_parses_prose_wrapped_json(server):
    server.script = [Text('Sure!\n```json\n{"answer": "Paris", "confidence": 0.9,}\n```')]
    r = http_agent(server.url).run(question="Capital of France?")
    assert r["answer"] == "Paris" and r["confidence"] == 0.9
    assert "response_format" not in server.requests[0]  # unknown model: the schema travels in the prompt
    assert "JSON schema" in server.requests[0]["messages"][0]["content"]


def test_invalid_reply_is_re_asked_over_http(server):
    server.script = [Text("Paris, I believe."), Text('{"answer": "Paris", "confidence": 0.8}')]
    r = http_agent(server.url).run(question="Capital of France?")
    assert r["answer"] == "Paris" and r.attempts == 2
    assert "not valid: the reply contained no JSON object" in server.requests[1]["messages"][-1]["content"]


def test_parse_failure_after_retries_keeps_the_raw_reply(server):
    server.script = [Text("no"), Text("still no")]
    with pytest.raises(OutputParseError) as err:
        http_agent(server.url, retry_attempts=1).run(question="?")
    assert err.value.raw == "still no"


def test_429_with_retry_after_is_waited_out(server):
    server.script = [Fault(429, {"Retry-After": "0.3"}), Text('{"answer": "ok", "confidence": 1}')]
    started = time.perf_counter()
    r = http_agent(server.url).run(question="?")
    assert r["answer"] == "ok" and len(server.requests) == 2
    assert time.perf_counter() - started >= 0.3


def test_5xx_are_retried_then_raised_with_status(server):
    server.script = [Fault(500), Fault(502), Fault(503)]
    with pytest.raises(ProviderError) as err:
        http_agent(server.url, retry_attempts=2).llm.complete([{"role": "user", "content": "hi"}])
    assert err.value.status == 503 and err.value.provider == "openai" and err.value.model == "smollm2"
    assert err.value.retryable and "after 3 attempts" in str(err.value)
    assert len(server.requests) == 3


def test_auth_errors_are_not_retried(server):
    server.script = [Fault(401, message="invalid api key test-key-not-secret")]
    with pytest.raises(ProviderError) as err:
        http_agent(server.url).run(question="?")
    assert err.value.status == 401 and not err.value.retryable
    assert len(server.requests) == 1
    assert "authentication failed" in str(err.value)


def test_timeouts_do_not_block_and_are_retried(server):
    server.script = [Slow(3), Text('{"answer": "late but fine", "confidence": 1}')]
    started = time.perf_counter()
    r = http_agent(server.url, timeout=0.5).run(question="?")
    assert r["answer"] == "late but fine"
    assert time.perf_counter() - started < 2.5


def test_connection_refused_is_a_retryable_provider_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connections are refused
        agent = http_agent(f"http://127.0.0.1:{port}/v1", retry_attempts=1)
        with pytest.raises(ProviderError) as err:
            agent.llm.complete([{"role": "user", "content": "hi"}], timeout=3)
    assert err.value.retryable


async def test_async_run_over_http(server):
    server.script = [Text('{"answer": "async", "confidence": 0.5}')]
    r = await http_agent(server.url).arun(question="?")
    assert r["answer"] == "async"


def test_streaming_over_http_passes_text_on_as_it_arrives(server):
    from kaizen_lab import stream_to

    reply = '{"answer": "Paris", "confidence": 0.9}'
    server.script = [Text(reply)]
    pieces: list[str] = []
    with stream_to(pieces.append):
        r = http_agent(server.url).run(question="Capital of France?")
    assert server.requests[0]["stream"] is True
    assert len(pieces) > 3 and "".join(pieces) == reply
    assert r["answer"] == "Paris" and r.usage.completion_tokens == len(pieces)


def test_a_key_that_does_not_look_like_one_is_still_redacted(server):
    server.script = [Fault(400, message="bad request for key test-key-not-secret")]
    with pytest.raises(ProviderError) as err:
        http_agent(server.url).run(question="?")
    assert "test-key-not-secret" not in str(err.value)
