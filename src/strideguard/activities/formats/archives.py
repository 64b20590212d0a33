"""Safe reading of ZIP archives (Strava and Garmin exports): a pre-scan, then streamed members.

Nothing is extracted to disk: members are read into memory one at a time within a byte budget, and a nested
ZIP (Garmin's `UploadedFiles_*.zip`) is spooled into a private temporary directory that is removed when the
outer archive is closed.

What the pre-scan refuses for the whole archive (`ArchiveRefused`): not a ZIP, too many members, declared
total size over the limit, overlapping entries (the "overlapping files" zip bomb), names that are not valid
UTF-8 although the archive says they are.

What it reports per member and skips (the rest of the archive is imported): absolute or `..` paths, control
characters in names, names in an unknown legacy encoding, symlinks, encrypted members, compression methods
other than stored/deflate (bzip2 and lzma inflate without an output bound in `zipfile`), declared sizes or
compression ratios over the limits, repeated names. While reading, real bytes are counted (declared sizes
lie), the ratio is checked again on real bytes, and a bad CRC or damaged deflate stream is a `BadMember`.
"""

from __future__ import annotations

import itertools
import re
import shutil
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from strideguard.activities.formats.errors import CorruptFile, FileRejected, LimitExceeded
from strideguard.model import Activity

MIB = 1024 * 1024
GIB = 1024 * MIB


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """Bounds for one archive. Sizes in bytes.

    Real exports: a 10-year Strava history is ~3,000-6,000 members and a few GB; a Garmin export holds tens
    of thousands of JSON/FIT members and nested ZIPs of 1-2 GB each. Activity files are at most a few MB
    (FIT compresses ~3x, GPX ~10x), so a 100:1 ratio on more than 1 MiB is a bomb, not a run.
    """

    max_members: int = 200_000
    max_total_bytes: int = 64 * GIB  # sum of declared uncompressed sizes
    max_member_bytes: int = 64 * MIB  # a member read into memory (activity file, CSV, JSON)
    max_nested_bytes: int = 8 * GIB  # a nested ZIP, spooled to the temporary directory
    max_ratio: float = 100.0  # uncompressed / compressed
    ratio_floor_bytes: int = 1 * MIB  # smaller members are not ratio-checked (tiny files compress well)
    max_depth: int = 2  # the outer ZIP is depth 1; Garmin's UploadedFiles_*.zip inside it is depth 2
    max_name_chars: int = 1024


DEFAULT_ARCHIVE_LIMITS = ArchiveLimits()
_CHUNK = 1 * MIB
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # zipfile's structFileHeader, 30 bytes
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")
_S_IFMT = 0o170000
_S_IFLNK = 0o120000
_ALLOWED_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})


class ArchiveRefused(CorruptFile):
    """The whole archive is refused; str(exc) says why in one line."""


class BadMember(CorruptFile):
    """One member cannot be read safely; the rest of the archive is still imported."""


@dataclass(frozen=True, slots=True)
class MemberProblem:
    """A member left out of the import, and why (one line)."""

    name: str
    reason: str


def is_zip(path: Path) -> bool:
    """True when the file starts like a ZIP archive (detected by content, not by name)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError:
        return False
    return head in (b"PK\x03\x04", b"PK\x05\x06")


def _mb(n: int) -> str:
    return f"{n / MIB:,.0f} MB" if n >= MIB else f"{n:,} bytes"


def name_problem(name: str, max_chars: int) -> str | None:
    """Why a member name is unsafe or unreadable, else None."""
    if len(name) > max_chars:
        return f"name longer than {max_chars} characters"
    if _CONTROL.search(name):
        return "name contains control characters"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "absolute path in the archive"
    parts = re.split(r"[/\\]", name)
    if ".." in parts:
        return "path with '..' (points outside the archive)"
    return None


def _decode_legacy_name(info: zipfile.ZipInfo) -> str | None:
    """The member name as UTF-8, also when a tool wrote UTF-8 bytes without setting the UTF-8 flag.

    None when the bytes are in some other legacy encoding (not UTF-8).
    """
    name = info.filename
    if info.flag_bits & 0x800 or name.isascii():
        return name
    try:
        return name.encode("cp437").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None


class SafeZip:
    """A pre-scanned ZIP archive whose members are read with byte budgets.

    Use as a context manager. `members` are the readable entries (directories left out), `problems` the
    members reported and skipped. `display` names the archive in messages (nested ones as `outer!/inner`).
    """

    def __init__(
        self,
        source: Path | IO[bytes],
        limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
        *,
        display: str | None = None,
        depth: int = 1,
        tmpdir: Path | None = None,
    ) -> None:
        self.limits = limits
        self.depth = depth
        self.display = display or (str(source) if isinstance(source, Path) else "archive")
        self._owned_tmp: str | None = None
        self._tmpdir = tmpdir
        self._children: list[SafeZip] = []
        self._spool: IO[bytes] | None = source if not isinstance(source, Path) else None
        try:
            self._zip = zipfile.ZipFile(source)
        except UnicodeDecodeError:
            raise ArchiveRefused("member names are not valid UTF-8 although the archive says so") from None
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, struct.error) as exc:
            raise ArchiveRefused(f"not a readable ZIP archive ({_short(exc)})") from None
        except OSError as exc:
            raise ArchiveRefused(f"cannot read archive ({exc.strerror or exc})") from None
        self.members: list[zipfile.ZipInfo] = []
        self.problems: list[MemberProblem] = []
        self.names: dict[str, zipfile.ZipInfo] = {}
        try:
            self._scan()
        except BaseException:
            self._zip.close()
            raise

    # ------------------------------------------------------------------------------------------ pre-scan

    def _scan(self) -> None:
        limits = self.limits
        infos = self._zip.infolist()
        if len(infos) > limits.max_members:
            raise ArchiveRefused(f"{len(infos):,} members (limit {limits.max_members:,})")
        declared_total = sum(i.file_size for i in infos)
        if declared_total > limits.max_total_bytes:
            raise ArchiveRefused(
                f"declares {_mb(declared_total)} uncompressed (limit {_mb(limits.max_total_bytes)})"
            )
        self._check_overlaps(infos)
        for info in infos:
            if info.is_dir():
                continue
            name = _decode_legacy_name(info)
            shown = name if name is not None else info.filename
            reason = self._member_problem(info, name)
            if reason is None and name in self.names:
                reason = "name appears twice in the archive (the first one is used)"
            if reason is not None:
                self.problems.append(MemberProblem(shown, reason))
                continue
            assert name is not None
            info.filename = name  # our view of the name; the archive on disk is untouched
            self.names[name] = info
            self.members.append(info)

    def _member_problem(self, info: zipfile.ZipInfo, name: str | None) -> str | None:
        limits = self.limits
        if name is None:
            return "name is not UTF-8 (unknown legacy encoding)"
        unsafe = name_problem(name, limits.max_name_chars)
        if unsafe:
            return unsafe
        if info.create_system == 3 and (info.external_attr >> 16) & _S_IFMT == _S_IFLNK:
            return "symbolic link (not followed)"
        if info.flag_bits & 0x1:
            return "encrypted member (password-protected ZIPs are not supported)"
        if info.compress_type not in _ALLOWED_METHODS:
            return f"unsupported compression method {info.compress_type} (only stored and deflate)"
        if info.file_size > limits.max_nested_bytes:
            return f"declares {_mb(info.file_size)} (limit {_mb(limits.max_nested_bytes)})"
        if info.file_size > limits.ratio_floor_bytes and info.compress_size > 0:
            ratio = info.file_size / info.compress_size
            if ratio > limits.max_ratio:
                return (
                    f"compression ratio {ratio:,.0f}:1 looks like a zip bomb (limit {limits.max_ratio:.0f}:1)"
                )
        if info.file_size > limits.ratio_floor_bytes and info.compress_size == 0:
            return "declares data but stores none (zip bomb)"
        return None

    def _check_overlaps(self, infos: list[zipfile.ZipInfo]) -> None:
        """Refuse entries whose data ranges overlap (one compressed stream counted many times)."""
        fp: Any = self._zip.fp
        if fp is None:
            return
        end_of_data = self._zip.start_dir
        spans: list[tuple[int, int, str]] = []
        for info in infos:
            fp.seek(info.header_offset)
            header = fp.read(_LOCAL_HEADER.size)
            if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
                raise ArchiveRefused(f"member {info.filename!r} has no valid local header (damaged archive)")
            fields = _LOCAL_HEADER.unpack(header)
            name_len, extra_len = fields[10], fields[11]
            start = info.header_offset
            end = start + _LOCAL_HEADER.size + name_len + extra_len + info.compress_size
            if end > end_of_data:
                raise ArchiveRefused(
                    f"member {info.filename!r} runs past the end of the data (damaged archive)"
                )
            spans.append((start, end, info.filename))
        spans.sort()
        for (_, prev_end, prev_name), (start, _, name) in itertools.pairwise(spans):
            if start < prev_end:
                raise ArchiveRefused(
                    f"overlapping entries {prev_name!r} and {name!r} (a zip bomb or a damaged archive)"
                )

    # ------------------------------------------------------------------------------------------ reading

    def chunks(self, info: zipfile.ZipInfo, max_bytes: int | None = None) -> Iterator[bytes]:
        """The member's bytes in chunks of at most 1 MiB, counting real bytes against the limits.

        Raises BadMember for a bad CRC, damaged data, more bytes than allowed or a bomb-like ratio.
        """
        cap = self.limits.max_member_bytes if max_bytes is None else max_bytes
        if info.file_size > cap:
            raise BadMember(f"{_mb(info.file_size)} uncompressed (limit {_mb(cap)})")
        real = 0
        try:
            with self._zip.open(info) as fh:
                while True:
                    chunk = fh.read(_CHUNK)
                    if not chunk:
                        break
                    real += len(chunk)
                    if real > cap:
                        raise BadMember(f"inflates past {_mb(cap)} (limit)")
                    if real > self.limits.ratio_floor_bytes and real > self.limits.max_ratio * max(
                        1, info.compress_size
                    ):
                        raise BadMember(f"inflates more than {self.limits.max_ratio:.0f}:1 (zip bomb)")
                    yield chunk
            if real != info.file_size:
                raise BadMember(f"damaged: holds {real:,} bytes but declares {info.file_size:,}")
        except zipfile.BadZipFile as exc:
            text = str(exc)
            if "CRC" in text:
                raise BadMember("damaged: CRC-32 does not match the data") from None
            raise BadMember(f"damaged member ({_short(exc)})") from None
        except (zlib.error, EOFError) as exc:
            raise BadMember(f"damaged compressed data ({_short(exc)})") from None
        except NotImplementedError as exc:
            raise BadMember(f"cannot read ({_short(exc)})") from None
        except RuntimeError as exc:  # zipfile raises it for encrypted members
            raise BadMember(f"cannot read ({_short(exc)})") from None

    def read(self, info: zipfile.ZipInfo, max_bytes: int | None = None) -> bytes:
        """The whole member (at most `max_bytes`, default `limits.max_member_bytes`)."""
        return b"".join(self.chunks(info, max_bytes))

    def open_nested(self, info: zipfile.ZipInfo) -> SafeZip:
        """A ZIP inside this one, spooled to the private temporary directory and pre-scanned.

        Raises BadMember when nesting would go deeper than `limits.max_depth`, or the inner ZIP is refused.
        """
        if self.depth >= self.limits.max_depth:
            raise BadMember(f"archive nested deeper than {self.limits.max_depth} levels")
        spool = tempfile.SpooledTemporaryFile(max_size=32 * MIB, dir=self._temp_dir())
        try:
            for chunk in self.chunks(info, self.limits.max_nested_bytes):
                spool.write(chunk)
            spool.seek(0)
            child = SafeZip(
                spool,  # type: ignore[arg-type]
                self.limits,
                display=f"{self.display}!/{info.filename}",
                depth=self.depth + 1,
                tmpdir=self._temp_dir(),
            )
        except ArchiveRefused as exc:
            spool.close()
            raise BadMember(f"nested archive refused: {exc}") from None
        except BaseException:
            spool.close()
            raise
        self._children.append(child)
        return child

    def _temp_dir(self) -> Path:
        if self._tmpdir is None:
            self._owned_tmp = tempfile.mkdtemp(prefix="strideguard-import-")
            self._tmpdir = Path(self._owned_tmp)
        return self._tmpdir

    def close(self) -> None:
        for child in self._children:
            child.close()
        self._children.clear()
        self._zip.close()
        if self._spool is not None:
            self._spool.close()
        if self._owned_tmp is not None:
            shutil.rmtree(self._owned_tmp, ignore_errors=True)
            self._owned_tmp = None

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _short(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else exc.__class__.__name__


def find_root(names: list[str], marker: str) -> str | None:
    """The folder prefix ('' or 'export_123/') holding `marker` at the shallowest depth, else None."""
    best: str | None = None
    for name in names:
        if name == marker or name.endswith("/" + marker):
            prefix = name[: len(name) - len(marker)]
            if best is None or prefix.count("/") < best.count("/"):
                best = prefix
    return best


__all__ = ["FileRejected", "LimitExceeded"]


# ---------------------------------------------------------------------------------------- export plans


@dataclass(frozen=True, slots=True)
class ShoeSpec:
    """A shoe named by an export (Strava shoes.csv / Activity Gear, Garmin gear)."""

    name: str
    brand: str | None = None
    model: str | None = None


@dataclass(slots=True)
class ArchiveItem:
    """One unit of work from an archive: a member holding an activity file, or a ready manual activity.

    `key` is stable across runs of the same archive (the member path, nested ones as `outer.zip!/inner`), so
    an interrupted import skips what it already finished. `load` reads the member's bytes (may raise
    FileRejected). `enrich` merges export metadata (names, gear, sport) into each parsed activity.
    `skip_sport` is (sport, label) when the export's index already says the sport is not wanted.
    `only_if_new_start_s`: a manual activity from an export's summary, imported after every file and only
    when no stored activity starts within that many seconds of it (else its file already brought it).
    """

    key: str
    name: str
    load: Callable[[], bytes] | None = None
    enrich: Callable[[Activity], Activity] | None = None
    manual: Activity | None = None
    skip_sport: tuple[str, str] | None = None
    only_if_new_start_s: float | None = None


@dataclass(slots=True)
class ExportPlan:
    """What an archive holds, as items to import lazily (nested archives are opened one at a time)."""

    kind: str  # strava | garmin | zip
    items: Iterator[ArchiveItem]
    problems: list[MemberProblem] = field(default_factory=list)
    total: int = 0  # items expected so far (grows as nested archives are opened)
    shoes: list[ShoeSpec] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def nested_items(
    archive: SafeZip,
    info: zipfile.ZipInfo,
    plan: ExportPlan,
    enrich: Callable[[Activity], Activity] | None = None,
) -> Iterator[ArchiveItem]:
    """The activity files of the ZIP `info` inside `archive`, opened only now and closed after; its problems,
    and ZIPs nested deeper still, go to `plan.problems`, its file count to `plan.total`."""
    from strideguard.activities.formats import format_of  # the package imports nothing of this module back

    try:
        inner = archive.open_nested(info)
    except BadMember as exc:
        plan.problems.append(MemberProblem(info.filename, str(exc)))
        return
    plan.problems.extend(MemberProblem(f"{info.filename}!/{p.name}", p.reason) for p in inner.problems)
    plan.problems.extend(
        MemberProblem(
            f"{info.filename}!/{m.filename}", f"archive nested deeper than {archive.limits.max_depth} levels"
        )
        for m in inner.members
        if m.filename.lower().endswith(".zip")
    )
    members = [m for m in inner.members if format_of(m.filename)]
    plan.total += len(members)
    for member in members:
        yield ArchiveItem(
            key=f"{info.filename}!/{member.filename}",
            name=member.filename,
            load=lambda member=member: inner.read(member),  # type: ignore[misc]
            enrich=enrich,
        )
    inner.close()
