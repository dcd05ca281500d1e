"""The on-disk spool: records survive reopening, torn tails and corruption are handled."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.produce.spool import Spool, SpooledRecord

records = st.builds(
    SpooledRecord,
    st.text(min_size=1, max_size=30),
    st.none() | st.binary(max_size=40),
    st.binary(max_size=2000),
)


@settings(max_examples=50, deadline=None)
@given(st.lists(records, max_size=30))
def test_records_come_back_in_order_after_reopen(
    tmp_path_factory: object, recs: list[SpooledRecord]
) -> None:
    directory = Path(tmp_path_factory.mktemp("spool"))  # type: ignore[attr-defined]
    spool = Spool(directory, fsync_interval_s=0)
    for r in recs:
        spool.append(r)
    spool.close()
    reopened = Spool(directory)
    assert len(reopened) == len(recs)
    got: list[SpooledRecord] = []
    for seg in reopened.segments():
        seg_records, intact = reopened.read_segment(seg)
        assert intact
        got.extend(seg_records)
    assert got == recs


def test_segment_being_written_is_not_replayed_until_sealed(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(SpooledRecord("t", b"k", b"v1"))
    assert spool.segments() == []
    spool.seal()
    assert len(spool.segments()) == 1
    spool.append(SpooledRecord("t", b"k", b"v2"))  # goes to a new segment
    assert len(spool.segments()) == 1
    spool.seal()
    segs = spool.segments()
    assert [spool.read_segment(s)[0][0].value for s in segs] == [b"v1", b"v2"]
    spool.remove_segment(segs[0], 1)
    assert len(spool) == 1
    assert not segs[0].exists()


def test_torn_tail_is_ignored(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(SpooledRecord("t", None, b"whole"))
    spool.append(SpooledRecord("t", None, b"torn-record"))
    spool.close()
    seg = next(tmp_path.glob("*.seg"))
    seg.write_bytes(seg.read_bytes()[:-3])  # a crash mid-write
    recs, intact = Spool(tmp_path).read_segment(seg)
    assert [r.value for r in recs] == [b"whole"]
    assert intact


def test_corrupt_record_is_kept_for_inspection(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(SpooledRecord("t", b"a", b"first"))
    spool.append(SpooledRecord("t", b"b", b"second"))
    spool.close()
    seg = next(tmp_path.glob("*.seg"))
    data = bytearray(seg.read_bytes())
    data[-1] ^= 0xFF  # flip a bit of the last value
    seg.write_bytes(bytes(data))
    spool = Spool(tmp_path)
    recs, intact = spool.read_segment(seg)
    assert [r.value for r in recs] == [b"first"]
    assert not intact
    spool.remove_segment(seg, len(recs), intact=intact)
    assert seg.with_suffix(".corrupt").exists()
    assert not seg.exists()
