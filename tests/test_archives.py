"""Hostile and damaged archives: each is built in the test, then pre-scanned and read by SafeZip."""

from __future__ import annotations

import gzip
import io
import os
import struct
import zipfile
from pathlib import Path

import pytest

from strideguard.activities.formats.archives import (
    ArchiveLimits,
    ArchiveRefused,
    BadMember,
    SafeZip,
    find_root,
    is_zip,
    name_problem,
)
from strideguard.importing.service import parse_file

FIT_LIKE = b"\x0e\x20" + b"x" * 400  # member payloads only need to exist; parsing is tested elsewhere


def build_zip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def problems_of(path: Path, limits: ArchiveLimits | None = None) -> dict[str, str]:
    with SafeZip(path, limits or ArchiveLimits()) as archive:
        return {p.name: p.reason for p in archive.problems}


def test_archive_with_too_many_members_is_refused(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "many.zip", {f"activities/{i}.fit": FIT_LIKE for i in range(30)})
    with pytest.raises(ArchiveRefused, match="30 members"):
        SafeZip(path, ArchiveLimits(max_members=20))


def test_declared_total_over_limit_is_refused(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "big.zip", {"a.fit": b"a" * 5000, "b.fit": b"b" * 5000})
    with pytest.raises(ArchiveRefused, match="uncompressed"):
        SafeZip(path, ArchiveLimits(max_total_bytes=8000))


def test_high_ratio_member_is_reported_and_the_rest_kept(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "bomb.zip", {"bomb.fit": bytes(30 * 1024 * 1024), "ok.fit": FIT_LIKE})
    with SafeZip(path) as archive:
        assert [m.filename for m in archive.members] == ["ok.fit"]
        (problem,) = archive.problems
        assert problem.name == "bomb.fit"
        assert "zip bomb" in problem.reason


def _patch_sizes(path: Path, name: bytes, new_size: int) -> None:
    """Rewrite a member's declared uncompressed size in its local and central headers."""
    data = bytearray(path.read_bytes())
    local = data.find(b"PK\x03\x04")
    while local != -1:
        name_len = struct.unpack_from("<H", data, local + 26)[0]
        if bytes(data[local + 30 : local + 30 + name_len]) == name:
            struct.pack_into("<L", data, local + 22, new_size)
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_len = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46 : central + 46 + name_len]) == name:
            struct.pack_into("<L", data, central + 24, new_size)
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))


def test_member_lying_about_its_size_cannot_inflate_past_what_it_declares(tmp_path: Path) -> None:
    # Declares 1,000 bytes but holds 5 MB: reading stops at the declared size and the CRC gives it away.
    path = build_zip(tmp_path / "liar.zip", {"liar.fit": os.urandom(16) * (5 * 65536)})
    _patch_sizes(path, b"liar.fit", 1000)
    with SafeZip(path) as archive:
        (info,) = archive.members
        received = 0
        with pytest.raises(BadMember, match="CRC"):
            for chunk in archive.chunks(info):
                received += len(chunk)
        assert received <= 1000


def test_member_claiming_more_than_it_holds_is_damaged(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "short.zip", {"short.fit": FIT_LIKE})
    _patch_sizes(path, b"short.fit", 50_000)
    with SafeZip(path) as archive, pytest.raises(BadMember, match="damaged"):
        archive.read(archive.members[0])


def test_real_bytes_are_counted_against_the_member_limit(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "large.zip", {"large.fit": os.urandom(300_000)})
    with (
        SafeZip(path, ArchiveLimits(max_member_bytes=100_000)) as archive,
        pytest.raises(BadMember, match="limit"),
    ):
        archive.read(archive.members[0])


def test_overlapping_entries_are_refused(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "overlap.zip", {"a.fit": FIT_LIKE, "b.fit": FIT_LIKE})
    data = bytearray(path.read_bytes())
    second = data.find(b"PK\x01\x02", data.find(b"PK\x01\x02") + 4)
    struct.pack_into("<L", data, second + 42, 0)  # b.fit's data now starts where a.fit's does
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveRefused, match="overlapping"):
        SafeZip(path)


def test_unsafe_member_names_are_reported_not_read(tmp_path: Path) -> None:
    path = build_zip(
        tmp_path / "paths.zip",
        {
            "../../evil.fit": FIT_LIKE,
            "/etc/evil.fit": FIT_LIKE,
            "C:/evil.fit": FIT_LIKE,
            "ok/1.fit": FIT_LIKE,
        },
    )
    problems = problems_of(path)
    assert "'..'" in problems["../../evil.fit"]
    assert "absolute" in problems["/etc/evil.fit"]
    assert "absolute" in problems["C:/evil.fit"]
    with SafeZip(path) as archive:
        assert [m.filename for m in archive.members] == ["ok/1.fit"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a/b.fit", None), ("a\\..\\b.fit", "'..'"), ("a\x00b.fit", "control"), ("x" * 2000, "longer")],
)
def test_name_problem(name: str, expected: str | None) -> None:
    reason = name_problem(name, 1024)
    assert (reason is None) if expected is None else (expected in (reason or ""))


def test_symlinks_and_encrypted_members_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "special.zip"
    with zipfile.ZipFile(path, "w") as archive:
        link = zipfile.ZipInfo("activities/link.fit")
        link.create_system = 3
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr("activities/secret.fit", FIT_LIKE)
        archive.writestr("activities/ok.fit", FIT_LIKE)
    # zipfile will not write the "encrypted" flag itself: set it in secret.fit's central header.
    data = bytearray(path.read_bytes())
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_len = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46 : central + 46 + name_len]) == b"activities/secret.fit":
            data[central + 8] |= 0x1
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))
    problems = problems_of(path)
    assert "symbolic link" in problems["activities/link.fit"]
    assert "encrypted" in problems["activities/secret.fit"]


def test_bzip2_members_are_refused_because_they_inflate_unbounded(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "bz.zip", {"a.fit": FIT_LIKE}, compression=zipfile.ZIP_BZIP2)
    assert "compression method" in problems_of(path)["a.fit"]


def test_bad_member_crc_is_reported(tmp_path: Path) -> None:
    path = build_zip(
        tmp_path / "crc.zip", {"a.fit": FIT_LIKE, "b.fit": FIT_LIKE}, compression=zipfile.ZIP_STORED
    )
    data = bytearray(path.read_bytes())
    data[30 + len("a.fit") + 10] ^= 0xFF  # flip a byte of a.fit's stored data
    path.write_bytes(bytes(data))
    with SafeZip(path) as archive:
        first, second = archive.members
        with pytest.raises(BadMember, match="CRC"):
            archive.read(first)
        assert archive.read(second) == FIT_LIKE


def test_name_in_an_unknown_legacy_encoding_is_reported(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "latin1.zip", {"cafX.fit": FIT_LIKE, "ok.fit": FIT_LIKE})
    path.write_bytes(path.read_bytes().replace(b"cafX", b"caf\xe9"))  # Latin-1, no UTF-8 flag
    problems = problems_of(path)
    assert list(problems.values()) == ["name is not UTF-8 (unknown legacy encoding)"]


def test_utf8_name_written_without_the_flag_is_accepted(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "utf8.zip", {"cafXX.fit": FIT_LIKE})
    path.write_bytes(path.read_bytes().replace(b"cafXX", "café".encode()))
    with SafeZip(path) as archive:
        assert [m.filename for m in archive.members] == ["café.fit"]


def test_invalid_utf8_under_the_utf8_flag_refuses_the_archive(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "bad-utf8.zip", {"café.fit": FIT_LIKE})
    path.write_bytes(path.read_bytes().replace("é".encode(), b"\xe9\xe9"))
    with pytest.raises(ArchiveRefused, match="UTF-8"):
        SafeZip(path)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", b"not a zip at all" * 10])
def test_unreadable_archives_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.zip"
    path.write_bytes(content)
    with pytest.raises(ArchiveRefused):
        SafeZip(path)


def test_truncated_archive_is_refused(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "cut.zip", {f"{i}.fit": os.urandom(2000) for i in range(5)})
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ArchiveRefused):
        SafeZip(path)


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_nested_archives_open_to_two_levels_and_no_deeper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    level3 = _zip_bytes({"deep.fit": FIT_LIKE})
    level2 = _zip_bytes({"inner.fit": FIT_LIKE, "level3.zip": level3})
    path = build_zip(tmp_path / "outer.zip", {"level2.zip": level2})
    before = set(tmp_path.rglob("*"))
    with SafeZip(path) as outer:
        inner = outer.open_nested(outer.members[0])
        names = {m.filename: m for m in inner.members}
        assert inner.read(names["inner.fit"]) == FIT_LIKE
        with pytest.raises(BadMember, match="nested deeper than 2"):
            inner.open_nested(names["level3.zip"])
        spool_dir = outer._temp_dir()
        assert spool_dir.is_dir()
    assert not spool_dir.exists()  # the private temporary directory is removed on close
    assert set(tmp_path.rglob("*")) == before  # nothing extracted next to the archive


def test_nested_archive_that_is_not_a_zip_is_a_bad_member(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "outer.zip", {"UploadedFiles_0-_Part1.zip": b"garbage" * 100})
    with SafeZip(path) as outer, pytest.raises(BadMember, match="nested archive refused"):
        outer.open_nested(outer.members[0])


def test_zip_is_detected_by_content_not_name(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "export.bin", {"a.fit": FIT_LIKE})
    other = tmp_path / "fake.zip"
    other.write_bytes(b"hello")
    assert is_zip(path)
    assert not is_zip(other)


def test_find_root_prefers_the_shallowest_marker() -> None:
    names = ["export_1/activities.csv", "export_1/media/activities.csv", "x.csv"]
    assert find_root(names, "activities.csv") == "export_1/"
    assert find_root(["activities.csv"], "activities.csv") == ""
    assert find_root(["a.csv"], "activities.csv") is None


# ---------------------------------------------------------------------------------------------- gzip


def _fit_bytes() -> bytes:
    import exportgen

    return exportgen.fit_bytes(exportgen.simulated_runs(1, minutes=3)[0])


def test_truncated_gzip_member_fails_with_a_reason() -> None:
    data = gzip.compress(_fit_bytes())
    parsed = parse_file("1.fit.gz", data[: len(data) // 2])
    assert parsed.status == "failed"
    assert "truncated" in (parsed.reason or "")


def test_corrupt_gzip_member_fails_with_a_reason() -> None:
    data = bytearray(gzip.compress(_fit_bytes()))
    data[20:40] = b"\xff" * 20
    parsed = parse_file("1.fit.gz", bytes(data))
    assert parsed.status == "failed"
    assert "gzip" in (parsed.reason or "")


def test_gzip_bomb_stops_at_the_size_limit() -> None:
    bomb = gzip.compress(bytes(100 * 1024 * 1024), 9)
    assert len(bomb) < 200_000
    parsed = parse_file("bomb.fit.gz", bomb)
    assert parsed.status == "failed"
    assert "64 MB" in (parsed.reason or "")


def test_multi_member_gzip_is_read_whole() -> None:
    fit = _fit_bytes()
    half = len(fit) // 2
    parsed = parse_file("1.fit.gz", gzip.compress(fit[:half]) + gzip.compress(fit[half:]))
    assert parsed.status == "ok"
    assert parsed.activities[0].sport == "run"
