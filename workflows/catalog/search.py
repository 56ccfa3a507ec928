"""The catalogue search: what a published version is found by, and the query residents run.

MongoDB's text index does not split Chinese into words (and the test server has no text index at all), so a
published version carries its own lookup keys in one multikey field, `search_keys`, indexed with `current`:

    t:<term>      character bigrams (and single characters) of Chinese text; prefixes of Latin words and numbers
    d:<id>        the owning department
    c:<category>  the category
    r:<code>      each region where it may be applied for

A search turns each filter into keys and looks each one up by equality on the (current, search_keys) index —
the one query shape the test server also answers from an index (it scans the collection once a query mixes an
indexed equality with anything else, `$all` included) — intersects the ids, then checks the keyword's words as
substrings of `search_text` for the few survivors (bigrams alone do not guarantee the characters are adjacent).
"""
from __future__ import annotations

import re
import unicodedata

from workflows.catalog.models import ServiceVersion

NATIONWIDE = "100000"           # 全国: applicable everywhere (跨省通办)
MAX_LATIN_PREFIX = 12           # a Latin word is found by any prefix of up to this many characters
MAX_KEYS = 6000                 # per version; names and the code come first, so they are always searchable
MAX_QUERY_TERMS = 8
_RUNS = re.compile(r"[0-9a-z]+|[^\W\d_a-z]+")   # Latin words and numbers | runs of other letters (汉字)


def normalize(text: str) -> str:
    """NFKC (full-width ＡＢＣ１２３ become ABC123) and case-folded."""
    return unicodedata.normalize("NFKC", text or "").casefold()


def _terms(text: str, *, query: bool = False) -> list[str]:
    """Index terms of a text, or (`query`) the terms a search for it must find."""
    out: list[str] = []
    for run in _RUNS.findall(normalize(text)):
        if run.isascii():
            out.extend([run[:MAX_LATIN_PREFIX]] if query else
                       [run[:n] for n in range(1, min(len(run), MAX_LATIN_PREFIX) + 1)])
        elif query:
            out.extend([run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)])
        else:
            out.extend(run)                                         # single characters
            out.extend(run[i:i + 2] for i in range(len(run) - 1))   # and adjacent pairs
    return list(dict.fromkeys(out))


def ancestors(region: str) -> list[str]:
    """A region code and the codes that contain it: 440305 → 440305, 440300, 440000, 100000 (全国)."""
    chain = [region]
    if region[4:] != "00":
        chain.append(region[:4] + "00")
    if region[2:] != "0000":
        chain.append(region[:2] + "0000")
    return list(dict.fromkeys(chain + [NATIONWIDE]))


def index_fields(code: str, department: str, body) -> dict:
    """`search_text` and `search_keys` of a version about to be published."""
    texts = [code, body.name, body.name_en, body.category, body.description, body.description_en]
    keys: list[str] = [f"d:{department}"] + ([f"c:{body.category}"] if body.category else []) + \
        [f"r:{region}" for region in body.regions]
    for text in texts:
        keys.extend(f"t:{term}" for term in _terms(text))
    return {"search_text": "\n".join(normalize(t) for t in texts if t),
            "search_keys": list(dict.fromkeys(keys))[:MAX_KEYS]}


def _ids(keys: list[str]) -> set:
    """The current versions holding any of `keys` — one indexed lookup (equality, or $in over one field)."""
    query = {"current": True, "search_keys": keys[0] if len(keys) == 1 else {"$in": keys}}
    return {doc["_id"] for doc in ServiceVersion._get_collection().find(query, {"_id": 1})}


def search(*, keyword: str | None = None, department: str | None = None, category: str | None = None,
           region: str | None = None, page: int = 1, page_size: int = 20) -> dict:
    """{items, total, page, page_size} over current versions, in code order."""
    words = _RUNS.findall(normalize(keyword or ""))          # each must appear in the text, as typed
    groups = [[f"t:{term}"] for term in _terms(keyword or "", query=True)[:MAX_QUERY_TERMS]]
    if department:
        groups.insert(0, [f"d:{department}"])
    if category:
        groups.insert(0, [f"c:{category}"])
    if region:
        groups.append([f"r:{code}" for code in ancestors(region)])
    light = ServiceVersion.objects(current=True).exclude("search_keys", "search_text", "body.materials")
    if not groups:   # no filter (or a keyword of punctuation only): the whole catalogue
        ordered = light.order_by("code")
        return {"items": list(ordered.skip((page - 1) * page_size).limit(page_size)), "total": ordered.count(),
                "page": page, "page_size": page_size}
    ids: set | None = None
    for keys in groups:
        found = _ids(keys)
        ids = found if ids is None else ids & found
        if not ids:
            break
    survivors = []
    if ids:
        for doc in ServiceVersion._get_collection().find({"_id": {"$in": list(ids)}},
                                                         {"code": 1, "search_text": 1}):
            if all(word in doc.get("search_text", "") for word in words):
                survivors.append((doc["code"], doc["_id"]))
    survivors.sort()
    chosen = [doc_id for _, doc_id in survivors[(page - 1) * page_size:page * page_size]]
    items = sorted(light.filter(id__in=chosen), key=lambda v: v.code) if chosen else []
    return {"items": items, "total": len(survivors), "page": page, "page_size": page_size}
