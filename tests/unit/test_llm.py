"""The LLM call surface: retries and backoff, the response cache, detection, the network guard."""

from __future__ import annotations

import socket

import pytest

from kaizen_lab import (
    LLM,
    BaseAgent,
    ConfigurationError,
    FunctionProvider,
    ModelRequestsForbidden,
    ProviderError,
    ResponseCache,
    allow_model_requests,
    default_provider,
    detect_providers,
)
from kaizen_lab._secrets import redact
from kaizen_lab.llm.providers import split_model

MSG = [{"role": "user", "content": "hi"}]


def flaky(*errors: Exception, reply: str = "ok") -> FunctionProvider:
    return FunctionProvider([*errors, reply])


def transient(status: int = 503, retry_after: float | None = None) -> ProviderError:
    return ProviderError("boom", provider="p", status=status, retry_after=retry_after, retryable=True)


def test_transient_faults_are_retried_then_succeed():
    llm = LLM(flaky(transient(), transient(429)), retry_attempts=3, backoff=0.001)
    assert llm.complete(MSG).content == "ok"


def test_retries_are_bounded_and_the_error_says_how_many():
    llm = LLM(flaky(*[transient()] * 3), retry_attempts=2, backoff=0.001)
    with pytest.raises(ProviderError, match="after 3 attempts") as err:
        llm.complete(MSG)
    assert err.value.status == 503


def test_permanent_faults_are_not_retried():
    provider = flaky(ProviderError("bad key", provider="p", status=401, retryable=False))
    with pytest.raises(ProviderError, match="bad key"):
        LLM(provider, retry_attempts=5).complete(MSG)
    assert len(provider.calls) == 1


def test_retry_after_is_honoured_and_capped():
    llm = LLM(FunctionProvider(["ok"]), backoff=0.5, max_backoff=2.0)
    assert llm._delay(0, retry_after=1.5) == 1.5
    assert llm._delay(0, retry_after=100) == 2.0
    assert 0.5 <= llm._delay(0, None) <= 0.625
    assert 1.0 <= llm._delay(1, None) <= 1.25


def test_cache_hits_are_visible_and_skip_the_provider(tmp_path):
    provider = FunctionProvider(lambda m, r: "fresh")
    llm = LLM(provider, cache=ResponseCache(tmp_path / "c.sqlite"))
    first, second = llm.complete(MSG), llm.complete(MSG)
    assert (first.cache_hit, second.cache_hit) == (False, True)
    assert second.content == "fresh" and len(provider.calls) == 1
    llm.complete([{"role": "user", "content": "different"}])
    assert len(provider.calls) == 2


def test_cache_key_covers_parameters(tmp_path):
    provider = FunctionProvider(lambda m, r: "x")
    llm = LLM(provider, cache=ResponseCache(tmp_path / "c.sqlite"))
    llm.complete(MSG, temperature=0.0)
    llm.complete(MSG, temperature=0.7)
    assert len(provider.calls) == 2


def test_record_then_replay_runs_without_the_model(tmp_path):
    path = tmp_path / "rec.sqlite"
    LLM(FunctionProvider(["recorded"]), cache=ResponseCache(path, mode="record")).complete(MSG)
    replay = LLM(FunctionProvider([]), cache=ResponseCache(path, mode="replay"))
    assert replay.complete(MSG).content == "recorded"
    with pytest.raises(ConfigurationError, match="replay mode"):
        replay.complete([{"role": "user", "content": "never recorded"}])


def test_agent_results_report_cache_hits(tmp_path):
    cfg = {"llm_provider": "mock", "cache": str(tmp_path / "agent.sqlite")}
    agent = BaseAgent(cfg, signature="question -> answer")
    assert agent.run(question="q").cache_hit is False
    assert agent.run(question="q").cache_hit is True


def test_bad_cache_mode_is_rejected():
    with pytest.raises(ConfigurationError, match="Cache mode"):
        ResponseCache(mode="sometimes")  # type: ignore[arg-type]


def test_nothing_configured_means_the_local_model(no_provider_env):
    assert default_provider() == "local"
    names = [p.name for p in detect_providers()]
    assert names[:6] == ["openai", "azure", "anthropic", "google", "ollama", "docker"]


def test_detection_order_and_override(no_provider_env):
    no_provider_env.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-value-123456")
    no_provider_env.setenv("GEMINI_API_KEY", "g" * 30)
    assert default_provider() == "anthropic"
    no_provider_env.setenv("OPENAI_API_KEY", "sk-secret-value-123456")
    assert default_provider() == "openai"
    no_provider_env.setenv("KAIZEN_DEFAULT_PROVIDER", "mock")
    assert default_provider() == "mock"
    reasons = " ".join(p.reason for p in detect_providers())
    assert "sk-" not in reasons and "OPENAI_API_KEY is set" in reasons
    no_provider_env.setenv("KAIZEN_DEFAULT_PROVIDER", "nope")
    with pytest.raises(ConfigurationError, match="KAIZEN_DEFAULT_PROVIDER"):
        default_provider()


def test_a_listening_ollama_port_is_detected(no_provider_env):
    with socket.socket() as server:
        try:
            server.bind(("127.0.0.1", 11434))
        except OSError:
            pytest.skip("port 11434 is taken on this machine")
        server.listen()
        assert default_provider() == "ollama"


def test_model_string_may_carry_the_provider():
    assert split_model("ollama/llama3.2") == ("ollama", "llama3.2")
    assert split_model("meta-llama/Llama-3") == (None, "meta-llama/Llama-3")
    llm = LLM(model="ollama/llama3.2")
    assert (llm.provider_name, llm.model) == ("ollama", "llama3.2")


def test_remote_calls_are_forbidden_in_tests_but_loopback_is_allowed():
    llm = LLM("openai", "gpt-4o-mini", provider_config={"api_key": "sk-test-not-real-000000"}, retry_attempts=0)
    with pytest.raises(ModelRequestsForbidden, match="switched off"):
        llm.complete(MSG)
    with allow_model_requests(False):
        loopback = LLM("openai", "x", provider_config={"api_base": "http://127.0.0.1:9/v1"}, retry_attempts=0)
        with pytest.raises(ProviderError) as err:  # refused: a real attempt, not the guard
            loopback.complete(MSG, timeout=2)
        assert not isinstance(err.value, ModelRequestsForbidden)


def test_the_offline_guard_judges_the_address_litellm_will_use_from_the_environment(monkeypatch):
    # litellm sends an openai request to OPENAI_BASE_URL when no api_base is given; the guard must look there too.
    llm = LLM("openai", "x", provider_config={"api_key": "sk-test-not-real-000000"}, retry_attempts=0)
    with allow_model_requests(False):
        monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
        with pytest.raises(ProviderError) as err:  # a real attempt at the loopback port, refused there
            llm.complete(MSG, timeout=2)
        assert not isinstance(err.value, ModelRequestsForbidden)
        monkeypatch.setenv("OPENAI_BASE_URL", "https://api.example.com/v1")
        with pytest.raises(ModelRequestsForbidden, match="switched off"):
            llm.complete(MSG)


def test_secrets_are_redacted(monkeypatch):
    monkeypatch.setenv("MY_SERVICE_API_KEY", "abcdefgh12345678")
    text = redact("key abcdefgh12345678 and sk-proj-ABCDEFGHIJKLMNOP and hf_abcdefghijklmnopqrstuvwxyz")
    assert "abcdefgh12345678" not in text and "sk-proj" not in text and "hf_" not in text


def test_cache_keys_tell_servers_apart_and_hits_cost_nothing(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    a = LLM("openai", "m", provider_config={"api_base": "http://127.0.0.1:1/v1"}, cache=cache)
    b = LLM("openai", "m", provider_config={"api_base": "http://127.0.0.1:2/v1"}, cache=cache)
    request = a.request(MSG)
    key_a = ResponseCache.key(a.provider.cache_identity(), a.model, request)
    key_b = ResponseCache.key(b.provider.cache_identity(), b.model, request)
    assert key_a != key_b
    priced = FunctionProvider(lambda m, r: "x")
    llm = LLM(priced, cache=ResponseCache(tmp_path / "d.sqlite"))
    first = llm.complete(MSG)
    first_cost = first.cost
    assert llm.complete(MSG).cost == 0.0 and first_cost == 0.0
