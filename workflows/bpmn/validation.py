"""Upload-time lint of BPMN and DMN: every problem with its element id, or its line and column.

SpiffWorkflow's own checks stop at the first problem and, for several kinds, name no element; expressions are
compiled only when they run. Here every condition, script, timer, multi-instance expression and DMN cell is
compiled by the same sandbox compiler the engine uses, so what passes here is what will run.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Callable

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from workflows.bpmn import dmn as dmn_checks
from workflows.bpmn import structure
from workflows.bpmn.engine import CompiledSpec, Engine, StepLimitExceeded, compile_spec, parse_xml
from workflows.bpmn.engine.outcome import ON_REJECT, OUTCOME, OUTCOMES
from workflows.bpmn.limits import DataLimitExceeded
from workflows.bpmn.sandbox import Sandbox, SandboxCompileError

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN, "spiffworkflow": SPIFF}
MAX_ERRORS = 100
_XSD_LOCK = threading.Lock()
_ID_IN_MESSAGE = re.compile(r"attribute 'id': '([^']+)'")   # an XMLSchema keeps its error log on itself

FLOW_NODES = {"startEvent", "endEvent", "userTask", "manualTask", "scriptTask", "businessRuleTask", "task",
              "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
              "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent", "callActivity", "subProcess",
              "receiveTask"}
UNSUPPORTED = {"complexGateway", "serviceTask", "sendTask", "adHocSubProcess", "transaction", "choreographyTask",
               "compensateEventDefinition", "conditionalEventDefinition", "signalEventDefinition",
               "linkEventDefinition", "escalationEventDefinition", "cancelEventDefinition"}
# where expressions (eval) and scripts (exec) live in BPMN
EXPRESSIONS = [
    (".//bpmn:sequenceFlow/bpmn:conditionExpression", "eval", "condition"),
    (".//bpmn:scriptTask/bpmn:script", "exec", "script"),
    (".//spiffworkflow:preScript", "exec", "script"),
    (".//spiffworkflow:postScript", "exec", "script"),
    (".//bpmn:timerEventDefinition/bpmn:timeDuration", "eval", "timer"),
    (".//bpmn:timerEventDefinition/bpmn:timeDate", "eval", "timer"),
    (".//bpmn:timerEventDefinition/bpmn:timeCycle", "eval", "timer"),
    (".//bpmn:multiInstanceLoopCharacteristics/bpmn:loopCardinality", "eval", "multi_instance"),
    (".//bpmn:multiInstanceLoopCharacteristics/bpmn:completionCondition", "eval", "multi_instance"),
    (".//bpmn:standardLoopCharacteristics/bpmn:loopCondition", "eval", "loop"),
    (".//spiffworkflow:messagePayload", "eval", "message"),
    (".//spiffworkflow:processVariableCorrelation/spiffworkflow:expression", "eval", "message"),
    (".//bpmn:correlationPropertyRetrievalExpression/bpmn:formalExpression", "eval", "message"),
    (".//bpmn:correlationPropertyRetrievalExpression/bpmn:messagePath", "eval", "message"),
]


@dataclass(frozen=True)
class CalledProcess:
    """A published process a call activity may bind to (given by the service)."""
    process_id: str
    key: str
    version: int
    bpmn_xml: str
    dmn: tuple = ()


@dataclass
class Context:
    key: str
    known_lanes: frozenset | None = None                       # department codes and role names
    form_version: Callable[[str], int | None] | None = None    # formKey → newest published version
    resolve_call: Callable[[str], CalledProcess | None] | None = None
    prefetch: Callable[[set, set], None] | None = None         # (form keys, called process ids), once
    sandbox: Sandbox = field(default_factory=Sandbox)


@dataclass
class Result:
    errors: list
    process_id: str | None = None
    compiled: CompiledSpec | None = None
    user_tasks: list = field(default_factory=list)
    calls: dict = field(default_factory=dict)


def _tag(element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _owner_id(element) -> str:
    """The id of the nearest element that has one (the BPMN element the problem belongs to)."""
    while element is not None:
        # a timer or message definition belongs to its event: name the event the designer drew
        if element.get("id") and not _tag(element).endswith("EventDefinition"):
            return element.get("id")
        element = element.getparent()
    return ""


def _error(code: str, message: str, element=None, *, element_id: str | None = None, path: str = "/bpmn_xml",
           line: int | None = None, column: int | None = None) -> dict:
    element_id = element_id if element_id is not None else (_owner_id(element) if element is not None else "")
    item = {"path": element_id or path, "code": code, "message": message}
    if element_id:
        item["element_id"] = element_id
    line = line if line is not None else (element.sourceline if element is not None else None)
    if line:
        item["line"] = line
    if column:
        item["column"] = column
    return item


def validate(bpmn_xml: str, dmn: list[dict], ctx: Context) -> Result:
    errors: list = []
    try:
        root = parse_xml(bpmn_xml)
    except etree.XMLSyntaxError as e:
        line, column = (e.position if e.position else (e.lineno, 0))
        return Result([_error("malformed_xml", f"the BPMN is not well-formed XML: {e.msg}", line=line,
                              column=column)])
    dmn_roots = []
    for index, item in enumerate(dmn):
        problem, dmn_root = read_dmn(index, item)
        if problem:
            errors.append(problem)
        dmn_roots.append(dmn_root)
    errors.extend(_xsd_errors(root))
    if errors:
        return Result(errors[:MAX_ERRORS])

    processes = root.findall(f"{{{BPMN}}}process")
    structure.check_names([root, *dmn_roots], _error, errors, ["/bpmn_xml", *(f"/dmn/{i}/xml" for i in range(len(dmn)))])
    structure.check_shape(processes, FLOW_NODES | UNSUPPORTED, _error, errors)
    structure.check_timer_cycles(root, _error, errors)
    process_id = _main_process(processes, ctx.key, errors)
    local_ids = {p.get("id") for p in processes}
    if ctx.prefetch:   # one batch of look-ups instead of one per user task and call activity
        ctx.prefetch({p.get("value") for p in root.xpath(
                         "//bpmn:userTask/bpmn:extensionElements/spiffworkflow:properties"
                         "/spiffworkflow:property[@name='formKey']", namespaces=NS) if p.get("value")},
                     {a.get("calledElement") for a in root.iter(f"{{{BPMN}}}callActivity")
                      if a.get("calledElement")} - local_ids)
    calls, called = _check_structure(root, processes, local_ids, ctx, errors)
    _check_expressions(root, ctx.sandbox, errors)
    called_dmn = [(f"the DMN of called process '{c.key}' version {c.version}", parse_xml(x))
                  for c in called for x in c.dmn]
    dmn_checks.check_files(dmn_roots, [item.get("name") for item in dmn], called_dmn, ctx.sandbox, _error, errors)
    user_tasks = _check_user_tasks(root, ctx, errors)
    _check_outcomes(root, processes, process_id, errors)
    _check_lanes(root, ctx, errors)
    result = Result(errors[:MAX_ERRORS], process_id, user_tasks=user_tasks, calls=calls)
    if errors or process_id is None:
        return result
    try:
        extra_bpmn = [parse_xml(c.bpmn_xml) for c in called]
        extra_dmn = [root for _, root in called_dmn]
        result.compiled = compile_spec([root, *extra_bpmn], [*dmn_roots, *extra_dmn], process_id)
    except (RecursionError, ValidationException) as e:
        if isinstance(e, RecursionError) or "RecursionError" in str(e):   # SpiffWorkflow wraps it
            result.errors.append(_error("chain_too_long", "SpiffWorkflow's parser ran out of stack on a long path "
                                        f"of elements (at most {structure.MAX_CHAIN} in a row, fewer through nested "
                                        "subprocesses): move parts into call activities",
                                        element_id=getattr(e, "id", "") or ""))
            return result
        result.errors.append(_error("invalid_bpmn", str(e).split("\n")[0], element_id=getattr(e, "id", "") or "",
                                    line=getattr(e, "line_number", None) or None))
    except (SpiffWorkflowException, etree.LxmlError, LookupError, ValueError, TypeError, AttributeError) as e:
        # SpiffWorkflow's parser fails on some inputs it has no message for; say what and where we can.
        result.errors.append(_error("invalid_bpmn", f"{type(e).__name__}: {e}"[:300]))
    if result.compiled is not None:
        _check_start(result, ctx)
    return result


def _check_start(result: Result, ctx: Context) -> None:
    """Create an instance as a start would, with no data: a definition whose plan of future tasks alone outgrows
    the limits can never start (the start was refused as if the caller's data were too large)."""
    engine = Engine(ctx.sandbox)
    try:
        engine.dump(engine.new(result.compiled.to_json(), {}))
    except StepLimitExceeded as e:
        element = getattr(getattr(e.task, "task_spec", None), "bpmn_id", None) or ""
        result.errors.append(_error("too_many_tasks", str(e), element_id=element))
        result.compiled = None
    except DataLimitExceeded as e:
        result.errors.append(_error("too_large", f"{e} with no data at all: too many elements or branches",
                                    element_id=""))
        result.compiled = None


def read_dmn(index: int, item: dict):
    """(problem, None) if the DMN file /dmn/{index} is not well-formed DMN 1.x, else (None, its root)."""
    label = dmn_checks.file_label(index, item.get("name"))
    try:
        root = parse_xml(item.get("xml") or "")
    except etree.XMLSyntaxError as e:
        line, column = e.position if e.position else (e.lineno, 0)
        return _error("malformed_xml", f"DMN file {label} is not well-formed XML: {e.msg}",
                      path=f"/dmn/{index}/xml", line=line, column=column), None
    problem = dmn_checks.root_problem(root)
    # comments and processing instructions inside a decision table crashed SpiffWorkflow's DMN parser
    etree.strip_tags(root, etree.Comment, etree.ProcessingInstruction)
    if problem:
        return _error("not_dmn", f"DMN file {label} {problem}", path=f"/dmn/{index}/xml", line=root.sourceline), None
    return None, root


def _xsd_errors(root) -> list:
    """Every XSD violation, with the element id at that line where one exists."""
    with _XSD_LOCK:
        VALIDATOR.preprocess(root)
        if VALIDATOR.validator.validate(root):
            return []
        log = list(VALIDATOR.validator.error_log)
    by_line: dict = {}
    for element in root.iter():
        if isinstance(element.tag, str) and element.get("id"):
            by_line.setdefault(element.sourceline, []).append(element.get("id"))

    def element_id(entry) -> str:
        named = _ID_IN_MESSAGE.search(entry.message)          # "attribute 'id': 'flow_1' is not …" (duplicates)
        if named:
            return named.group(1)
        ids = by_line.get(entry.line, [])
        return ids[0] if len(ids) == 1 else ""                 # only when the line names one element
    return [_error("xsd", entry.message, element_id=element_id(entry), line=entry.line, column=entry.column)
            for entry in log[:MAX_ERRORS]]


def _main_process(processes, key, errors) -> str | None:
    executable = [p for p in processes if p.get("isExecutable") == "true"]
    named = [p for p in processes if p.get("id") == key]
    if named:
        main = named[0]
    elif len(executable) == 1:
        main = executable[0]
    elif not processes:
        errors.append(_error("no_process", "the file has no process"))
        return None
    else:
        errors.append(_error("ambiguous_process", f"name the main process with id '{key}' (the definition key)",
                             element_id=processes[0].get("id", "")))
        return None
    if main.get("isExecutable") != "true":
        errors.append(_error("not_executable", "the process must have isExecutable=\"true\"", main))
    return main.get("id")


def _check_structure(root, processes, local_ids, ctx, errors):
    calls, called = {}, []
    for process in processes:
        scopes = [process, *process.iter(f"{{{BPMN}}}subProcess")]
        for scope in scopes:
            children = [c for c in scope if isinstance(c.tag, str)]
            if not any(_tag(c) == "startEvent" for c in children):
                errors.append(_error("no_start_event", "there is no start event", scope))
            if not any(_tag(c) == "endEvent" for c in children):
                errors.append(_error("no_end_event", "there is no end event", scope))
            nodes = {c.get("id") for c in children if _tag(c) in FLOW_NODES | UNSUPPORTED}
            for flow in scope.findall(f"{{{BPMN}}}sequenceFlow"):
                for end in ("sourceRef", "targetRef"):
                    ref = flow.get(end)
                    if ref not in nodes:
                        errors.append(_error("missing_node", f"the flow's {end} '{ref}' names no node here", flow))
        for element in process.iter():
            if isinstance(element.tag, str) and element.tag.startswith(f"{{{BPMN}}}") and _tag(element) in UNSUPPORTED:
                errors.append(_error("unsupported_element", f"{_tag(element)} is not supported", element))
        for activity in process.iter(f"{{{BPMN}}}callActivity"):
            target = activity.get("calledElement")
            if not target:
                errors.append(_error("unknown_process", "the call activity names no process", activity))
            elif target in local_ids or target in calls:
                continue
            else:
                found = ctx.resolve_call(target) if ctx.resolve_call else None
                if found is None:
                    errors.append(_error("unknown_process",
                                         f"the call activity names '{target}', which is no published process",
                                         activity))
                else:
                    calls[target] = f"{found.key}@{found.version}"
                    called.append(found)
                    if found.process_id != target:
                        # named by its key: bind the call to that definition's process (in the parsed copy only)
                        for same in process.iter(f"{{{BPMN}}}callActivity"):
                            if same.get("calledElement") == target:
                                same.set("calledElement", found.process_id)
    return calls, called


def _compile(sandbox, text, mode, code, element, errors, label):
    if text is None or not text.strip():
        if code in ("condition", "timer"):
            errors.append(_error(f"empty_{code}", f"the {label} is empty", element))
        return
    try:
        sandbox.compile(text, mode)
    except SandboxCompileError as e:
        errors.append(_error(f"bad_{code}", f"{label}, line {e.lineno}: {e.msg}", element))


def _check_expressions(root, sandbox, errors):
    for path, mode, code in EXPRESSIONS:
        for element in root.xpath(path, namespaces=NS):
            _compile(sandbox, element.text, mode, code, element, errors, _tag(element))
    for task in root.iter(f"{{{BPMN}}}businessRuleTask"):
        if not task.xpath(".//spiffworkflow:calledDecisionId", namespaces=NS):
            errors.append(_error("no_decision", "the business rule task names no DMN decision "
                                 "(spiffworkflow:calledDecisionId)", task))


def _check_user_tasks(root, ctx, errors) -> list:
    tasks = []
    for task in root.iter(f"{{{BPMN}}}userTask"):
        props = _properties(task)
        form_key, form_version = props.get("formKey"), props.get("formVersion")
        entry = {"element_id": task.get("id"), "name": task.get("name") or task.get("id"), "form_key": form_key,
                 "form_version": None}
        if not form_key:
            errors.append(_error("no_form", "the user task names no form (spiffworkflow property formKey)", task))
        elif ctx.form_version is not None:
            latest = ctx.form_version(form_key)
            if latest is None:
                errors.append(_error("form_not_published", f"formKey '{form_key}' names no published form", task))
            elif form_version and (not (form_version.isascii() and form_version.isdigit())   # not "²"
                                   or not 1 <= int(form_version) <= latest):
                errors.append(_error("form_version_unknown",
                                     f"form '{form_key}' has no published version {form_version}", task))
            else:
                entry["form_version"] = int(form_version) if form_version else latest
        tasks.append(entry)
    return tasks


def _properties(element) -> dict:
    return {p.get("name"): p.get("value") for p in element.xpath(
        "./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", namespaces=NS)}


def _check_outcomes(root, processes, process_id, errors):
    """The outcome contract (docs/bpmn.md, "办结结果"; workflows/bpmn/engine/outcome.py): the case's result is the end its
    process reaches, so a main process with several ends declares the outcome of each; values are checked."""
    main = next((p for p in processes if p.get("id") == process_id), None)
    ends = [e for e in main if _tag(e) == "endEvent"] if main is not None else []
    for end in root.iter(f"{{{BPMN}}}endEvent"):
        value = _properties(end).get(OUTCOME)
        if value is not None and value not in OUTCOMES:
            errors.append(_error("bad_outcome", f"the end event's outcome '{value}' is neither 'approved' nor "
                                 "'rejected'", end))
        elif value is None and len(ends) > 1 and end in ends:
            errors.append(_error("no_outcome", "the process has more than one end event: this one must declare "
                                 "the case's outcome (spiffworkflow property outcome = approved or rejected)", end))
    for task in root.iter(f"{{{BPMN}}}userTask"):
        value = _properties(task).get(ON_REJECT)
        if value is not None and value != "route":
            errors.append(_error("bad_on_reject", f"onReject '{value}' is not 'route' (leave it out to end the case "
                                 "on 不同意)", task))


def _check_lanes(root, ctx, errors):
    if ctx.known_lanes is None:
        return
    for lane in root.iter(f"{{{BPMN}}}lane"):
        name = (lane.get("name") or "").strip()
        if name not in ctx.known_lanes:
            errors.append(_error("unknown_lane",
                                 f"lane '{name}' names no known department code or role", lane))
