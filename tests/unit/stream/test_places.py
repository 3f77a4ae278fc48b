"""Place lookup: names in the text over the location field, context for shared names, no everyday words."""

from __future__ import annotations

import pytest

from tweet_triage.model.places import Place, gazetteer


def resolve(text: str | None, location: str | None = None) -> Place | None:
    return gazetteer().resolve(text, location)


@pytest.mark.parametrize(
    ("text", "location", "expected"),
    [
        ("Earthquake hits Kathmandu, Nepal", None, ("Kathmandu", "NP", "city", "text")),
        ("Nepal: buildings down in Kathmandu", None, ("Kathmandu", "NP", "city", "text")),
        ("Forest fire near La Ronge Sask. Canada", None, ("Canada", "CA", "country", "text")),
        ("Fire downtown, stay away", "Austin, TX", ("Austin", "US", "city", "profile")),
        ("Flooding in Paris tonight", "Paris, TX", ("Paris", "FR", "city", "text")),
        ("Help", "Paris, TX", ("Paris", "US", "city", "profile")),
        ("Help", "Birmingham, UK", ("Birmingham", "GB", "city", "profile")),
        ("Help", "Ontario, Canada", ("Canada", "CA", "country", "profile")),
        ("Help", "NYC", ("New York City", "US", "city", "profile")),
        ("Help", "Bombay", ("Mumbai", "IN", "city", "profile")),
        ("Smoke over NYC", "London", ("New York City", "US", "city", "text")),
    ],
)
def test_places_resolve(text: str, location: str | None, expected: tuple[str, str, str, str]) -> None:
    place = resolve(text, location)
    assert place is not None
    assert (place.name, place.country, place.kind, place.source) == expected


@pytest.mark.parametrize(
    ("text", "location"),
    [
        ("Nice weather today, my mixtape is fire", "in your heart"),
        ("Mobile home park on fire", None),
        ("help us in the storm", "everywhere"),
        ("DORETTE THATS THE NAME OF THE MUDSLIDE CAKE MAKER", None),
        ("Boxer back plan to move vets to VA campus", None),
        ("paris is lovely", None),
    ],
)
def test_everyday_words_lower_case_text_shouting_and_state_codes_in_text_are_not_places(
    text: str, location: str | None
) -> None:
    assert resolve(text, location) is None


def test_a_place_has_coordinates_and_a_readable_label() -> None:
    austin = resolve("x", "Austin, TX")
    assert austin is not None and austin.label == "Austin, TX, US"
    assert 30 < austin.latitude < 31 and -98 < austin.longitude < -97
    nepal = resolve("Nepal quake", None)
    assert nepal is not None and nepal.label == "Nepal"
    assert 27 < nepal.latitude < 28.5, "a country's point is its capital"
