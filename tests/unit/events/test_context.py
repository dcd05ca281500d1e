from __future__ import annotations

import asyncio
import contextvars
import threading

from hypothesis import given
from hypothesis import strategies as st

from pipeline.events import context as ctx

HEX = "0123456789abcdef"


def test_parse_w3c_example() -> None:
    tp = ctx.parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    assert tp is not None
    assert tp.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert tp.span_id == "00f067aa0ba902b7"
    assert tp.sampled


def test_invalid_traceparents_are_ignored() -> None:
    for header in [
        None,
        "",
        "garbage",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff forbidden
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero span id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  # v00 has no extra
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short trace id
    ]:
        assert ctx.parse_traceparent(header) is None, header


@given(
    st.text(HEX, min_size=32, max_size=32).filter(lambda s: s != "0" * 32),
    st.text(HEX, min_size=16, max_size=16).filter(lambda s: s != "0" * 16),
    st.integers(0, 255),
)
def test_traceparent_round_trip(trace_id: str, span_id: str, flags: int) -> None:
    tp = ctx.TraceParent(trace_id, span_id, flags)
    assert ctx.parse_traceparent(tp.header()) == tp


def test_audit_context_nests_and_restores() -> None:
    assert ctx.request_id_var.get() is None
    with ctx.audit_context(
        request_id="r1", traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    ):
        assert ctx.request_id_var.get() == "r1"
        assert ctx.trace_id_var.get() == "4bf92f3577b34da6a3ce929d0e0e4736"
        with ctx.audit_context(span_id="1111111111111111"):
            assert ctx.request_id_var.get() == "r1"  # inherited
            assert ctx.span_id_var.get() == "1111111111111111"
            header = ctx.current_traceparent()
            assert header == "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01"
        assert ctx.span_id_var.get() == "00f067aa0ba902b7"
    assert ctx.request_id_var.get() is None
    assert ctx.trace_id_var.get() is None


def test_missing_request_id_is_generated() -> None:
    with ctx.audit_context():
        rid = ctx.request_id_var.get()
        assert rid is not None
        assert len(rid) == 36


def test_context_follows_asyncio_tasks_without_leaking() -> None:
    async def handler(rid: str) -> str | None:
        with ctx.audit_context(request_id=rid):
            await asyncio.sleep(0.01)
            inner = asyncio.create_task(asyncio.sleep(0, result=ctx.request_id_var.get()))
            return await inner

    async def main() -> list[str | None]:
        return list(await asyncio.gather(*(handler(f"r{i}") for i in range(20))))

    assert asyncio.run(main()) == [f"r{i}" for i in range(20)]


def test_context_copies_into_threads() -> None:
    seen: list[str | None] = []
    with ctx.audit_context(request_id="thread-r"):
        copied = contextvars.copy_context()
        t = threading.Thread(
            target=copied.run, args=(lambda: seen.append(ctx.request_id_var.get()),)
        )
        t.start()
        t.join()
    assert seen == ["thread-r"]
