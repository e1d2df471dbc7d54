"""A scripted model server for driving the real agent CLIs in tests.

It speaks just enough of two wire protocols, both streamed as server-sent
events, for an agent CLI to believe it talks to a model:

- the OpenAI Responses API (`POST /v1/responses`), what codex uses: each
  scripted command becomes a function call to codex's `exec_command` tool
  (`{cmd, workdir}`), or to `shell` (`{command: [...]}`) if that is offered;
- the Anthropic Messages API (`POST /v1/messages`), what claude uses: each
  command becomes a `tool_use` of its `Bash` tool.

The script is a list of shell commands followed by a closing message. The
server is stateless: which step to answer with is the number of tool results
already in the request, so a retried request gets the same answer. Requests
that offer no shell tool (claude's side requests, e.g. a title) get a short
text reply. Every request is kept (`requests`) for the test to read what the
agent saw, e.g. a hook's refusal in a tool result.

Bounded: it listens on 127.0.0.1 only, on a random port, answers at most
`max_requests` requests and shuts itself down after `lifetime` seconds.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

USAGE = {"input_tokens": 1200, "output_tokens": 80}


@dataclass
class Script:
    commands: list[str]
    closing: str
    workdir: str = ""  # for codex's exec_command; "" lets the CLI use its own cwd

    def step(self, done: int) -> tuple[str, str]:
        """("run", command) for the next command, else ("say", closing message)."""
        if done < len(self.commands):
            return "run", self.commands[done]
        return "say", self.closing


@dataclass
class ModelServer:
    script: Script
    lifetime: float = 300.0
    max_requests: int = 200
    requests: list[dict[str, Any]] = field(default_factory=list)
    tool_results: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._timer = threading.Timer(self.lifetime, self.close)
        self._timer.daemon = True

    def __enter__(self) -> ModelServer:
        self._thread.start()
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()

    def note(self, path: str, body: dict[str, Any]) -> bool:
        """Keep a request; False once the request budget is spent."""
        with self._lock:
            self.requests.append({"path": path, "body": body})
            return len(self.requests) <= self.max_requests

    # --- OpenAI Responses ---------------------------------------------------------

    def responses(self, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        items = [i for i in body.get("input", []) if isinstance(i, dict)]
        outputs = [i for i in items if i.get("type") == "function_call_output"]
        self._keep_results(str(i.get("output")) for i in outputs)
        tools = {t.get("name") for t in body.get("tools", []) if isinstance(t, dict)}
        rid = f"resp_{len(self.requests)}"
        yield {"type": "response.created", "response": {"id": rid}}
        kind, text = self.script.step(len(outputs))
        if kind == "run" and "exec_command" in tools:
            args: dict[str, Any] = {"cmd": text}
            if self.script.workdir:
                args["workdir"] = self.script.workdir
            yield _function_call(f"call_{len(outputs)}", "exec_command", args)
        elif kind == "run" and "shell" in tools:
            yield _function_call(f"call_{len(outputs)}", "shell",
                                 {"command": ["bash", "-c", text]})
        else:
            if kind == "run":
                text = f"no shell tool offered (tools: {sorted(map(str, tools))})"
            yield {"type": "response.output_item.done", "item": {
                "type": "message", "role": "assistant", "id": f"msg_{rid}",
                "content": [{"type": "output_text", "text": text}]}}
        usage = {**USAGE, "input_tokens_details": {"cached_tokens": 0},
                 "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": USAGE["input_tokens"] + USAGE["output_tokens"]}
        yield {"type": "response.completed", "response": {"id": rid, "usage": usage}}

    # --- Anthropic Messages ------------------------------------------------------

    def messages(self, body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        tools = {t.get("name") for t in body.get("tools", []) if isinstance(t, dict)}
        results = []
        for message in body.get("messages", []):
            content = message.get("content") if isinstance(message, dict) else None
            for block in content if isinstance(content, list) else []:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    results.append(_text_of(block.get("content")))
        mid = f"msg_{len(self.requests)}"
        yield "message_start", {"type": "message_start", "message": {
            "id": mid, "type": "message", "role": "assistant",
            "model": body.get("model", "scripted"), "content": [], "stop_reason": None,
            "stop_sequence": None, "usage": {"input_tokens": USAGE["input_tokens"],
                                             "output_tokens": 1}}}
        if "Bash" not in tools:  # a side request (title, summary): a short answer
            kind, text = "say", "ok"
        else:
            self._keep_results(results)
            kind, text = self.script.step(len(results))
        if kind == "run":
            block = {"type": "tool_use", "id": f"toolu_{len(results)}", "name": "Bash",
                     "input": {}}
            delta = {"type": "input_json_delta",
                     "partial_json": json.dumps({"command": text, "description": "run"})}
            stop = "tool_use"
        else:
            block = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": text}
            stop = "end_turn"
        yield "content_block_start", {"type": "content_block_start", "index": 0,
                                      "content_block": block}
        yield "content_block_delta", {"type": "content_block_delta", "index": 0,
                                      "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": 0}
        yield "message_delta", {"type": "message_delta",
                                "delta": {"stop_reason": stop, "stop_sequence": None},
                                "usage": {"output_tokens": USAGE["output_tokens"]}}
        yield "message_stop", {"type": "message_stop"}

    def _keep_results(self, results: Iterator[str] | list[str]) -> None:
        with self._lock:
            for text in results:
                if text not in self.tool_results:
                    self.tool_results.append(text)


def _function_call(call_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"type": "response.output_item.done", "item": {
        "type": "function_call", "id": f"fc_{call_id}", "call_id": call_id, "name": name,
        "arguments": json.dumps(args)}}


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
    return ""


def _handler(model: ModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            try:
                data = json.loads(raw)
            except ValueError:
                return {}
            return data if isinstance(data, dict) else {}

        def _json(self, code: int, data: dict[str, Any]) -> None:
            payload = json.dumps(data).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _stream(self, events: Iterator[tuple[str, dict[str, Any]]]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            for name, data in events:
                self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()
            self.close_connection = True

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.rstrip("/").endswith("/models"):
                self._json(200, {"data": [], "models": []})
            else:
                self._json(404, {"error": {"message": f"no {self.path}"}})

        def do_POST(self) -> None:  # noqa: N802
            path = self.path.split("?")[0]
            body = self._body()
            if not model.note(path, body):
                self._json(429, {"error": {"type": "rate_limit_error",
                                           "message": "scripted server: request budget spent"}})
            elif path.endswith("/responses"):
                self._stream((e["type"], e) for e in model.responses(body))
            elif path.endswith("/messages/count_tokens"):
                self._json(200, {"input_tokens": USAGE["input_tokens"]})
            elif path.endswith("/messages"):
                self._stream(model.messages(body))
            else:
                self._json(404, {"error": {"message": f"no {path}"}})

    return Handler

