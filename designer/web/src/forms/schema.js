// The builder's model of a form and its two-way mapping to the form language (docs/forms.md).
// A field is {uid, key, required, node, children, row}: `node` is the field's JSON Schema without `properties` /
// `required` (a group) or `items` (a repeat); `children` are a group's or a row's fields; `row` keeps the other
// keywords of a repeat's items. Keys the builder does not edit are kept as they were.

let next = 1
const uid = () => `f${next++}`
const clone = (v) => JSON.parse(JSON.stringify(v))

const zhEn = (zh, en) => ({ 'zh-CN': zh, en })
const options = () => [
  { value: 'a', label: zhEn('选项一', 'Option 1') },
  { value: 'b', label: zhEn('选项二', 'Option 2') },
]

// Every field kind of the language, with the node a new field of that kind starts from.
export const KINDS = [
  ['text', () => ({ type: 'string' })],
  ['textarea', () => ({ type: 'string' })],
  ['number', () => ({ type: 'number' })],
  ['integer', () => ({ type: 'integer' })],
  ['money', () => ({ type: 'string' })],
  ['date', () => ({ type: 'string' })],
  ['datetime', () => ({ type: 'string' })],
  ['select', () => ({ type: 'string', enum: ['a', 'b'], 'x-ui': { options: options() } })],
  ['radio', () => ({ type: 'string', enum: ['a', 'b'], 'x-ui': { options: options() } })],
  ['checkbox', () => ({ type: 'array', items: { enum: ['a', 'b'] }, 'x-ui': { options: options() } })],
  ['multiselect', () => ({ type: 'array', items: { enum: ['a', 'b'] }, 'x-ui': { options: options() } })],
  ['switch', () => ({ type: 'boolean' })],
  ['id-card', () => ({ type: 'string' })],
  ['mobile', () => ({ type: 'string' })],
  ['uscc', () => ({ type: 'string' })],
  ['email', () => ({ type: 'string' })],
  ['address', () => ({ type: 'object', 'x-ui': { levels: 3 } })],
  ['photo', () => ({ type: 'string' })],
  ['signature', () => ({ type: 'string' })],
  ['file', () => ({ type: 'array' })],
  ['group', () => ({ type: 'object' })],
  ['repeat', () => ({ type: 'array' })],
  ['readonly', () => ({ 'x-ui': { text: zhEn('说明文字', 'Notes') } })],
].map(([widget, make]) => ({ widget, make }))

export const CONTAINERS = ['group', 'repeat']
export const CHOICE = ['select', 'radio']
export const CHOICES = ['checkbox', 'multiselect']
export const TEXTUAL = ['text', 'textarea']
export const NUMERIC = ['number', 'integer', 'money']
export const LISTS = ['checkbox', 'multiselect', 'file', 'repeat']

export function widgetOf(node) {
  const ui = node['x-ui'] || {}
  if (ui.widget) return ui.widget
  if (node.enum) return 'select'
  if (node.type === 'boolean') return 'switch'
  if (node.type === 'integer') return 'integer'
  if (node.type === 'number') return 'number'
  if (node.type === 'object') return 'group'
  if (node.type === 'array') return node.items && node.items.enum ? 'checkbox' : 'repeat'
  const formats = { 'cn-id-card': 'id-card', 'cn-mobile': 'mobile', 'cn-uscc': 'uscc', email: 'email',
    date: 'date', 'date-time': 'datetime' }
  return formats[node.format] || 'text'
}

// A new field of a kind, with a key not yet used among `siblings` and labels in both languages.
export function newField(widget, siblings, label) {
  const kind = KINDS.find((k) => k.widget === widget)
  const node = kind.make()
  node['x-ui'] = { widget, label: { ...label }, ...(node['x-ui'] || {}) }
  const base = widget.replace('-', '_')
  let n = 1
  const taken = new Set(siblings.map((f) => f.key))
  while (taken.has(`${base}_${n}`)) n += 1
  return { uid: uid(), key: `${base}_${n}`, required: false, node, children: [], row: { type: 'object' } }
}

function fieldsOf(properties, required) {
  return Object.entries(properties || {}).map(([key, raw]) => fromNode(key, raw, (required || []).includes(key)))
}

function fromNode(key, raw, required) {
  const node = clone(raw)
  const widget = widgetOf(node)
  let children = []
  let row = { type: 'object' }
  if (widget === 'group') {
    children = fieldsOf(node.properties, node.required)
    delete node.properties
    delete node.required
  } else if (widget === 'repeat') {
    const items = node.items || {}
    children = fieldsOf(items.properties, items.required)
    row = { ...items }
    delete row.properties
    delete row.required
    delete node.items
  }
  return { uid: uid(), key, required, node, children, row }
}

// {root, fields}: root is the schema without properties/required.
export function fromSchema(schema) {
  const root = clone(schema || {})
  const fields = fieldsOf(root.properties, root.required)
  delete root.properties
  delete root.required
  return { root, fields }
}

function propertiesOf(fields) {
  const properties = {}
  const required = []
  for (const f of fields) {
    properties[f.key] = toNode(f)
    if (f.required) required.push(f.key)
  }
  return { properties, required }
}

function toNode(f) {
  const widget = widgetOf(f.node)
  const node = clone(f.node)
  if (widget === 'group') {
    const { properties, required } = propertiesOf(f.children)
    Object.assign(node, { properties }, required.length ? { required } : {})
  } else if (widget === 'repeat') {
    const { properties, required } = propertiesOf(f.children)
    node.items = { ...clone(f.row), properties, ...(required.length ? { required } : {}) }
  }
  return node
}

export function toSchema({ root, fields }) {
  const { properties, required } = propertiesOf(fields)
  const schema = { ...clone(root), type: 'object', properties }
  if (required.length) schema.required = required
  return schema
}

const unescape = (part) => part.replace(/~1/g, '/').replace(/~0/g, '~')

// The field a JSON pointer into the schema names (the deepest one), or null for the form itself.
export function fieldAt(fields, pointer) {
  const parts = pointer.split('/').slice(1).map(unescape)
  let found = null
  let list = fields
  let i = 0
  while (i < parts.length && parts[i] === 'properties' && i + 1 < parts.length) {
    const f = list.find((x) => x.key === parts[i + 1])
    if (!f) break
    found = f
    i += 2
    if (parts[i] === 'items' && parts[i + 1] === 'properties') i += 1
    list = f.children
  }
  return found
}

export function walk(fields, visit, parent = null) {
  for (const f of fields) {
    visit(f, parent)
    walk(f.children, visit, f)
  }
}

// The fields a condition of `field` may name: its siblings (by key) and the form's root fields ($.key).
export function conditionTargets(fields, field) {
  let holder = fields
  let parent = null
  walk(fields, (f, p) => { if (f.uid === field.uid) { parent = p } })
  if (parent) holder = parent.children
  const targets = holder.filter((f) => f.uid !== field.uid && !CONTAINERS.includes(widgetOf(f.node))
    && widgetOf(f.node) !== 'readonly').map((f) => ({ name: f.key, field: f }))
  if (parent) {
    for (const f of fields) {
      if (!CONTAINERS.includes(widgetOf(f.node)) && widgetOf(f.node) !== 'readonly') {
        targets.push({ name: `$.${f.key}`, field: f })
      }
    }
  }
  return targets
}

// -- conditions: pickers ↔ the safe expression language (forms/conditions.py) --------------------------------

export const OPERATORS = ['==', '!=', '>', '>=', '<', '<=', 'in']

export function literal(value) {
  if (value === null || value === undefined) return 'null'
  if (typeof value === 'boolean' || typeof value === 'number') return String(value)
  if (Array.isArray(value)) return `[${value.map(literal).join(', ')}]`
  return `'${String(value).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

// [{name, op, value}] joined by `join` ('and' | 'or') → an expression.
export function buildCondition(clauses, join) {
  return clauses.filter((c) => c.name).map((c) => `${c.name} ${c.op} ${literal(c.value)}`).join(` ${join} `)
}

const TOKEN = /\s*(\$\.[A-Za-z_][\w.]*|[A-Za-z_][\w.]*|==|!=|>=|<=|>|<|\[|\]|,|'(?:[^'\\]|\\.)*'|-?\d+(?:\.\d+)?)/y

function value(tokens) {
  const t = tokens.shift()
  if (t === undefined) throw new Error('end')
  if (t === '[') {
    const list = []
    while (tokens[0] !== ']') {
      list.push(value(tokens))
      if (tokens[0] === ',') tokens.shift()
      if (!tokens.length) throw new Error('end')
    }
    tokens.shift()
    return list
  }
  if (t.startsWith("'")) return t.slice(1, -1).replace(/\\(.)/g, '$1')
  if (t === 'true' || t === 'false') return t === 'true'
  if (t === 'null') return null
  if (/^-?\d/.test(t)) return Number(t)
  throw new Error(`not a value: ${t}`)
}

// An expression the pickers can show: {clauses, join}; null when it is more than `a op v and/or b op v …`
// (it is then shown as text and can be replaced).
export function parseCondition(text) {
  if (!text || !text.trim()) return { clauses: [], join: 'and' }
  const tokens = []
  TOKEN.lastIndex = 0
  let m
  while (TOKEN.lastIndex < text.length && (m = TOKEN.exec(text))) tokens.push(m[1])
  if (TOKEN.lastIndex < text.trimEnd().length) return null
  try {
    const clauses = []
    let join = null
    while (tokens.length) {
      const name = tokens.shift()
      const op = tokens.shift()
      if (!/^(\$\.)?[A-Za-z_]/.test(name) || ['and', 'or', 'not', 'in'].includes(name) || !OPERATORS.includes(op)) {
        return null
      }
      clauses.push({ name, op, value: value(tokens) })
      if (tokens.length) {
        const j = tokens.shift()
        if (!['and', 'or'].includes(j) || (join && j !== join)) return null
        join = j
      }
    }
    return { clauses, join: join || 'and' }
  } catch {
    return null
  }
}

// After a field's key changed from `before` to `after`: the conditions that name it follow (those of its siblings
// by its key, any field's by `$.key` when it is a root field). A condition the pickers cannot show is left as it is
// (the server's check then names it).
export function renameInConditions(fields, holder, before, after) {
  const isRoot = holder === fields
  walk(fields, (f, parent) => {
    const sibling = (parent ? parent.children : fields) === holder
    for (const attr of ['x-visible-if', 'x-required-if']) {
      const parsed = parseCondition(f.node[attr])
      if (!parsed || !parsed.clauses.length) continue
      let changed = false
      for (const c of parsed.clauses) {
        if ((sibling && c.name === before) || (isRoot && c.name === `$.${before}`)) {
          c.name = c.name.startsWith('$.') ? `$.${after}` : after
          changed = true
        }
      }
      if (changed) f.node[attr] = buildCondition(parsed.clauses, parsed.join)
    }
  })
}
