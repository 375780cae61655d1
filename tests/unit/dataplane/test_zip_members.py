"""A zip of many small members: each member is a file of its own in the counts (Amperity and
Kusto report per file), exact whatever the number of members."""

from __future__ import annotations

import io
import zipfile

from .harness import PEOPLE, PEOPLE_BY_NAME, Count, Harness, count_of


def test_each_member_of_a_many_member_zip_has_its_own_exact_counts(harness: Harness) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(60):
            bad = "\n9,Bad,not-a-number" if i % 20 == 7 else ""
            archive.writestr(f"part/m{i:03}.csv", f"id,name,score\n{i},n{i},1.5{bad}\n")
    path = harness.write("many.zip", buffer.getvalue())

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert [f.name for f in result.files] == [f"many.zip/part/m{i:03}.csv" for i in range(60)]
    for i, file in enumerate(result.files):
        expected = Count(2, 1, 0, 0, 1) if i % 20 == 7 else Count(1, 1, 0, 0, 0)
        assert count_of(file.counts) == expected, file.name
    assert count_of(result.counts) == Count(read=63, inserted=60, updated=0, rejected=0, errors=3)
    assert sorted((q.file, q.record) for q in harness.quarantine()) == [
        (f"many.zip/part/m{i:03}.csv", 2) for i in (7, 27, 47)
    ]
