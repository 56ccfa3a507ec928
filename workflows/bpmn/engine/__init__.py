"""The BPMN engine, in rooms: `spiff` (our SpiffWorkflow subclasses and how the parser and serializer know them),
`specs` (parsing uploads, serialized specs and their cache), `run` (the Engine: start, restore, move, save —
always in the sandbox), `timers` and `path`. The names other modules use are here."""
from workflows.bpmn.engine.path import PathRecorder
from workflows.bpmn.engine.run import DEFAULT_ENGINE, Engine
from workflows.bpmn.engine.specs import FULL_SERIALIZER, SERIALIZER, SPECS, CompiledSpec, compile_spec, parse_xml
from workflows.bpmn.engine.spiff import StepLimitExceeded

__all__ = ["DEFAULT_ENGINE", "FULL_SERIALIZER", "SERIALIZER", "SPECS", "CompiledSpec", "Engine", "PathRecorder",
           "StepLimitExceeded", "compile_spec", "parse_xml"]
