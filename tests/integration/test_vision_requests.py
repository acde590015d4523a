"""The exact requests VisionAgent sends through litellm, per provider, to a recording server on 127.0.0.1.

One recorder answers in each provider's own wire format — OpenAI (/v1/chat/completions), Ollama (/api/chat),
Anthropic (/v1/messages) and Gemini (...:generateContent) — so each path is checked end to end: our multi-part
message, litellm's translation of it, and the parsing of the reply into the signature's outputs.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

pytest.importorskip("PIL", reason="Pillow is not installed (pip install 'pillow>=10')")
pytest.importorskip("litellm", reason="litellm is not installed")
from PIL import Image, ImageDraw

from kaizen_lab.vision import VisionAgent, VisionAgentConfig, VisionResult

pytestmark = pytest.mark.network_loopback


class Recorder:
    """Records every request; replies with the scripted texts (the last one repeats) in the caller's wire format.
    GET serves ``files`` (path → (bytes, content type)), to stand in for an image URL."""

    def __init__(self) -> None:
        self.replies: list[str] = ['{"answer": "ok"}']
        self.requests: list[dict[str, Any]] = []
        self.gets: list[str] = []
        self.files: dict[str, tuple[bytes, str]] = {}
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> Recorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _reply(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        text = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if path.endswith("/api/chat"):  # Ollama
            return {
                "model": body.get("model"),
                "created_at": "2026-01-01T00:00:00Z",
                "message": {"role": "assistant", "content": text},
                "done": True,
                "done_reason": "stop",
                "prompt_eval_count": 11,
                "eval_count": 7,
            }
        if path.endswith("/messages"):  # Anthropic
            return {
                "id": "msg_test",
                "type": "message",
                "role": "assistant",
                "model": body.get("model"),
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 11, "output_tokens": 7},
            }
        if ":generateContent" in path:  # Gemini
            return {
                "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}],
                "usageMetadata": {"promptTokenCount": 11, "candidatesTokenCount": 7, "totalTokenCount": 18},
            }
        return {  # OpenAI
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                rec.gets.append(self.path)
                found = rec.files.get(self.path)
                if found is None:
                    self._send(404, b"not found", "text/plain")
                else:
                    self._send(200, *found)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                rec.requests.append({"path": self.path, "body": body, "headers": dict(self.headers)})
                self._send(200, json.dumps(rec._reply(self.path, body)).encode(), "application/json")

            def _send(self, status: int, data: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


@pytest.fixture
def server():
    with Recorder() as r:
        yield r


# -- test images ------------------------------------------------------------------------------------------------------
def receipt_png(path) -> None:
    """A receipt-like PNG: white paper, lines of drawn text, a total."""
    img = Image.new("RGB", (480, 640), "white")
    draw = ImageDraw.Draw(img)
    lines = ["CAFE KAIZEN", "2026-11-25 12:04", "", "Espresso      2.80", "Croissant     3.20", "Water         1.50"]
    for i, line in enumerate([*lines, "", "TOTAL EUR    7.50"]):
        draw.text((40, 40 + 28 * i), line, fill="black")
    draw.line((40, 250, 440, 250), fill="black")
    img.save(path, format="PNG")


def big_photo(path) -> None:
    img = Image.new("RGB", (4000, 3000), (30, 90, 160))
    ImageDraw.Draw(img).rectangle((800, 600, 3200, 2400), fill=(230, 190, 40))
    img.save(path, format="JPEG", quality=90)


def alpha_png() -> bytes:
    img = Image.new("RGBA", (320, 240), (0, 0, 0, 0))
    ImageDraw.Draw(img).ellipse((40, 40, 280, 200), fill=(200, 30, 30, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def images(tmp_path):
    receipt, photo = tmp_path / "receipt.png", tmp_path / "photo.jpg"
    receipt_png(receipt)
    big_photo(photo)
    return {"receipt": receipt, "photo": photo, "alpha": alpha_png()}


def data_url_image(url: str) -> tuple[str, Image.Image]:
    header, data = url.split(",", 1)
    return header, Image.open(io.BytesIO(base64.b64decode(data)))


def agent_at(provider: str, model: str, api_base: str, signature: Any = None, **config: Any) -> VisionAgent:
    cfg = VisionAgentConfig(
        llm_provider=provider,
        model=model,
        provider_config={"api_base": api_base, "api_key": "test-key-not-secret"},
        retry_attempts=1,
        **config,
    )
    return VisionAgent(cfg, signature=signature)


# -- OpenAI ---------------------------------------------------------------------------------------------------------
def test_openai_request_is_multi_part_with_a_png_data_url(server, images):
    server.replies = ['{"answer": "The total is EUR 7.50"}']
    agent = agent_at("openai", "gpt-4o", f"{server.base}/v1")
    r = agent.analyze(image=images["receipt"], question="What is the total amount?")
    assert isinstance(r, VisionResult) and r["answer"] == "The total is EUR 7.50"
    assert (r.provider, r.model) == ("openai", "gpt-4o") and r.usage.prompt_tokens == 11

    (sent,) = server.requests
    assert sent["path"] == "/v1/chat/completions"
    body = sent["body"]
    assert body["model"] == "gpt-4o"
    system, user = body["messages"]
    assert system["role"] == "system" and "attached image" in system["content"]
    assert user["role"] == "user"
    text, image = user["content"]
    assert text == {"type": "text", "text": "question: What is the total amount?\n\n[1 image attached: receipt.png]"}
    assert set(image) == {"type", "image_url"} and image["type"] == "image_url"
    header, img = data_url_image(image["image_url"]["url"])
    assert header == "data:image/png;base64" and img.format == "PNG" and img.size == (480, 640)
    # gpt-4o takes a strict JSON schema natively
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["answer"]
    assert "<img src='data:image/jpeg;base64," in r._repr_html_()


def test_openai_big_photo_is_sent_downscaled_as_jpeg(server, images):
    agent = agent_at("openai", "gpt-4o", f"{server.base}/v1", detail="high")
    r = agent.analyze(image=images["photo"], question="What colour is the rectangle?")
    part = server.requests[0]["body"]["messages"][1]["content"][1]
    assert part["image_url"]["detail"] == "high"
    header, img = data_url_image(part["image_url"]["url"])
    assert header == "data:image/jpeg;base64" and img.size == (1568, 1176)
    (info,) = r.images
    assert (info.original_size, info.sent_size, info.mime) == ((4000, 3000), (1568, 1176), "image/jpeg")
    assert info.sent_bytes is not None and info.original_bytes is not None and info.sent_bytes < info.original_bytes


def test_openai_several_images_and_alpha_keep_order_and_format(server, images):
    agent = agent_at("openai", "gpt-4o", f"{server.base}/v1", max_image_side=1000)
    agent.analyze(images=[images["receipt"], images["alpha"], images["photo"]], question="Compare them.")
    parts = server.requests[0]["body"]["messages"][1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "image_url", "image_url"]
    assert "[3 images attached: receipt.png, bytes, photo.jpg]" in parts[0]["text"]
    sizes = [data_url_image(p["image_url"]["url"]) for p in parts[1:]]
    assert [(h, i.size) for h, i in sizes] == [
        ("data:image/png;base64", (480, 640)),
        ("data:image/png;base64", (320, 240)),
        ("data:image/jpeg;base64", (1000, 750)),
    ]
    assert sizes[1][1].mode == "RGBA"  # transparency survives


def test_openai_http_url_is_passed_through_not_fetched(server):
    url = f"{server.base}/never-fetched.png"
    agent_at("openai", "gpt-4o", f"{server.base}/v1").analyze(image=url, question="?")
    part = server.requests[0]["body"]["messages"][1]["content"][1]
    assert part == {"type": "image_url", "image_url": {"url": url}}
    assert server.gets == []


def test_structured_signature_is_parsed_and_re_asked_with_the_image(server, images):
    server.replies = ["The total is 7.50 euros.", '{"total": "7.50", "currency": "EUR"}']
    agent = agent_at("openai", "gpt-4o", f"{server.base}/v1", signature="question -> total: float, currency: str")
    r = agent.analyze(image=images["receipt"], question="Total and currency?")
    assert r["total"] == 7.5 and r["currency"] == "EUR" and r.attempts == 2
    first, second = (q["body"]["messages"] for q in server.requests)
    assert second[: len(first)] == first  # the same turn, image included, then the bad reply and the re-ask
    assert second[1]["content"][1]["type"] == "image_url"
    assert second[2] == {"role": "assistant", "content": "The total is 7.50 euros."}
    assert second[3]["content"].startswith("Your reply was not valid")


# -- other providers through litellm ------------------------------------------------------------------------------
def test_ollama_request_carries_raw_base64_images(server, images):
    server.replies = ['{"answer": "7.50"}']
    agent = agent_at("ollama", "llava", server.base)
    r = agent.analyze(image=images["photo"], question="What is the total amount?")
    assert r["answer"] == "7.50" and (r.provider, r.model) == ("ollama", "llava")
    (sent,) = server.requests
    assert sent["path"] == "/api/chat"
    body = sent["body"]
    assert body["model"] == "llava" and body["stream"] is False
    user = body["messages"][-1]
    assert user["role"] == "user"
    assert user["content"] == "question: What is the total amount?\n\n[1 image attached: photo.jpg]"
    (raw,) = user["images"]
    assert not raw.startswith("data:")  # litellm strips the data URL header: Ollama takes bare base64
    img = Image.open(io.BytesIO(base64.b64decode(raw)))
    assert img.format == "JPEG" and img.size == (1568, 1176)
    assert body["format"]["required"] == ["answer"]  # Ollama's native structured output
    assert body["options"]["num_predict"] == 800


def test_ollama_image_url_is_downloaded_and_inlined(server, images):
    server.files["/scans/receipt.png"] = (images["receipt"].read_bytes(), "image/png")
    agent = agent_at("ollama", "llava", server.base)
    r = agent.analyze(image=f"{server.base}/scans/receipt.png", question="?")
    assert server.gets == ["/scans/receipt.png"]
    (raw,) = server.requests[0]["body"]["messages"][-1]["images"]
    assert Image.open(io.BytesIO(base64.b64decode(raw))).size == (480, 640)
    assert r.images[0].source == "receipt.png"


def test_anthropic_request_has_base64_image_blocks(server, images):
    server.replies = ['{"answer": "7.50"}']
    agent = agent_at("anthropic", "claude-sonnet-4-5", server.base)
    r = agent.analyze(images=[images["receipt"], images["alpha"]], question="Total?")
    assert r["answer"] == "7.50" and r.provider == "anthropic"
    (sent,) = server.requests
    assert sent["path"] == "/v1/messages"
    assert sent["headers"].get("x-api-key") == "test-key-not-secret"
    body = sent["body"]
    assert "attached image" in json.dumps(body["system"])  # the system prompt travels apart from the messages
    (user,) = body["messages"]
    text, first, second = user["content"]
    assert text["type"] == "text" and text["text"].startswith("question: Total?")
    for block, size in ((first, (480, 640)), (second, (320, 240))):
        assert block["type"] == "image" and block["source"]["type"] == "base64"
        assert block["source"]["media_type"] == "image/png"
        assert Image.open(io.BytesIO(base64.b64decode(block["source"]["data"]))).size == size


def test_gemini_request_has_inline_data_parts(server, images):
    server.replies = ['{"answer": "7.50"}']
    agent = agent_at("gemini", "gemini-2.0-flash", server.base)
    r = agent.analyze(image=images["photo"], question="Total?")
    assert r["answer"] == "7.50" and r.provider == "gemini"
    (sent,) = server.requests
    assert sent["path"].split("?")[0].endswith("/models/gemini-2.0-flash:generateContent")
    parts = [p for c in sent["body"]["contents"] for p in c["parts"]]
    inline = [p["inline_data"] for p in parts if "inline_data" in p]
    assert len(inline) == 1 and inline[0]["mime_type"] == "image/jpeg"
    assert Image.open(io.BytesIO(base64.b64decode(inline[0]["data"]))).size == (1568, 1176)
    assert any(p.get("text", "").startswith("question: Total?") for p in parts)


def test_auto_detection_finds_a_pulled_ollama_vision_model(server):
    from kaizen_lab.vision.agent import _ollama_vision_model

    tags = {"models": [{"name": "llama3.2:latest"}, {"name": "llava:13b"}, {"name": "moondream:latest"}]}
    server.files["/api/tags"] = (json.dumps(tags).encode(), "application/json")
    assert _ollama_vision_model(server.base) == "llava:13b"
    server.files["/api/tags"] = (json.dumps({"models": [{"name": "llama3.2:latest"}]}).encode(), "application/json")
    assert _ollama_vision_model(server.base) is None
