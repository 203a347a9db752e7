"""Capitals that stand for their countries: "Washington" for the U.S., "Kyiv" for Ukraine.

News writes "Moscow wants..." where a document says "Russia wants..."; a question that names
the capital must not be refused because the documents only name the country. `stands_for(word)`
gives the lower-cased words under which the country of the capital `word` is written: its
name, alternative spellings and ISO codes ("us", "usa", "united states of america"), and its
demonym ("american"). The data are countryinfo's (capitals, names, spellings of 250
countries), read once.

This module only answers "which country may this capital mean"; the premise and name checks
decide what to do with it.
"""

from __future__ import annotations

import functools
import re

_SPLIT = re.compile(r"[\s,.]+")


@functools.cache
def _capitals() -> dict[str, frozenset[str]]:
    try:
        import countryinfo
    except ImportError:  # the checks stay strict without the data
        return {}
    out: dict[str, set[str]] = {}
    for country in countryinfo.all_countries():
        info = country.info()
        capital = str(info.get("capital") or "").strip()
        if not capital:
            continue
        forms = {str(info.get("name") or ""), str(info.get("demonym") or "")}
        forms |= {str(s) for s in info.get("altSpellings") or ()}
        forms = {" ".join(f.lower().replace(".", "").split()) for f in forms if f}
        # "Washington D.C." is also "Washington"
        for key in {capital.lower(), _SPLIT.split(capital.lower())[0]}:
            out.setdefault(key, set()).update(forms)
    return {k: frozenset(v) for k, v in out.items()}


def stands_for(word: str) -> frozenset[str]:
    """The lower-cased forms of the country whose capital is `word` (empty when none)."""
    return _capitals().get(" ".join(word.lower().split()), frozenset())
