// What the Zhangban engine reads from BPMN (docs/bpmn.md), read and written on bpmn-js's model through its
// modeling commands (so undo and redo work). The SpiffWorkflow extension elements stay bpmn-moddle's generic
// elements: declaring the namespace would make every Spiff element we do not list an error on import.
import { layout, hasDiagram } from './layout.js'

export const SPIFF = 'http://spiffworkflow.org/bpmn/schema/1.0/core'
export const ROLES = ['resident', 'approver', 'designer', 'admin']
// the sandbox's helpers (workflows/bpmn/sandbox.py, docs/bpmn.md "Scripts and expressions")
export const HELPERS = ['today()', 'now()', 'date(y, m, d)', 'parse_date(s)', 'days(n)', 'hours(n)', 'add_days(d, n)',
  'add_months(d, n)', 'days_between(a, b)', 'is_working_day(d)', 'working_days(a, b)', 'add_working_days(d, n)',
  'Decimal(x)', 'to_decimal(x)', 'round_money(x, 2)', 'to_int(x, default)', 'valid_id_number(s)',
  'birth_date_from_id(s)', 'age_from_id(s, on=None)', 'gender_from_id(s)']
export const BUILTINS = 'len min max sum any all sorted round abs int float str bool list dict set tuple range ' +
  'enumerate zip reversed chr ord print ValueError'

export const is = (bo, type) => bo && bo.$instanceOf && bo.$instanceOf(type)

// BPMN without diagram interchange is laid out first (bpmn-auto-layout), so it opens.
export async function withDiagram(xml) {
  return hasDiagram(xml) ? xml : layout(xml)
}

// A multi-instance collection is written as a bare name (`<loopDataInputRef>signers</loopDataInputRef>`), which
// bpmn-moddle cannot resolve to an element and would drop on export. Put a stand-in with that id back.
export function keepUnresolvedRefs(moddle, warnings) {
  for (const w of warnings || []) {
    const m = /unresolved reference <(.+)>/.exec(w.message || '')
    if (m && w.element && /loopData(Input|Output)Ref$/.test(w.property || '')) {
      w.element.set(w.property, moddle.create('bpmn:DataInput', { id: m[1] }))
    }
  }
}

function spiffProps(bo) {
  const values = (bo.extensionElements && bo.extensionElements.values) || []
  return values.find((v) => v.$type === 'spiffworkflow:properties' || (v.$instanceOf && v.$descriptor &&
    v.$descriptor.ns && v.$descriptor.ns.uri === SPIFF && /properties$/.test(v.$type)))
}

export function spiffProperty(bo, name) {
  const props = spiffProps(bo)
  const found = props && (props.$children || []).find((c) => c.name === name)
  return found ? found.value : ''
}

// Set (or with '' remove) one spiffworkflow:property, keeping every other extension element as it is.
export function setSpiffProperty(modeler, element, name, value) {
  const moddle = modeler.get('moddle'), modeling = modeler.get('modeling')
  const bo = element.businessObject
  const ext = bo.extensionElements || moddle.create('bpmn:ExtensionElements', { values: [] })
  const values = (ext.values || []).filter((v) => v !== spiffProps(bo))
  const old = spiffProps(bo)
  const children = ((old && old.$children) || []).filter((c) => c.name !== name)
  if (value !== '' && value != null) {
    const prop = moddle.createAny('spiffworkflow:property', SPIFF, { name, value: String(value) })
    children.push(prop)
  }
  if (children.length) {
    const props = moddle.createAny('spiffworkflow:properties', SPIFF, {})
    props.$children = children
    values.push(props)
  }
  const next = moddle.create('bpmn:ExtensionElements', { values })
  modeling.updateProperties(element, { extensionElements: values.length ? next : undefined })
}

export function bodyOf(expr) {
  return expr ? (expr.body || '') : ''
}

export function formalExpression(modeler, body) {
  return body ? modeler.get('moddle').create('bpmn:FormalExpression', { body }) : undefined
}

export function timerOf(bo) {
  const def = (bo.eventDefinitions || []).find((d) => is(d, 'bpmn:TimerEventDefinition'))
  if (!def) return null
  const kind = ['timeDuration', 'timeDate', 'timeCycle'].find((k) => def[k]) || 'timeDuration'
  return { def, kind, value: bodyOf(def[kind]) }
}

// Change a timer's kind or expression through the command stack (the definition is not a shape).
export function setTimer(modeler, element, kind, value) {
  const timer = timerOf(element.businessObject)
  const props = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined }
  props[kind] = formalExpression(modeler, value)
  modeler.get('modeling').updateModdleProperties(element, timer.def, props)
}

export function multiInstanceOf(bo) {
  const loop = bo.loopCharacteristics
  if (!is(loop, 'bpmn:MultiInstanceLoopCharacteristics')) return null
  return {
    loop,
    sequential: !!loop.isSequential,
    collection: loop.loopDataInputRef ? loop.loopDataInputRef.id : '',
    element: loop.inputDataItem ? (loop.inputDataItem.name || loop.inputDataItem.id) : '',
    output: loop.loopDataOutputRef ? loop.loopDataOutputRef.id : '',
    outputElement: loop.outputDataItem ? (loop.outputDataItem.name || loop.outputDataItem.id) : '',
    cardinality: bodyOf(loop.loopCardinality),
    completion: bodyOf(loop.completionCondition),
  }
}

// mode: '' (one person), 'parallel' or 'sequential'; fields: the countersign's collection, variables and conditions.
export function setMultiInstance(modeler, element, mode, f = {}) {
  const moddle = modeler.get('moddle'), modeling = modeler.get('modeling')
  if (!mode) { modeling.updateProperties(element, { loopCharacteristics: undefined }); return }
  const ref = (id) => (id ? moddle.create('bpmn:DataInput', { id }) : undefined)
  const item = (type, name) => (name ? moddle.create(type, { id: name, name }) : undefined)
  const loop = moddle.create('bpmn:MultiInstanceLoopCharacteristics', {
    isSequential: mode === 'sequential',
    loopDataInputRef: ref(f.collection),
    loopDataOutputRef: ref(f.output),
    inputDataItem: item('bpmn:DataInput', f.element),
    outputDataItem: item('bpmn:DataOutput', f.outputElement),
    loopCardinality: formalExpression(modeler, f.cardinality),
    completionCondition: formalExpression(modeler, f.completion),
  })
  modeling.updateProperties(element, { loopCharacteristics: loop })
}
