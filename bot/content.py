"""Content packs: read a city's YAML or CSV file, validate all of it, then import it at once.

Validation is whole file or nothing: every problem is reported with the file, the line (YAML)
or row (CSV), and the field. Re-importing updates rows by their stable `id` instead of adding.
Every text is cleaned like typed text (bot.clean); one left empty by the cleaning is a problem.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clean import clean
from bot.i18n import SHIPPED_LOCALES
from handlers.vocabulary import CATEGORIES, SKILLS
from storage.faq import FaqRepository
from storage.models import OpportunityStatus, Schedule
from storage.opportunities import OpportunityData, OpportunityRepository
from storage.services import ServiceRepository

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PROGRESS_FROM = 200  # files with at least this many opportunities show a progress bar


class ContentError(Exception):
    """The file cannot be imported; the message lists every problem, one per line."""


def _one_of(allowed: object, what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in allowed:  # type: ignore[operator]
            raise ValueError(f"{value!r} is not a {what}; choose one of {', '.join(allowed)}")  # type: ignore[arg-type]
        return value

    return check


def _words(value: object) -> object:
    """CSV cells hold lists as 'a, b c'; YAML already gives lists."""
    if isinstance(value, str):
        return [word for word in re.split(r"[,;\s]+", value) if word]
    return value


def _clean(value: object) -> object:
    """Content texts get the cleaning typed text gets (bot.clean): no controls, zero-width or
    bidi-override characters, no lone surrogates; NFC, trimmed."""
    return clean(value) if isinstance(value, str) else value


Cleaned = BeforeValidator(_clean)
ExternalId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
Locale = Annotated[str, AfterValidator(_one_of(SHIPPED_LOCALES, "shipped locale"))]
Category = Annotated[str, AfterValidator(_one_of(CATEGORIES, "category"))]
Skill = Annotated[str, AfterValidator(_one_of(SKILLS, "skill"))]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Cleaned
]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=3000), Cleaned]
Address = Annotated[str, StringConstraints(max_length=300), Cleaned]
Contact = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), Cleaned]
TimeOfDay = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class Weekly(BaseModel):
    """Every week on these days, at this time (city time)."""

    model_config = ConfigDict(extra="forbid")
    weekly: Annotated[list[Literal[WEEKDAYS]], Field(min_length=1)]  # type: ignore[valid-type]
    time: TimeOfDay


class Once(BaseModel):
    """One date and time, city time: 'YYYY-MM-DD HH:MM'."""

    model_config = ConfigDict(extra="forbid")
    once: datetime

    @field_validator("once", mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return datetime.strptime(value.strip(), "%Y-%m-%d %H:%M")
            except ValueError:
                raise ValueError("write the date and time as YYYY-MM-DD HH:MM") from None
        return value


class OpportunityEntry(BaseModel):
    """One opportunity in a content pack."""

    model_config = ConfigDict(extra="forbid")
    id: ExternalId
    organisation: ExternalId
    category: Category
    skills: Annotated[list[Skill], BeforeValidator(_words)] = []
    languages: Annotated[list[Locale], BeforeValidator(_words)] = []
    area: ShortText
    address: Address = ""
    when: Weekly | Once | Literal["flexible"]
    min_age: Annotated[int, Field(ge=0, le=99)] = 0
    capacity: Annotated[int, Field(ge=1, le=100_000)] | None = None
    contact: Contact = ""
    title: dict[Locale, ShortText]
    description: dict[Locale, LongText] = {}
    how_to_join: dict[Locale, LongText] = {}


SERVICE_CATEGORIES = ("registration", "health", "legal", "housing", "language", "work",
                      "education", "food", "family", "emergency")  # fmt: skip
ServiceCategory = Annotated[str, AfterValidator(_one_of(SERVICE_CATEGORIES, "service category"))]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 ]{1,30}$")]
Url = Annotated[str, StringConstraints(pattern=r"^https?://[^\s]{3,290}$")]


class OpeningHours(BaseModel):
    """Open on these days from `open` to `close` (city time)."""

    model_config = ConfigDict(extra="forbid")
    days: Annotated[list[Literal[WEEKDAYS]], Field(min_length=1)]  # type: ignore[valid-type]
    open: TimeOfDay
    close: TimeOfDay

    @model_validator(mode="after")
    def _closes_after_opening(self) -> OpeningHours:
        if self.close <= self.open:
            raise ValueError("close must be later than open")
        return self


class ServiceEntry(BaseModel):
    """A local service."""

    model_config = ConfigDict(extra="forbid")
    id: ExternalId
    category: ServiceCategory
    name: dict[Locale, ShortText]
    description: dict[Locale, LongText] = {}
    for_whom: dict[Locale, LongText] = {}
    address: Address = ""
    hours: list[OpeningHours] = []
    phone: Phone | None = None
    website: Url | None = None
    languages: list[Locale] = []
    free: bool = False


class EmergencyEntry(BaseModel):
    """An emergency number."""

    model_config = ConfigDict(extra="forbid")
    id: ExternalId
    number: Annotated[str, StringConstraints(pattern=r"^[0-9][0-9 ]{1,20}$")]
    name: dict[Locale, ShortText]


class FaqItem(BaseModel):
    """A frequently asked question, its other phrasings and its answer, per locale."""

    model_config = ConfigDict(extra="forbid")
    id: ExternalId
    category: ServiceCategory
    services: list[ExternalId] = []
    question: dict[Locale, ShortText]
    phrasings: dict[Locale, list[ShortText]] = {}
    answer: dict[Locale, LongText]


class OrganisationEntry(BaseModel):
    """An organisation that runs opportunities."""

    model_config = ConfigDict(extra="forbid")
    id: ExternalId
    name: ShortText
    contact: Contact = ""


class Pack(BaseModel):
    """A city's content pack."""

    model_config = ConfigDict(extra="forbid")
    city: ShortText
    timezone: str = "Europe/Rome"
    source_locale: Locale = "it"
    areas: list[ShortText] = []
    organisations: list[OrganisationEntry] = []
    opportunities: list[OpportunityEntry] = []
    services: list[ServiceEntry] = []
    emergency: list[EmergencyEntry] = []
    faq: list[FaqItem] = []

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone, e.g. Europe/Rome") from None
        return value

    @model_validator(mode="after")
    def _references(self) -> Pack:
        organisations = {organisation.id for organisation in self.organisations}
        problems = []
        seen: set[str] = set()
        for index, entry in enumerate(self.opportunities):
            if entry.organisation not in organisations:
                problems.append(
                    f"opportunities.{index}.organisation: unknown {entry.organisation!r}"
                )
            if entry.id in seen:
                problems.append(f"opportunities.{index}.id: {entry.id!r} appears twice")
            seen.add(entry.id)
            if self.source_locale not in entry.title:
                problems.append(f"opportunities.{index}.title: no {self.source_locale!r} title")
        services = {service.id for service in self.services}
        ids = set()
        for index, item in enumerate(self.faq):
            for position, service in enumerate(item.services):
                if service not in services:
                    problems.append(f"faq.{index}.services.{position}: unknown service {service!r}")
            if item.id in ids:
                problems.append(f"faq.{index}.id: {item.id!r} appears twice")
            ids.add(item.id)
            for field in ("question", "answer"):
                if self.source_locale not in getattr(item, field):
                    problems.append(f"faq.{index}.{field}: no {self.source_locale!r} text")
        if problems:
            raise ValueError("; ".join(problems))
        return self


@dataclass(frozen=True)
class ImportReport:
    """What an import did."""

    created: int
    updated: int
    published: list[int]


# --- reading ---------------------------------------------------------------------------------


def load_pack(path: Path) -> Pack:
    """Read and validate a YAML or CSV content file; ContentError lists every problem."""
    if not path.exists():
        raise ContentError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ContentError(f"{path}: not UTF-8 text") from None
    if path.suffix.lower() == ".csv":
        data, where = _read_csv(path, text)
    elif path.suffix.lower() in (".yaml", ".yml"):
        data, where = _read_yaml(path, text)
    else:
        raise ContentError(f"{path}: use a .yaml, .yml or .csv file")
    try:
        return Pack.model_validate(data)
    except ValidationError as error:
        raise ContentError("\n".join(_problems(error, where))) from None


Locator = Callable[[tuple[Any, ...]], str]


def _problems(error: ValidationError, where: Locator) -> list[str]:
    problems = []
    for problem in error.errors():
        message = str(problem["msg"]).removeprefix("Value error, ")
        if not problem["loc"] and ": " in message:  # cross-reference problems carry their path
            for part in message.split("; "):
                path, _, detail = part.partition(": ")
                location = tuple(int(p) if p.isdigit() else p for p in path.split("."))
                problems.append(f"{where(location)}: {detail}")
            continue
        location = tuple(
            p for p in problem["loc"] if p not in ("Weekly", "Once", "literal['flexible']")
        )
        problems.append(f"{where(location)}: {message}")
    return problems


def _read_yaml(path: Path, text: str) -> tuple[object, Locator]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark else ""
        raise ContentError(
            f"{path}{line}: not valid YAML ({getattr(error, 'problem', error)})"
        ) from None
    lines: dict[tuple[Any, ...], int] = {}

    def walk(node: yaml.Node, location: tuple[Any, ...]) -> None:
        lines[location] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                lines[(*location, key.value)] = key.start_mark.line + 1
                walk(value, (*location, key.value))
                lines[(*location, key.value)] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*location, index))

    if root is not None:
        walk(root, ())

    def where(location: tuple[Any, ...]) -> str:
        known = location
        while known and known not in lines:
            known = known[:-1]
        field = ".".join(str(part) for part in location) or "file"
        return f"{path}, line {lines.get(known, 1)}, field {field}"

    return data, where


CSV_LIST_FIELDS = ("skills", "languages")
CSV_TEXT_FIELDS = ("title", "description", "how_to_join")


def _read_csv(path: Path, text: str) -> tuple[object, Locator]:
    """One opportunity per row; organisations and areas come from their columns."""
    reader = csv.DictReader(text.splitlines())
    rows = list(reader)
    if not rows:
        raise ContentError(f"{path}: no rows under the header")
    missing = {"id", "organisation", "city", "category", "area", "when"} - set(
        reader.fieldnames or ()
    )
    if missing:
        raise ContentError(f"{path}, row 1: missing column(s) {', '.join(sorted(missing))}")
    organisations: dict[str, dict[str, str]] = {}
    opportunities = []
    for row in rows:
        row = {key: (value or "").strip() for key, value in row.items() if key}
        organisations.setdefault(
            row["organisation"],
            {
                "id": row["organisation"],
                "name": row.get("organisation_name") or row["organisation"],
            },
        )
        entry: dict[str, Any] = {
            key: row[key]
            for key in (
                "id",
                "organisation",
                "category",
                "area",
                "address",
                "contact",
                "min_age",
                "capacity",
            )
            if row.get(key)
        }
        entry.update({key: row[key] for key in CSV_LIST_FIELDS if row.get(key)})
        entry["when"] = _csv_when(row["when"])
        for field in CSV_TEXT_FIELDS:
            entry[field] = {
                key.removeprefix(f"{field}_"): value
                for key, value in row.items()
                if key.startswith(f"{field}_") and value
            }
        opportunities.append(entry)
    cities = {(row.get("city") or "").strip() for row in rows}
    data = {
        "city": sorted(cities)[0] if len(cities) == 1 else "",
        "source_locale": (rows[0].get("source_locale") or "it").strip(),
        "organisations": list(organisations.values()),
        "opportunities": opportunities,
    }

    def where(location: tuple[Any, ...]) -> str:
        if len(location) >= 2 and location[0] == "opportunities":
            field = ".".join(str(part) for part in location[2:]) or "row"
            return f"{path}, row {location[1] + 2}, field {field}"
        if location and location[0] == "city":
            return f"{path}, field city: every row must name the same city"
        return f"{path}, field {'.'.join(str(part) for part in location)}"

    return data, where


def _csv_when(cell: str) -> object:
    """'weekly mon,thu 18:30', 'once 2027-01-16 15:00' or 'flexible' as the YAML forms."""
    kind, _, rest = cell.strip().partition(" ")
    if kind == "weekly":
        days, _, time = rest.strip().rpartition(" ")
        return {"weekly": _words(days), "time": time}
    if kind == "once":
        return {"once": rest.strip()}
    return cell.strip()


# --- importing -------------------------------------------------------------------------------


async def import_pack(
    session: AsyncSession, pack: Pack, progress: Callable[[int, int], None] | None = None
) -> ImportReport:
    """Write a validated pack: organisations, areas and opportunities, updated by their ids."""
    zone = ZoneInfo(pack.timezone)
    repository = OpportunityRepository(session, zone)
    organisations = {
        entry.id: await repository.ensure_organisation(
            entry.id, entry.name, pack.city, entry.contact
        )
        for entry in pack.organisations
    }
    for name in pack.areas:
        await repository.ensure_area(pack.city, name)
    await import_services(session, pack)
    await import_faq(session, pack)
    created = updated = 0
    published = []
    for done, entry in enumerate(pack.opportunities, start=1):
        existing = await repository.by_external_id(entry.id)
        data = _opportunity_data(entry, pack, organisations[entry.organisation], zone)
        data.area_id = await repository.ensure_area(pack.city, entry.area)
        opportunity_id, newly_published = await repository.save(
            data, opportunity_id=existing, status=OpportunityStatus.PUBLISHED
        )
        if newly_published:
            published.append(opportunity_id)
            await repository.notify_followers(opportunity_id)
        created, updated = (created + 1, updated) if existing is None else (created, updated + 1)
        if progress is not None:
            progress(done, len(pack.opportunities))
    return ImportReport(created, updated, published)


async def import_services(session: AsyncSession, pack: Pack) -> None:
    """Services and emergency numbers, updated by their ids."""
    services = ServiceRepository(session)
    for entry in pack.services:
        texts = {
            locale: {
                "name": name,
                "description": entry.description.get(locale, ""),
                "for_whom": entry.for_whom.get(locale, ""),
            }
            for locale, name in entry.name.items()
        }
        hours = [slot.model_dump() for slot in entry.hours]
        await services.save_service(
            entry.id, entry.category, pack.source_locale, texts,
            address=entry.address, hours=hours, phone=entry.phone or "",
            website=entry.website or "", languages=entry.languages, free=entry.free,
        )  # fmt: skip
    for position, number in enumerate(pack.emergency):
        await services.save_emergency(number.id, number.number, dict(number.name), position)


async def import_faq(session: AsyncSession, pack: Pack) -> None:
    """FAQ entries, updated by their ids; entries that admins promoted are never touched."""
    faq = FaqRepository(session)
    for item in pack.faq:
        texts = {
            locale: (question, list(item.phrasings.get(locale, [])), item.answer.get(locale, ""))
            for locale, question in item.question.items()
            if item.answer.get(locale)
        }
        await faq.save(item.id, item.category, pack.source_locale, texts, item.services)


def _opportunity_data(
    entry: OpportunityEntry, pack: Pack, organisation_id: int, zone: ZoneInfo
) -> OpportunityData:
    texts = {
        locale: (title, entry.description.get(locale, ""), entry.how_to_join.get(locale, ""))
        for locale, title in entry.title.items()
    }
    data = OpportunityData(
        organisation_id=organisation_id,
        category=entry.category,
        source_locale=pack.source_locale,
        city=pack.city,
        texts=texts,
        address=entry.address,
        min_age=entry.min_age,
        capacity=entry.capacity,
        contact=entry.contact,
        skills=tuple(dict.fromkeys(entry.skills)),
        languages=tuple(dict.fromkeys(entry.languages)),
        external_id=entry.id,
    )
    if isinstance(entry.when, Weekly):
        data.schedule = Schedule.WEEKLY
        data.weekdays = tuple(sorted({WEEKDAYS.index(day) for day in entry.when.weekly}))
        data.start_time = entry.when.time
    elif isinstance(entry.when, Once):
        data.schedule = Schedule.ONCE
        data.starts_at = entry.when.once.replace(tzinfo=zone)
    return data


def progress_bar(done: int, total: int) -> None:
    """A one-line progress bar on stderr, for files large enough to make people wait."""
    if total < PROGRESS_FROM:
        return
    width = 30
    filled = width * done // total
    end = "\n" if done == total else ""
    print(
        f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
        end=end,
        file=sys.stderr,
        flush=True,
    )
