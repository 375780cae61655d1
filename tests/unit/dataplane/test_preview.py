"""Previews of load requests (``dataplane.preview``): the first N input records, typed and
validated by the load's own staging, read from the heads of the inputs (never whole files),
under the load's decompression limits; and a load of the same file agrees with the preview."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingestd.dataplane.contract import LoadRequest
from ingestd.dataplane.destinations.interface import Destination
from ingestd.dataplane.pipeline import DataPlane
from ingestd.dataplane.preview import Previewer, StagedPreview
from ingestd.dataplane.readers.decompress import DecompressionLimits
from ingestd.dataplane.readers.heads import Budget, heads
from ingestd.domain.sources import DataFormat, ReadOptions
from ingestd.errors import DecompressionLimit

from .harness import PEOPLE, PEOPLE_BY_NAME

HEADER = "id,name,score\n"


def _request(paths: list[Path], options: ReadOptions | None = None) -> LoadRequest:
    return LoadRequest(
        load_key="k",
        unit_id="u",
        run_id="r",
        table=PEOPLE,
        mapping=PEOPLE_BY_NAME,
        inputs=tuple(paths),
        input_names=tuple(p.name for p in paths),
        read_options=options or ReadOptions(),
    )


def _preview(
    tmp_path: Path,
    paths: list[Path],
    limit: int,
    options: ReadOptions | None = None,
    limits: DecompressionLimits | None = None,
) -> StagedPreview:
    previewer = Previewer(tmp_path / "staging", limits)
    result = previewer.preview(_request(paths, options), limit)
    assert not list((tmp_path / "staging").iterdir()), "the preview left files behind"
    return result


def test_first_records_are_typed_rows_and_errors_in_input_order(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(HEADER + "1,Ann,1.5\n2,Bob,oops\nthree,Cy,3\n4,Di,4\n5,Ed,5\n")
    result = _preview(tmp_path, [path], 4)
    assert [c.type for c in result.columns] == ["BIGINT", "VARCHAR", "DOUBLE"]
    assert result.rows == ((1, "Ann", 1.5), (4, "Di", 4.0))
    assert [(e.record, e.field, e.code) for e in result.errors] == [
        (2, "score", "TYPE_MISMATCH"),
        (3, "id", "TYPE_MISMATCH"),
    ]
    assert result.errors[0].file == "people.csv" and result.errors[0].column == 3
    assert result.errors[0].raw is not None and "oops" in result.errors[0].raw
    assert (result.rows_read, result.truncated, result.files) == (4, True, ("people.csv",))


def test_reader_refusals_count_among_the_first_records_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(HEADER + "1,Ann,1.5\n2,Bob\n3,Cy,3\n")
    result = _preview(tmp_path, [path], 10)
    assert result.rows == ((1, "Ann", 1.5), (3, "Cy", 3.0))
    [error] = result.errors
    assert (error.line, error.code) == (3, "WRONG_NUMBER_OF_FIELDS")
    assert (result.rows_read, result.truncated) == (3, False)


def test_a_quoted_newline_is_inside_a_record_not_the_end_of_one(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(HEADER + '1,"Ann\nof two lines",1\n2,"B ""q"" b",2\n3,Cy,3\n')
    result = _preview(tmp_path, [path], 2)
    assert result.rows == ((1, "Ann\nof two lines", 1.0), (2, 'B "q" b', 2.0))
    assert (result.errors, result.truncated) == ((), True)


def test_preview_and_load_agree_on_rows_and_errors(
    tmp_path: Path, destination: Destination
) -> None:
    dataplane = DataPlane(destination, tmp_path / "load-staging")
    path = tmp_path / "people.csv"
    path.write_text(HEADER + "1,Ann,1.5\n2,Bob,x\n3,,3\n")
    result = _preview(tmp_path, [path], 100)
    loaded = dataplane.load(_request([path]))
    assert loaded.counts.read == result.rows_read == 3
    assert loaded.counts.errors == len(result.errors) == 1
    assert loaded.counts.inserted == len(result.rows) == 2


def test_several_files_fill_the_limit_in_order(tmp_path: Path) -> None:
    first, second, third = (tmp_path / f"{n}.csv" for n in ("a", "b", "c"))
    first.write_text(HEADER + "1,A,1\n2,B,2\n")
    second.write_text(HEADER + "3,C,3\n4,D,4\n")
    third.write_text(HEADER + "5,E,5\n")
    result = _preview(tmp_path, [first, second, third], 3)
    assert [r[0] for r in result.rows] == [1, 2, 3]
    assert result.files == ("a.csv", "b.csv") and result.truncated


def test_ndjson_and_multijson_are_cut_by_records(tmp_path: Path) -> None:
    lines = tmp_path / "p.json"
    lines.write_text("".join(json.dumps({"id": i, "name": f"n{i}"}) + "\n" for i in range(50)))
    result = _preview(tmp_path, [lines], 3)
    assert [r[0] for r in result.rows] == [0, 1, 2] and result.truncated
    array = tmp_path / "p.multijson"
    # Brackets and commas inside strings and nested values are not element ends.
    people = [{"id": i, "name": _tricky(i), "extra": [1, {"x": [2]}], "score": i} for i in range(9)]
    array.write_text(json.dumps(people, indent=2))
    result = _preview(tmp_path, [array], 4, ReadOptions(format=DataFormat.MULTIJSON))
    assert [r[:2] for r in result.rows] == [(i, _tricky(i)) for i in range(4)]
    assert result.errors == () and result.truncated


def _tricky(i: int) -> str:
    return f"n{i} " + '"]},['


def test_a_large_compressed_file_is_not_read_whole(tmp_path: Path) -> None:
    """1 MiB of decompressed bytes is allowed: a load of this file (about 16 MiB decompressed)
    is refused, a preview reads only its head and succeeds."""
    text = HEADER + "".join(f"{i},name {i},{i}.5\n" for i in range(700_000))
    for suffix, pack in (("gz", gzip.compress), ("bz2", bz2.compress)):
        path = tmp_path / f"big.csv.{suffix}"
        path.write_bytes(pack(text.encode()))
        limits = DecompressionLimits(max_bytes=1 << 20)
        result = _preview(tmp_path, [path], 5, limits=limits)
        assert [r[0] for r in result.rows] == [0, 1, 2, 3, 4] and result.truncated


def test_a_bomb_is_refused_by_the_loads_limits(tmp_path: Path) -> None:
    """No record end in sight: the head grows until the ratio limit refuses the stream."""
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(gzip.compress(b"1," + b"a" * (64 << 20)))
    with pytest.raises(DecompressionLimit):
        _preview(tmp_path, [path], 5)


def test_zip_members_are_read_while_the_limit_lasts(tmp_path: Path) -> None:
    path = tmp_path / "people.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", HEADER + "1,A,1\n2,B,2\n")
        archive.writestr("b.csv", HEADER + "3,C,3\n")
        archive.writestr("c.csv", HEADER + "4,D,4\n")
    result = _preview(tmp_path, [path], 3)
    assert [r[0] for r in result.rows] == [1, 2, 3]
    assert result.files == ("people.zip/a.csv", "people.zip/b.csv") and result.truncated


def test_parquet_is_read_with_a_row_limit(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"id": range(1000), "name": ["x"] * 1000, "score": [1.0] * 1000}), path)
    result = _preview(tmp_path, [path], 7)
    assert [r[0] for r in result.rows] == list(range(7)) and result.truncated
    exact = _preview(tmp_path, [path], 1000)
    assert exact.rows_read == 1000 and not exact.truncated


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.text(alphabet=st.sampled_from('ab,"\n\r é'), max_size=12), min_size=1, max_size=8),
    st.integers(min_value=1, max_value=9),
)
def test_a_delimited_head_holds_exactly_the_first_records(values: list[str], wanted: int) -> None:
    """Hypothesis: any quoted field content; the head holds the header and the first
    ``wanted`` records, byte for byte as the file has them."""
    import csv
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\r\n")  # quotes fields holding CR or LF
        records = [[str(i), v, "1"] for i, v in enumerate(values)]
        writer.writerow(["id", "name", "score"])
        writer.writerows(records)
        path = root / "p.csv"
        path.write_bytes(buffer.getvalue().encode())
        [head] = heads(path, "p.csv", ReadOptions(), root, Budget(wanted))
        parsed = list(csv.reader(io.StringIO(head.file.path.read_bytes().decode(), newline="")))
        assert parsed[1:] == records[:wanted]
        assert head.cut == (len(records) > wanted)


def test_a_full_head_ends_at_its_last_whole_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fewer than N records fit in the head's bytes: it ends after the last whole one, so no
    cut record shows as an error."""
    from ingestd.dataplane.readers import heads as heads_module

    monkeypatch.setattr(heads_module, "MAX_HEAD_BYTES", 100)
    path = tmp_path / "people.csv"
    path.write_text(HEADER + "".join(f"{i},name number {i},{i}\n" for i in range(20)))
    result = _preview(tmp_path, [path], 20)
    assert result.errors == () and result.truncated
    assert [r[0] for r in result.rows] == list(range(len(result.rows))) and len(result.rows) >= 3
    array = tmp_path / "p.multijson"
    array.write_text(json.dumps([{"id": i, "name": f"name number {i}"} for i in range(20)]))
    result = _preview(tmp_path, [array], 20, ReadOptions(format=DataFormat.MULTIJSON))
    assert result.errors == () and result.truncated and len(result.rows) >= 2
