"""The words of the form language: its field kinds (widgets), the JSON Schema keywords it takes, its limits,
and what `forms.language.analyze` reads a schema into (`Field`, `Form`). Shared by the reader, the compiler and
the render model."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from forms import regexes

MAX_FIELDS = 500
MAX_NESTING = 4          # group / repeatable-group levels below the form
KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}\Z")

# widget → the kind of value it holds
WIDGETS = {
    "text": "string", "textarea": "string", "id-card": "string", "mobile": "string", "uscc": "string",
    "email": "string", "date": "string", "datetime": "string",
    "number": "number", "integer": "integer", "money": "money",
    "select": "choice", "radio": "choice", "checkbox": "choices", "multiselect": "choices",
    "switch": "boolean", "address": "address", "photo": "attachment", "signature": "attachment",
    "file": "attachments", "group": "group", "repeat": "repeat", "readonly": "readonly",
}
FORMAT_OF = {"id-card": "cn-id-card", "mobile": "cn-mobile", "uscc": "cn-uscc", "email": "email",
             "date": "date", "datetime": "date-time"}
WIDGET_OF_FORMAT = {v: k for k, v in FORMAT_OF.items()}
DEFAULT_MAX_LENGTH = {"textarea": 2000, "id-card": 18, "uscc": 18, "mobile": 20, "email": 254, "date": 10,
                      "datetime": 40}
MAX_STRING = 10000
MAX_PATTERN_TEXT = regexes.MAX_TEXT   # a field with a pattern takes at most this many characters
DEFAULT_MAX_ITEMS = {"repeat": 50, "attachments": 10}
MAX_ITEMS = {"repeat": 200, "attachments": 50, "choices": 200}
ATTACHMENT_ID = {"type": "string", "format": "attachment-id"}
PREFILL_PROFILE = ("name", "id_card", "phone")

# The JSON Schema keywords the language uses; anything else is refused, so validation and the render model
# cover all of it.
KEYWORDS = {"type", "enum", "const", "minLength", "maxLength", "pattern", "format", "minimum", "maximum",
            "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "uniqueItems",
            "items", "properties", "required", "additionalProperties", "if", "then", "else", "allOf",
            "dependentRequired", "title", "description", "default", "examples", "readOnly", "$schema", "$id",
            "$comment"}
EXTENSIONS = {"x-ui", "x-visible-if", "x-required-if", "x-prefill"}
UI_KEYS = {"widget", "label", "placeholder", "help", "order", "section", "options", "levels", "accept",
           "max_size_mb", "text", "sections", "rows", "mask"}
# a field's data class (`"x-ui": {"mask": …}`): what staff see of it is masked. The id-card and mobile widgets and the
# profile.id_card / profile.phone prefills carry theirs without saying so; address also fits an address field.
MASKS = ("id-card", "mobile", "address", "bank-card", "name")
MASK_OF = {"id-card": "id-card", "mobile": "mobile", "profile.id_card": "id-card", "profile.phone": "mobile"}


@dataclass
class Field:
    name: str
    pointer: str                 # where it sits in the schema, e.g. /properties/members/items/properties/name
    path: tuple                  # where its value sits in the data; "*" stands for a row index
    widget: str
    kind: str
    node: dict                   # its effective JSON Schema (shape filled in, x-* removed)
    ui: dict
    required: bool = False
    visible_if: object = None    # parsed condition trees
    required_if: object = None
    prefill: str | None = None
    mask: str | None = None      # its data class (MASKS): masked in what staff read
    read_only: bool = False
    children: list = field(default_factory=list)   # group: its fields; repeat: the fields of one row
    rules: dict = field(default_factory=dict)       # the object-level keywords of a group or row

    @property
    def data_pointer(self) -> str:
        return "/" + "/".join(self.path)


@dataclass
class Form:
    fields: list                 # the root fields, in declaration order
    rules: dict                  # root-level if/then/else, allOf, dependentRequired
    json_schema: dict            # the whole form as standard JSON Schema (what a JSON Schema library accepts)
    sections: list
    title: dict


def text_of(value) -> dict:
    """An i18n text as {"zh-CN", "en"}: a plain string is Chinese, and English falls back to it."""
    if isinstance(value, dict):
        zh = value.get("zh-CN") or value.get("zh") or value.get("en") or ""
        return {"zh-CN": zh, "en": value.get("en") or zh}
    return {"zh-CN": value or "", "en": value or ""}
