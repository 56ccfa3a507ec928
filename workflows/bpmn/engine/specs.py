"""Turning uploaded XML into specs, and keeping each published version's serialized spec in memory.

Nothing here touches the database: the service modules load and store.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from lxml import etree
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers import DefaultRegistry

from core.cache import MiB, WeightedLRU
from workflows.bpmn.engine import spiff

# Uploaded XML is untrusted: no DTDs, no entities (XXE: <!ENTITY x SYSTEM "file:///etc/passwd">), no network.
XML_PARSER_OPTIONS = dict(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                          huge_tree=False, remove_comments=False)


def parse_xml(data: bytes | str):
    """An lxml element from untrusted bytes; raises etree.XMLSyntaxError (with .lineno, .position)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    root = etree.fromstring(data, etree.XMLParser(**XML_PARSER_OPTIONS))
    if root.getroottree().docinfo.doctype:
        raise etree.XMLSyntaxError("DOCTYPE declarations are not allowed", None, 1, 1, "upload")
    return root


# --- serialization: specs once per published version, state per instance ---

class _StateOnlyWorkflowConverter(BpmnWorkflowConverter):
    """Serialize a workflow without its spec: the spec is stored once with the published version."""

    def to_dict(self, workflow):
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)   # WorkflowConverter's: tasks, data, root
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


def _registry():
    registry = DefaultRegistry()
    # Dates and Decimals are data the helpers produce; give them a JSON form.
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
    return registry


SERIALIZER, ENCODER = spiff.serializer(_StateOnlyWorkflowConverter, _registry())
# A serializer for full workflows (tests and the raw benchmark compare against it).
FULL_SERIALIZER, _ = spiff.serializer()


@dataclass(frozen=True)
class CompiledSpec:
    """A parsed process: the main process spec and every subprocess it calls."""
    process_id: str
    spec: object
    subprocess_specs: dict

    def to_json(self) -> str:
        return json.dumps({"spec": SERIALIZER.to_dict(self.spec),
                           "subprocess_specs": {k: SERIALIZER.to_dict(v) for k, v in self.subprocess_specs.items()}},
                          separators=(",", ":"), cls=ENCODER)


def compile_spec(bpmn_files: list, dmn_files: list = (), process_id: str | None = None) -> CompiledSpec:
    """Parse already-validated XML (lxml elements) into specs. Raises SpiffWorkflow's ValidationException."""
    parser = spiff.Parser()   # the XSD check ran in validation, with every error reported
    for index, root in enumerate(bpmn_files):
        parser.add_bpmn_xml(root, filename=f"bpmn-{index}")
    for index, root in enumerate(dmn_files):
        parser.add_dmn_xml(root, filename=f"dmn-{index}")
    spec = parser.get_spec(process_id)
    return CompiledSpec(process_id, spec, parser.get_subprocess_specs(process_id))


# Serialized specs per published version id, bounded by their size (up to ~6 MB each): restores take a fresh
# copy by json.loads of the cached text, the cheapest deep copy (from_dict mutates what it is given).
SPECS = WeightedLRU("process specs", max_weight=64 * MiB, weigh=len)
