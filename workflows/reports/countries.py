"""Country names for the report's readers: the ISO 3166-1 data that pycountry
keeps, by the two-letter codes the figures are counted under."""

from functools import cache

import pycountry


@cache
def country_name(code: str) -> str:
    """The country's common English name ("KR" -> "South Korea"), else its ISO short
    name ("DE" -> "Germany"); a code ISO does not list stays as it is."""
    country = pycountry.countries.get(alpha_2=str(code).upper()) if len(str(code)) == 2 else None
    if country is None:
        return str(code)
    return getattr(country, "common_name", None) or country.name


def by_name(by_country: dict) -> list[tuple[str, dict]]:
    """The per-country figures in the order of the countries' names."""
    return sorted(by_country.items(), key=lambda item: (country_name(item[0]).casefold(), item[0]))
