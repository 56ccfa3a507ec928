"""The catalogue search: what a published version is found by, and the query residents run.

MongoDB's text index does not split Chinese into words (and the test server has no text index at all), so a
published version carries its own lookup keys in one multikey field, `search_keys`, indexed with `current`:

    t:<term>      character bigrams (and single characters) of Chinese text; prefixes of Latin words and numbers
    d:<id>        the owning department
    c:<category>  the category
    r:<code>      each region where it may be applied for

A search looks up its most selective filter by equality on the (current, search_keys) index — the one query
shape the test server also answers from an index (it scans the collection once a query mixes an indexed
equality with anything else, `$all` included) — and checks the other filters on the candidates it returns: the
keyword's words as substrings of `search_text` (Latin words at a word's start), so the characters must be
adjacent, which bigrams alone do not ensure.
"""
from __future__ import annotations

import re
import unicodedata

from workflows.cases.catalog.models import ServiceVersion

NATIONWIDE = "100000"           # 全国: applicable everywhere (跨省通办)
MAX_LATIN_PREFIX = 12           # a Latin word is found by any prefix of up to this many characters
MAX_KEYS = 6000                 # per version; names and the code come first, so they are always searchable
SEARCH_FIELDS = ("search_keys", "search_text")   # the index a version carries: never shown, rarely read back
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


def _matcher(keyword: str | None):
    """Whether a search_text holds every word of the keyword: Chinese anywhere, Latin words at a word's start."""
    patterns = [re.compile(("(?<![0-9a-z])" if word.isascii() else "") + re.escape(word))
                for word in _RUNS.findall(normalize(keyword or ""))]
    return lambda text: all(p.search(text) for p in patterns)


def _driver(terms: list[str], department, category, region) -> list[str]:
    """The look-up keys of the filter likely to match fewest versions (any of them, for a region)."""
    if department:
        return [f"d:{department}"]
    if category:
        return [f"c:{category}"]
    if terms:
        return [f"t:{max(terms, key=len)}"]
    return [f"r:{code}" for code in ancestors(region)]


def _lookup(keys: list[str]):
    """Current versions holding any of `keys`: one equality look-up per key (on the test server four equalities
    take 0.9 s where one `$in` of the same four keys took 4.3 s, over 2,000 versions)."""
    fields = {"code": 1, "version": 1, "search_text": 1, "department": 1, "body.category": 1, "body.regions": 1}
    for key in keys:
        yield from ServiceVersion._get_collection().find({"current": True, "search_keys": key}, fields)


def search(*, keyword: str | None = None, department: str | None = None, category: str | None = None,
           region: str | None = None, page: int = 1, page_size: int = 20) -> dict:
    """{items, total, page, page_size} over current versions, in code order.

    One indexed look-up by the most selective filter fetches the candidates' codes, texts, departments,
    categories and regions; the other filters are checked on those. (On the test server every returned document
    costs ~0.2 ms and a large `$in` is quadratic, so one look-up and no `$in` beyond a page's ids.)
    """
    terms = _terms(keyword or "", query=True)
    light = ServiceVersion.objects(current=True).exclude(*SEARCH_FIELDS, "body.materials")
    if not (terms or department or category or region):   # no filter (or only punctuation): the whole catalogue
        ordered = light.order_by("code")
        return {"items": list(ordered.skip((page - 1) * page_size).limit(page_size)), "total": ordered.count(),
                "page": page, "page_size": page_size}
    driver = _driver(terms, department, category, region)
    places = set(ancestors(region)) if region else None
    matches = _matcher(keyword)
    newest = {}   # code → (version, _id): a crash in publish can leave two current versions of a code
    for doc in _lookup(driver):
        body = doc.get("body") or {}
        if department and doc.get("department") != department or category and body.get("category") != category:
            continue
        if places is not None and not places.intersection(body.get("regions") or ()):
            continue
        if matches(doc.get("search_text", "")) and (doc["version"], doc["_id"]) > newest.get(doc["code"], (0,)):
            newest[doc["code"]] = (doc["version"], doc["_id"])
    survivors = sorted((code, doc_id) for code, (_, doc_id) in newest.items())
    chosen = [doc_id for _, doc_id in survivors[(page - 1) * page_size:page * page_size]]
    # by _id alone: adding `current` to an `$in` makes the test server scan the collection (25 ms → 800 ms)
    page_docs = ServiceVersion.objects(id__in=chosen).exclude(*SEARCH_FIELDS, "body.materials")
    items = sorted(page_docs, key=lambda v: v.code) if chosen else []
    return {"items": items, "total": len(survivors), "page": page, "page_size": page_size}
