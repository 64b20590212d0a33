"""Strava bulk export ("Download or Delete Your Account"): activities.csv, activities/, shoes.csv.

See shared/formats.md. The CSV is the index: each row names its file through `Filename` (never by assuming
the file number equals `Activity ID`); rows with an empty `Filename` are manual entries. Header names are
translated into the account language, some are repeated (the first `Distance` is in the display unit, the
second in metres), and some were exported as untranslated HTML spans; values may use decimal commas and the
date format has changed over the years. Parsing here is pure; `plan_strava` turns an open archive into
import items.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from strideguard.activities.formats import format_of
from strideguard.activities.formats.archives import (
    ArchiveItem,
    BadMember,
    ExportPlan,
    MemberProblem,
    SafeZip,
    ShoeSpec,
    find_root,
)
from strideguard.activities.formats.dates import span_problem
from strideguard.activities.formats.errors import CorruptFile
from strideguard.activities.formats.sports import sport_from_name
from strideguard.model import RUNNING_SPORTS, Activity

ACTIVITIES_CSV = "activities.csv"
MAX_CSV_BYTES = 64 * 1024 * 1024

# Header names (normalised: accents and punctuation removed, lower case) -> canonical field. English as in
# current and 2018-era exports; German from public importers of German exports (Aktivitäts-ID,
# Aktivitätsdatum,
# Name der Aktivität, Aktivitätsart, Aktivitätsausrüstung, Bewegungszeit, Distanz, Verstrichene Zeit,
# Dateiname); French/Spanish/Italian/Portuguese/Dutch names are unverified guesses, and the `Filename` and
# `Activity Date` columns are also found by content when no header matches.
_HEADERS: dict[str, str] = {
    # id
    "activityid": "id",
    "id": "id",
    "aktivitatsid": "id",
    "iddelactivite": "id",
    "iddeactividad": "id",
    "iddellattivita": "id",
    "iddaatividade": "id",
    "activiteitid": "id",
    # date (UTC)
    "activitydate": "date",
    "date": "date",
    "aktivitatsdatum": "date",
    "datedelactivite": "date",
    "fechadelaactividad": "date",
    "datadellattivita": "date",
    "datadaatividade": "date",
    "activiteitdatum": "date",
    # name
    "activityname": "name",
    "name": "name",
    "namederaktivitat": "name",
    "nomdelactivite": "name",
    "nombredelaactividad": "name",
    "nomedellattivita": "name",
    "nomedaatividade": "name",
    "activiteitnaam": "name",
    # type
    "activitytype": "type",
    "type": "type",
    "aktivitatsart": "type",
    "typedactivite": "type",
    "typedelactivite": "type",
    "tipodeactividad": "type",
    "tipodiattivita": "type",
    "tipodeatividade": "type",
    "activiteittype": "type",
    "sporttype": "type",
    # description
    "activitydescription": "description",
    "description": "description",
    "beschreibungderaktivitat": "description",
    "aktivitatsbeschreibung": "description",
    "descriptiondelactivite": "description",
    "descripciondelaactividad": "description",
    "descrizionedellattivita": "description",
    "descricaodaatividade": "description",
    "activiteitbeschrijving": "description",
    # times (s) and distance
    "elapsedtime": "elapsed_time",
    "verstrichenezeit": "elapsed_time",
    "tempsecoule": "elapsed_time",
    "tiempotranscurrido": "elapsed_time",
    "tempotrascorso": "elapsed_time",
    "tempodecorrido": "elapsed_time",
    "verstrekentijd": "elapsed_time",
    "movingtime": "moving_time",
    "bewegungszeit": "moving_time",
    "tempsdedeplacement": "moving_time",
    "tiempoenmovimiento": "moving_time",
    "tempoinmovimento": "moving_time",
    "tempoemmovimento": "moving_time",
    "bewegingstijd": "moving_time",
    "distance": "distance",
    "distanz": "distance",
    "distancia": "distance",
    "distanza": "distance",
    "afstand": "distance",
    # flags and gear
    "commute": "commute",
    "pendeln": "commute",
    "pendelfahrt": "commute",
    "trajet": "commute",
    "domiciletravail": "commute",
    "desplazamiento": "commute",
    "pendolarismo": "commute",
    "woonwerkverkeer": "commute",
    "activitygear": "gear",
    "gear": "gear",
    "aktivitatsausrustung": "gear",
    "ausrustung": "gear",
    "equipementdelactivite": "gear",
    "equipement": "gear",
    "equipodelaactividad": "gear",
    "attrezzaturadellattivita": "gear",
    "equipamentodaatividade": "gear",
    "activiteituitrusting": "gear",
    "filename": "filename",
    "dateiname": "filename",
    "nomdufichier": "filename",
    "nombredearchivo": "filename",
    "nomefile": "filename",
    "nomedoarquivo": "filename",
    "bestandsnaam": "filename",
    "perceivedexertion": "perceived_exertion",
    "wahrgenommeneanstrengung": "perceived_exertion",
    "effortpercu": "perceived_exertion",
    "esfuerzopercibido": "perceived_exertion",
    "sforzopercepito": "perceived_exertion",
    "esforcopercebido": "perceived_exertion",
    "ervareninspanning": "perceived_exertion",
    "activityprivatenote": "private_note",
    "starttime": "start_time",
    "elapsed_time": "elapsed_time",
}

# Strava activity types as shown in localised accounts (unverified beyond German "Lauf"); English ones and
# anything else go through `sports.sport_from_name`.
_LOCAL_TYPES: dict[str, str] = {
    "lauf": "run",
    "traillauf": "trail_run",
    "virtuellerlauf": "treadmill",
    "wanderung": "hike",
    "spaziergang": "walk",
    "gehen": "walk",
    "courseapied": "run",
    "course": "run",
    "trail": "trail_run",
    "randonnee": "hike",
    "marche": "walk",
    "carrera": "run",
    "carreraportrail": "trail_run",
    "senderismo": "hike",
    "caminata": "walk",
    "corsa": "run",
    "escursione": "hike",
    "camminata": "walk",
    "corrida": "run",
    "caminhada": "walk",
    "trilha": "hike",
    "hardlopen": "run",
    "wandelen": "walk",
    "hiken": "hike",
}

_SPAN = re.compile(r"<span[^>]*>(.*?)</span>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_MISSING = re.compile(r"translation missing:\s*\S*?\.([A-Za-z0-9_]+)\s*$", re.IGNORECASE)
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_FILENAME_VALUE = re.compile(r"^activities/[^/]+$")

_MONTHS: dict[str, int] = {}
for _month, _names in enumerate(
    (
        ("jan", "janv", "jän", "ene", "gen", "januari"),
        ("feb", "fev", "févr", "fév", "fevr", "febr"),
        ("mar", "mär", "mrz", "mars", "marz", "maart"),
        ("apr", "avr", "abr", "avril"),
        ("may", "mai", "mag", "mei", "mayo", "maio"),
        ("jun", "juin", "giu", "juni", "junio", "junho"),
        ("jul", "juil", "lug", "juli", "julio", "julho"),
        ("aug", "aou", "aoû", "ago", "août", "augustus"),
        ("sep", "sept", "set"),
        ("oct", "okt", "out", "ott"),
        ("nov",),
        ("dec", "dez", "déc", "dic", "dezember"),
    ),
    start=1,
):
    for _name in _names:
        _MONTHS[_name] = _month


def _fold(text: str) -> str:
    """Lower case without accents: 'Aktivitätsart' -> 'aktivitatsart'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def clean_header(cell: str) -> str:
    """A header cell's text: inside an HTML span, or the last part of a 'translation missing: ...' key."""
    text = cell.strip().lstrip("\ufeff")
    span = _SPAN.search(text)
    if span:
        text = span.group(1)
    text = _TAG.sub("", text).strip()
    missing = _MISSING.search(text)
    if missing:
        text = missing.group(1)
    return text


def header_key(cell: str) -> str | None:
    """Canonical field for a header cell ('Aktivitäts-ID' -> 'id'), None for columns we do not use."""
    key = _NOT_ALNUM.sub("", _fold(clean_header(cell)))
    return _HEADERS.get(key)


def parse_number(text: str | None) -> float | None:
    """'12.5', '12,5', '1.234,5', '1,234.5' -> float; empty -> None; garbage -> None."""
    if text is None:
        return None
    value = text.strip().replace("\u202f", "").replace("\u00a0", "").replace(" ", "")
    if not value:
        return None
    if "," in value and "." in value:
        decimal = "," if value.rfind(",") > value.rfind(".") else "."
        value = value.replace("." if decimal == "," else ",", "").replace(",", ".")
    elif "," in value:
        value = value.replace(",", ".") if value.count(",") == 1 else value.replace(",", "")
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def parse_seconds(text: str | None) -> float | None:
    """'3600', '3600.0', '3600,5' or '1:00:00' -> seconds."""
    if text is None or not text.strip():
        return None
    value = text.strip()
    if re.fullmatch(r"\d+(:\d{1,2}){1,2}", value):
        parts = [int(p) for p in value.split(":")]
        while len(parts) < 3:
            parts.insert(0, 0)
        return float(parts[0] * 3600 + parts[1] * 60 + parts[2])
    return parse_number(value)


def parse_bool(text: str | None) -> bool | None:
    value = _fold(text or "").strip()
    if value in {"true", "1", "yes", "ja", "wahr", "vrai", "oui", "si", "sí", "verdadero", "vero", "waar"}:
        return True
    if value in {"false", "0", "no", "nein", "falsch", "faux", "non", "falso", "onwaar", "nee"}:
        return False
    return None


_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([ap])?\.?\s*m?\.?", re.IGNORECASE)


def parse_date(text: str | None, month_first: bool = True) -> datetime | None:
    """A Strava `Activity Date` (UTC) in any of the formats seen over the years, else None.

    '2010-05-22 19:39:29' (2018 exports), 'Mar 15, 2024, 6:12:03 AM' (current English, sometimes with a
    narrow no-break space), '15.03.2024, 06:12:03' (German), '15 mars 2024, 06:12:03'. A numeric date with
    slashes is month-first in English exports (`month_first`) and day-first otherwise.
    """
    if text is None:
        return None
    value = text.replace("\u202f", " ").replace("\u00a0", " ").strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except ValueError:
        pass
    hour = minute = second = 0
    date_part = value
    match = _TIME.search(value)
    if match:
        hour, minute, second = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
        ampm = (match.group(4) or "").lower()
        if ampm == "p" and hour < 12:
            hour += 12
        elif ampm == "a" and hour == 12:
            hour = 0
        date_part = value[: match.start()]
    numbers = re.findall(r"\d+", date_part)
    words = [w for w in re.findall(r"[^\W\d_]+", date_part) if w.lower() not in {"de", "um", "à", "a", "le"}]
    month = None
    for word in words:
        folded = _fold(word).rstrip(".")
        month = _MONTHS.get(folded) or _MONTHS.get(folded[:4]) or _MONTHS.get(folded[:3])
        if month:
            break
    try:
        if month is not None and len(numbers) >= 2:
            year = next(int(n) for n in numbers if len(n) == 4)
            day = next(int(n) for n in numbers if len(n) <= 2)
        elif len(numbers) >= 3:
            a, b, c = numbers[:3]
            if len(a) == 4:
                year, month, day = int(a), int(b), int(c)
            else:
                year = int(c) if len(c) == 4 else 2000 + int(c)
                dot = "." in date_part
                first, second_ = int(a), int(b)
                if dot or first > 12 or not month_first:
                    day, month = first, second_
                else:
                    month, day = first, second_
        else:
            return None
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (StopIteration, ValueError):
        return None


def strava_sport(type_name: str | None) -> str | None:
    """Strava's activity type ('Run', 'Trail Run', 'VirtualRun', 'Lauf', 'Ride') -> a sport; None if empty."""
    if type_name is None or not type_name.strip():
        return None
    local = _LOCAL_TYPES.get(_NOT_ALNUM.sub("", _fold(type_name)))
    return local or sport_from_name(type_name)


@dataclass(frozen=True, slots=True)
class StravaRow:
    """One row of activities.csv, in SI units. `filename` is relative to the export root, or None (manual)."""

    line: int
    activity_id: str
    start_utc: datetime | None = None
    name: str | None = None
    type_name: str | None = None
    description: str | None = None
    elapsed_time_s: float | None = None
    moving_time_s: float | None = None
    distance_m: float | None = None
    commute: bool | None = None
    gear: str | None = None
    filename: str | None = None
    rpe: float | None = None

    @property
    def sport(self) -> str | None:
        return strava_sport(self.type_name)

    @property
    def label(self) -> str:
        return (
            f"activities.csv (Activity ID {self.activity_id})"
            if self.activity_id
            else (f"activities.csv line {self.line}")
        )


def _decode_text(data: bytes, what: str) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CorruptFile(f"{what} is not UTF-8 text")


def parse_activities_csv(data: bytes) -> tuple[list[StravaRow], list[tuple[str, str]]]:
    """Rows of activities.csv and per-row problems (label, reason). Raises CorruptFile when unusable."""
    text = _decode_text(data, ACTIVITIES_CSV)
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise CorruptFile(f"{ACTIVITIES_CSV} is not valid CSV ({exc})") from None
    if not records:
        raise CorruptFile(f"{ACTIVITIES_CSV} is empty")
    header, body = records[0], [r for r in records[1:] if any(cell.strip() for cell in r)]
    columns: dict[str, list[int]] = {}
    for index, cell in enumerate(header):
        key = header_key(cell)
        if key:
            columns.setdefault(key, []).append(index)
    _columns_by_content(columns, body)
    if "filename" not in columns and "id" not in columns:
        raise CorruptFile(f"{ACTIVITIES_CSV} has no Filename or Activity ID column (header not recognised)")
    english = any(_fold(clean_header(c)).startswith("activity") for c in header)

    def cell(row: list[str], key: str, occurrence: int = 0) -> str | None:
        indexes = columns.get(key, [])
        if len(indexes) <= occurrence or indexes[occurrence] >= len(row):
            return None
        value = row[indexes[occurrence]].strip()
        return value or None

    rows: list[StravaRow] = []
    problems: list[tuple[str, str]] = []
    for line, raw in enumerate(body, start=2):
        distance_m = parse_number(cell(raw, "distance", 1))  # the repeated Distance is metres
        if distance_m is None:
            first = parse_number(cell(raw, "distance", 0))  # display unit: km (metric accounts)
            distance_m = first * 1000.0 if first is not None else None
        elapsed = parse_seconds(cell(raw, "elapsed_time", 0))
        if elapsed is None:
            elapsed = parse_seconds(cell(raw, "elapsed_time", 1))
        filename = cell(raw, "filename")
        rpe = parse_number(cell(raw, "perceived_exertion"))
        row = StravaRow(
            line=line,
            activity_id=cell(raw, "id") or "",
            start_utc=parse_date(cell(raw, "date"), month_first=english),
            name=cell(raw, "name"),
            type_name=cell(raw, "type"),
            description=cell(raw, "description"),
            elapsed_time_s=elapsed,
            moving_time_s=parse_seconds(cell(raw, "moving_time")),
            distance_m=distance_m,
            commute=parse_bool(cell(raw, "commute")),
            gear=_gear_name(cell(raw, "gear")),
            filename=filename,
            rpe=rpe if rpe is not None and 1 <= rpe <= 10 else None,
        )
        if row.start_utc is None and cell(raw, "date"):
            problems.append((row.label, f"unreadable date {cell(raw, 'date')!r}"))
        rows.append(row)
    return rows, problems


def _columns_by_content(columns: dict[str, list[int]], body: list[list[str]]) -> None:
    """Find Filename / Activity Date columns by their values when the header language is unknown."""
    sample = body[:50]
    if not sample:
        return
    width = max(len(r) for r in sample)
    if "filename" not in columns:
        for index in range(width):
            values = [r[index].strip() for r in sample if index < len(r) and r[index].strip()]
            if values and all(_FILENAME_VALUE.match(v) for v in values):
                columns["filename"] = [index]
                break
    if "date" not in columns:
        for index in range(width):
            values = [r[index].strip() for r in sample if index < len(r) and r[index].strip()]
            if values and re.search(r"\d{4}", values[0]) and all(parse_date(v) for v in values[:5]):
                columns["date"] = [index]
                break


def _gear_name(text: str | None) -> str | None:
    if text is None:
        return None
    # Strava writes '+' for spaces in some gear fields (endurain docs); a name with real spaces keeps its '+'.
    name = text.replace("+", " ") if " " not in text else text
    name = " ".join(name.split())
    return name or None


def gear_key(name: str) -> str:
    """How gear names are matched: case-insensitive, '+' as space, runs of spaces collapsed."""
    return " ".join(name.replace("+", " ").lower().split())


def parse_gear_csv(data: bytes, prefix: str) -> list[ShoeSpec]:
    """Gear from shoes.csv (`prefix` 'shoe') or bikes.csv ('bike'): Name, Brand, Model columns."""
    text = _decode_text(data, f"{prefix}s.csv")
    records = list(csv.reader(io.StringIO(text, newline="")))
    if not records:
        return []
    index: dict[str, int] = {}
    for i, cell in enumerate(records[0]):
        key = _NOT_ALNUM.sub("", _fold(clean_header(cell)))
        for field_name, words in (
            ("name", ("name", "nom", "nombre", "nome", "naam")),
            ("brand", ("brand", "marke", "marque", "marca", "merk")),
            ("model", ("model", "modell", "modele", "modelo", "modello")),
        ):
            if field_name not in index and any(key.endswith(w) for w in words):
                index[field_name] = i
    gear: list[ShoeSpec] = []
    for row in records[1:]:

        def get(key: str, row: list[str] = row) -> str | None:
            i = index.get(key)
            return _gear_name(row[i]) if i is not None and i < len(row) else None

        brand, model = get("brand"), get("model")
        name = get("name") or " ".join(p for p in (brand, model) if p) or None
        if name:
            gear.append(ShoeSpec(name=name, brand=brand, model=model))
    return gear


def merge_sport(file_sport: str, file_format: str, csv_sport: str | None) -> str:
    """The activity's sport from the file's and the CSV's.

    The file decides when it names a sport; GPX/TCX sports are often absent and defaulted by the reader, so
    there Strava's type decides; a watch's generic "run" is refined by Strava's "Trail Run"/"VirtualRun".
    """
    if csv_sport is None:
        return file_sport
    if file_format != "fit" or file_sport == "other":
        return csv_sport
    if file_sport == "run" and csv_sport in RUNNING_SPORTS:
        return csv_sport
    return file_sport


def merge_row(activity: Activity, row: StravaRow) -> Activity:
    """The CSV's name wins (what the runner named it on Strava; GPX files carry generic names such as
    "Sport"); CSV values fill the file's gaps (description, perceived exertion); commute and gear come from
    the CSV; the CSV's sport decides as `merge_sport` says."""
    extra = dict(activity.extra)
    extra["strava_activity_id"] = row.activity_id
    if row.type_name:
        extra["source_type"] = row.type_name
    return replace(
        activity,
        sport=merge_sport(activity.sport, activity.source_format, row.sport),
        name=row.name or activity.name,
        description=activity.description or row.description,
        rpe=activity.rpe if activity.rpe is not None else row.rpe,
        commute=row.commute if row.commute is not None else activity.commute,
        gear_name=row.gear or activity.gear_name,
        extra=extra,
    )


def manual_activity(row: StravaRow) -> Activity:
    """An activity entered by hand on Strava (no file): from the CSV's date, distance and times.

    Raises CorruptFile when the row has no readable date. Its source hash is derived from the Strava
    activity id so that importing the export again finds it as a duplicate.
    """
    if row.start_utc is None:
        raise CorruptFile("manual entry without a readable date")
    problem = span_problem(row.start_utc, row.elapsed_time_s)
    if problem is not None:
        raise CorruptFile(problem)
    key = f"strava-manual:{row.activity_id or row.line}"
    return Activity(
        sport=row.sport or "other",
        start_utc=row.start_utc,
        source_format="manual",
        distance_m=row.distance_m if row.distance_m else None,
        moving_time_s=row.moving_time_s or row.elapsed_time_s,
        elapsed_time_s=row.elapsed_time_s or row.moving_time_s,
        name=row.name,
        description=row.description,
        commute=row.commute,
        rpe=row.rpe,
        gear_name=row.gear,
        source_sha256=hashlib.sha256(key.encode()).hexdigest(),
        source_name=row.label,
        extra={"strava_activity_id": row.activity_id, "source_type": row.type_name or ""},
    )


def is_strava_export(names: list[str]) -> bool:
    return find_root(names, ACTIVITIES_CSV) is not None


def plan_strava(archive: SafeZip, sports: frozenset[str]) -> ExportPlan:
    """Import items for a Strava export: one per CSV row (file or manual entry), then unlisted files."""
    names = list(archive.names)
    root = find_root(names, ACTIVITIES_CSV) or ""
    csv_info = archive.names[root + ACTIVITIES_CSV]
    try:
        rows, row_problems = parse_activities_csv(archive.read(csv_info, MAX_CSV_BYTES))
    except BadMember as exc:
        raise CorruptFile(f"{ACTIVITIES_CSV}: {exc}") from None
    del row_problems  # an unreadable date only matters for manual entries, whose items report it
    plan = ExportPlan(kind="strava", items=iter(()))
    bikes: set[str] = set()
    for gear_file, target in (("shoes.csv", plan.shoes), ("bikes.csv", None)):
        info = archive.names.get(root + gear_file)
        if info is None:
            continue
        try:
            gear = parse_gear_csv(archive.read(info, MAX_CSV_BYTES), gear_file[:4])
        except (BadMember, CorruptFile) as exc:
            plan.problems.append(MemberProblem(root + gear_file, str(exc)))
            continue
        if target is not None:
            target.extend(gear)
        else:
            bikes.update(gear_key(g.name) for g in gear)
    known_shoes = {gear_key(s.name) for s in plan.shoes}
    for row in rows:
        # Gear named only in activities.csv: a shoe when a foot sport used it and it is not a bike.
        if row.gear and row.sport in RUNNING_SPORTS | {"walk", "hike"}:
            key = gear_key(row.gear)
            if key not in known_shoes and key not in bikes:
                known_shoes.add(key)
                plan.shoes.append(ShoeSpec(name=row.gear))
    listed = {root + r.filename for r in rows if r.filename}
    unlisted = sorted(
        n for n in names if n.startswith(root + "activities/") and format_of(n) and n not in listed
    )
    plan.total = len(rows) + len(unlisted)
    plan.items = _strava_items(archive, root, rows, unlisted, sports)
    n_manual = sum(1 for r in rows if not r.filename)
    if n_manual:
        entries = "1 manual entry" if n_manual == 1 else f"{n_manual} manual entries"
        plan.notes.append(f"{entries} in activities.csv (no file): imported from the CSV")
    return plan


def _strava_items(
    archive: SafeZip, root: str, rows: list[StravaRow], unlisted: list[str], sports: frozenset[str]
) -> Iterator[ArchiveItem]:
    seen: set[str] = set()
    for row in rows:
        sport = row.sport
        if not row.filename:
            key = f"{ACTIVITIES_CSV}#{row.activity_id or row.line}"
            if sport is not None and sport not in sports:
                yield ArchiveItem(key=key, name=key, skip_sport=(sport, row.type_name or sport))
                continue
            try:
                yield ArchiveItem(key=key, name=key, manual=manual_activity(row))
            except CorruptFile as exc:
                yield ArchiveItem(key=key, name=key, load=_raiser(str(exc)))
            continue
        member = root + row.filename
        key = member if member not in seen else f"{member}#{row.activity_id}"
        seen.add(member)
        if sport is not None and sport not in sports:
            yield ArchiveItem(key=key, name=row.filename, skip_sport=(sport, row.type_name or sport))
            continue
        info = archive.names.get(member)
        if info is None:
            yield ArchiveItem(
                key=key,
                name=row.filename,
                load=_raiser(f"listed in {ACTIVITIES_CSV} but missing from the archive"),
            )
            continue
        yield ArchiveItem(
            key=key,
            name=row.filename,
            load=lambda info=info: archive.read(info),  # type: ignore[misc]
            enrich=lambda activity, row=row: merge_row(activity, row),  # type: ignore[misc]
        )
    for member in unlisted:
        info = archive.names[member]
        yield ArchiveItem(key=member, name=member[len(root) :], load=lambda info=info: archive.read(info))  # type: ignore[misc]


def _raiser(reason: str):  # type: ignore[no-untyped-def]
    def load() -> bytes:
        raise CorruptFile(reason)

    return load
