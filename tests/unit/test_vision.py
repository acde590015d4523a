"""VisionAgent offline: image loading from every input kind, downscaling, the Kaizen pitfalls' messages, and the
refusal to answer with a model that cannot see."""

from __future__ import annotations

import base64
import io

import pytest

PIL = pytest.importorskip("PIL", reason="Pillow is not installed (pip install 'pillow>=10')")
from PIL import Image, ImageDraw  # noqa: E402

from kaizen_lab.exceptions import ConfigurationError  # noqa: E402
from kaizen_lab.llm.client import LLM  # noqa: E402
from kaizen_lab.llm.providers import get_provider  # noqa: E402
from kaizen_lab.llm.testing import FunctionProvider  # noqa: E402
from kaizen_lab.vision import (  # noqa: E402
    VisionAgent,
    VisionAgentConfig,
    VisionResult,
    fit_size,
    prepare_image,
    vision_support,
)


def png_bytes(size=(300, 200), mode="RGB", color=(255, 255, 255)) -> bytes:
    img = Image.new(mode, size, color if mode == "RGB" else (*color[:3], 128))
    ImageDraw.Draw(img).text((10, 10), "TOTAL 42.50", fill=(0, 0, 0) if mode == "RGB" else (0, 0, 0, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes(size=(300, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def decoded(url: str) -> Image.Image:
    _header, data = url.split(",", 1)
    return Image.open(io.BytesIO(base64.b64decode(data)))


@pytest.fixture
def receipt(tmp_path):
    path = tmp_path / "receipt.png"
    path.write_bytes(png_bytes())
    return path


def seeing_agent(replies=None, **config):
    """A VisionAgent on a scripted fake (a test double counts as seeing); ``provider.calls`` keeps the requests."""
    provider = FunctionProvider(replies or [{"answer": "42.50"}])
    return VisionAgent(VisionAgentConfig(**config), llm=LLM(provider)), provider


# -- loading ----------------------------------------------------------------------------------------------------------
def test_fit_size_keeps_aspect_and_never_enlarges():
    assert fit_size((4000, 3000), 1568) == (1568, 1176)
    assert fit_size((3000, 4000), 1568) == (1176, 1568)
    assert fit_size((800, 600), 1568) == (800, 600)
    assert fit_size((1568, 10), 1568) == (1568, 10)
    assert fit_size((10000, 10), 1000) == (1000, 1)
    assert fit_size((1, 5000), 1568) == (1, 1568)
    with pytest.raises(ConfigurationError):
        fit_size((10, 10), 0)


def test_path_str_and_pathlike_load_the_same_image(receipt):
    for given in (receipt, str(receipt)):
        img = prepare_image(given)
        assert img.source == "receipt.png"
        assert img.mime == "image/png" and img.url.startswith("data:image/png;base64,")
        assert img.original_size == img.sent_size == (300, 200) and not img.resized
        assert img.sent_bytes == img.original_bytes == receipt.stat().st_size  # small PNG: sent as is
        assert img.thumbnail and img.thumbnail.startswith("data:image/jpeg;base64,")


def test_bytes_pil_and_data_url_inputs():
    raw = png_bytes()
    assert prepare_image(raw).sent_size == (300, 200)
    assert prepare_image(bytearray(raw)).source == "bytes"
    pil = Image.open(io.BytesIO(raw))
    assert prepare_image(pil).sent_size == (300, 200)
    assert prepare_image(Image.new("RGB", (50, 40))).source == "PIL image"
    url = "data:image/png;base64," + base64.b64encode(raw).decode()
    img = prepare_image(url)
    assert img.source == "data URL" and decoded(img.url).size == (300, 200)


def test_jpeg_stays_jpeg_and_unchanged_bytes_are_sent_as_is():
    raw = jpeg_bytes()
    img = prepare_image(raw)
    assert img.mime == "image/jpeg" and base64.b64decode(img.url.split(",", 1)[1]) == raw


def test_http_url_is_passed_through_unfetched():
    img = prepare_image("https://example.com/receipt.png")
    assert img.url == "https://example.com/receipt.png" and img.sent_size is None
    assert img.part() == {"type": "image_url", "image_url": {"url": "https://example.com/receipt.png"}}
    assert img.part("low")["image_url"]["detail"] == "low"
    assert "not fetched" in img.describe()


def test_url_for_a_provider_without_urls_is_fetched_through_the_given_function():
    seen = []
    img = prepare_image(
        "https://example.com/a/scan.png?x=1", pass_urls=False, fetch=lambda u: seen.append(u) or png_bytes()
    )
    assert seen == ["https://example.com/a/scan.png?x=1"]
    assert img.source == "scan.png" and img.url.startswith("data:image/png;base64,")


def test_big_photo_is_downscaled_to_max_side_as_jpeg():
    big = Image.new("RGB", (4000, 3000), (10, 80, 160))
    ImageDraw.Draw(big).ellipse((500, 500, 3500, 2500), fill=(240, 200, 0))
    img = prepare_image(big)
    assert img.original_size == (4000, 3000) and img.sent_size == (1568, 1176) and img.resized
    assert img.mime == "image/jpeg" and decoded(img.url).size == (1568, 1176)
    assert "4000×3000 → 1568×1176 JPEG" in img.describe()
    small = prepare_image(big, max_side=800)
    assert small.sent_size == (800, 600)


def test_alpha_is_kept_as_png():
    img = prepare_image(png_bytes(mode="RGBA", size=(2000, 1000)), max_side=500)
    assert img.mime == "image/png" and img.sent_size == (500, 250)
    assert decoded(img.url).mode == "RGBA"
    assert img.thumbnail.startswith("data:image/png;base64,")


def test_byte_limit_re_encodes_then_shrinks():
    noise = Image.effect_noise((1200, 900), 100).convert("RGB")
    img = prepare_image(noise, max_bytes=150_000)
    assert img.sent_bytes <= 150_000 and img.mime == "image/jpeg"
    assert img.sent_size is not None and max(img.sent_size) <= 1200


# -- pitfalls ---------------------------------------------------------------------------------------------------------
def test_too_large_even_after_downscaling_says_so():
    noise = Image.effect_noise((1000, 1000), 100).convert("RGB")
    with pytest.raises(ConfigurationError, match=r"still .* over the .* limit \(max_image_bytes=2000\)"):
        prepare_image(noise, max_bytes=2000)


def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nope" / "receipt.jpg"
    with pytest.raises(FileNotFoundError, match=r"nope/receipt\.jpg"):
        prepare_image(str(missing))


def test_base64_string_passed_as_a_path_is_explained():
    data = base64.b64encode(png_bytes()).decode()
    with pytest.raises(ConfigurationError, match=r"looks like base64 data.*base64.b64decode"):
        prepare_image(data)
    plain = base64.b64encode(b"x" * 120).decode()  # no image header, still base64
    with pytest.raises(ConfigurationError, match="looks like base64"):
        prepare_image(plain)
    with pytest.raises(ConfigurationError, match=r"base64 text, not image bytes.*b64decode"):
        prepare_image(data.encode())
    photo = base64.b64encode(b"\xff\xd8\xff" + b"x" * 6000).decode()  # longer than any file name may be
    with pytest.raises(ConfigurationError, match="looks like base64"):
        prepare_image(photo)


def test_non_image_files_are_refused_clearly(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a picture at all")
    with pytest.raises(ConfigurationError, match=r"notes.txt is not an image \(text"):
        prepare_image(text)
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(b"%PDF-1.7\n" + bytes(range(256)))
    with pytest.raises(ConfigurationError, match=r"scan.pdf is not an image \(a PDF"):
        prepare_image(pdf)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ConfigurationError, match="empty"):
        prepare_image(empty)
    with pytest.raises(ConfigurationError, match="folder"):
        prepare_image(tmp_path)
    with pytest.raises(ConfigurationError, match="Cannot use a int"):
        prepare_image(42)


def test_prompt_is_refused_with_the_fix(receipt):
    agent, provider = seeing_agent()
    with pytest.raises(ConfigurationError, match="takes question=, not prompt="):
        agent.analyze(image=receipt, prompt="What is the total?")
    with pytest.raises(ConfigurationError, match="not image_path="):
        agent.analyze(image_path=receipt, question="?")
    with pytest.raises(ConfigurationError, match="Pass the image"):
        agent.analyze(question="What is the total?")
    with pytest.raises(ConfigurationError, match="needs input"):
        agent.analyze(image=receipt)
    with pytest.raises(ConfigurationError, match="max_images=1"):
        VisionAgent(VisionAgentConfig(max_images=1), llm=LLM(provider)).analyze(images=[receipt, receipt], question="?")
    assert provider.calls == []  # none of these reached the model


# -- the run ---------------------------------------------------------------------------------------------------------
def test_analyze_sends_images_in_the_user_message_and_returns_a_vision_result(receipt):
    agent, provider = seeing_agent()
    r = agent.analyze(image=receipt, question="What is the total amount?")
    assert isinstance(r, VisionResult) and r["answer"] == "42.50"
    user = provider.calls[0].messages[-1]
    assert user["role"] == "user"
    text, part = user["content"]
    assert text == {
        "type": "text",
        "text": "question: What is the total amount?\n\n[1 image attached: receipt.png]",
    }
    assert part["type"] == "image_url" and part["image_url"]["url"].startswith("data:image/png;base64,")
    assert [i.sent_size for i in r.images] == [(300, 200)]
    page = r._repr_html_()
    assert "<img src='data:image/jpeg;base64," in page and "42.50" in page and "receipt.png: 300×200 PNG" in page


def test_re_ask_keeps_the_images_on_the_original_turn(receipt):
    agent, provider = seeing_agent(["I think 42", {"answer": "42"}])
    r = agent.analyze(images=[receipt, png_bytes(size=(64, 64))], question="Total?")
    assert r["answer"] == "42" and r.attempts == 2
    second = provider.calls[1].messages
    parts = second[1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "image_url"]
    assert "2 images attached: receipt.png, bytes" in parts[0]["text"]
    assert second[-1]["content"].startswith("Your reply was not valid")  # the repair message stays text


def test_custom_signature_outputs_are_validated(receipt):
    agent, provider = seeing_agent([{"total": "42.5", "currency": "EUR"}])
    agent = VisionAgent(signature="question -> total: float, currency: str", llm=LLM(provider))
    r = agent.analyze(image=receipt, question="Total and currency?")
    assert r["total"] == 42.5 and r["currency"] == "EUR"
    no_question = VisionAgent(signature="image_kind -> label", llm=LLM(FunctionProvider([])))
    with pytest.raises(ConfigurationError, match="has no 'question' input"):
        no_question.analyze(image=receipt, question="?")


def test_detail_is_sent_for_openai_style_parts(receipt):
    agent, provider = seeing_agent(detail="low")
    agent.analyze(image=receipt, question="?")
    assert provider.calls[0].messages[-1]["content"][1]["image_url"]["detail"] == "low"


# -- no model that can see --------------------------------------------------------------------------------------------
@pytest.fixture
def nothing_configured(no_provider_env, monkeypatch):
    import kaizen_lab.llm.providers as providers

    monkeypatch.setattr(providers, "_port_open", lambda port, timeout=0.15: False)  # no Ollama, no Docker here
    return monkeypatch


def test_no_vision_provider_fails_at_analyze_with_what_to_do(nothing_configured, receipt):
    agent = VisionAgent()  # building it works (it can be shown, described); using it says why not
    assert agent.llm.provider_name == "none"
    with pytest.raises(ConfigurationError) as err:
        agent.analyze(image=receipt, question="What is the total?")
    message = str(err.value)
    for hint in ("text-only", "ollama pull llava", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        assert hint in message
    with pytest.raises(ConfigurationError, match="ollama pull llava"):
        agent.run(question="What is the total?")


def test_the_embedded_text_model_is_never_used_for_images(nothing_configured, receipt):
    for agent in (VisionAgent(llm_provider="local"), VisionAgent(VisionAgentConfig(llm_provider="local"))):
        with pytest.raises(ConfigurationError, match=r"text-only.*ollama pull llava"):
            agent.analyze(image=receipt, question="?")
    nothing_configured.setenv("KAIZEN_DEFAULT_PROVIDER", "local")
    with pytest.raises(ConfigurationError, match="KAIZEN_DEFAULT_PROVIDER='local' has no vision model"):
        VisionAgent().analyze(image=receipt, question="?")


def test_a_configured_key_picks_that_providers_vision_model(nothing_configured):
    nothing_configured.setenv("ANTHROPIC_API_KEY", "sk-test-not-real")
    agent = VisionAgent()
    assert (agent.llm.provider_name, agent.llm.model) == ("anthropic", "claude-sonnet-4-5")
    assert agent.vision_problem is None
    nothing_configured.setenv("OPENAI_API_KEY", "sk-test-not-real")
    assert VisionAgent().llm.model == "gpt-4o-mini"  # OpenAI comes first in the detection order
    assert VisionAgent(model="gpt-4o").llm.model == "gpt-4o"
    assert VisionAgent(llm_provider="ollama").llm.model == "llava"


def test_unknown_models_need_assume_vision(nothing_configured):
    config = {"api_base": "http://127.0.0.1:9/v1", "api_key": "x"}
    unknown = VisionAgent(llm_provider="openai", model="my-vlm", provider_config=config)
    assert "assume_vision=True" in (unknown.vision_problem or "")
    trusted = VisionAgent(
        VisionAgentConfig(llm_provider="openai", model="my-vlm", provider_config=config, assume_vision=True)
    )
    assert trusted.vision_problem is None


def test_vision_support_answers():
    assert vision_support(get_provider("openai"), "gpt-4o") is True
    assert vision_support(get_provider("ollama"), "llava") is True
    assert vision_support(get_provider("ollama"), "llama3.2-vision:11b") is True
    assert vision_support(get_provider("ollama"), "bakllava") is True
    assert vision_support(get_provider("ollama"), "llama3.2") is not True
    assert vision_support(get_provider("openai"), "smollm2") is None
    assert vision_support(get_provider("mock"), "mock-model") is True


def test_importing_vision_does_not_load_pillow_or_litellm():
    import subprocess
    import sys

    code = "import sys, kaizen_lab.vision; print(any(m in sys.modules for m in ('PIL', 'litellm')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_exif_rotated_photo_is_sent_upright(tmp_path):
    img = Image.new("RGB", (400, 200), (0, 0, 0))
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    sent = prepare_image(buf.getvalue())
    assert sent.original_size == sent.sent_size == (200, 400)
    assert decoded(sent.url).size == (200, 400)


def test_url_downloads_respect_the_no_network_switch(nothing_configured):
    from kaizen_lab.vision.agent import _fetch_url

    with pytest.raises(ConfigurationError, match="switched off here"):
        _fetch_url("https://example.com/receipt.png")
