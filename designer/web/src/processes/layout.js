// Lay out BPMN that carries no diagram interchange (like docs/bpmn/*.bpmn) so bpmn-js can open it.
// bpmn-auto-layout places the flow nodes on a grid but leaves lanes out; this module then gives every lane a
// band of the grid's rows (its nodes keep their column and their order), draws the lane shapes and re-routes
// the flows whose ends moved apart. Used in the browser on import and by scripts/layout-examples.mjs.
import { layoutProcess } from 'bpmn-auto-layout'
import { BpmnModdle } from 'bpmn-moddle'

const ROW = 140          // bpmn-auto-layout's row pitch
const LANE_LABEL = 30    // the band on the left of a lane that holds its name

export function hasDiagram(xml) {
  return /<(\w+:)?BPMNShape\b/.test(xml)
}

const mid = (b) => ({ x: b.x + b.width / 2, y: b.y + b.height / 2 })

function route(moddle, src, tgt, srcIsBoundary) {
  const s = mid(src), t = mid(tgt)
  const wp = (x, y) => moddle.create('dc:Point', { x: Math.round(x), y: Math.round(y) })
  if (srcIsBoundary) {
    return [wp(s.x, src.y + src.height), wp(s.x, t.y), wp(tgt.x, t.y)]
  }
  if (tgt.x >= src.x + src.width) {
    const from = { x: src.x + src.width, y: s.y }, to = { x: tgt.x, y: t.y }
    if (from.y === to.y) return [wp(from.x, from.y), wp(to.x, to.y)]
    const mx = (from.x + to.x) / 2
    return [wp(from.x, from.y), wp(mx, from.y), wp(mx, to.y), wp(to.x, to.y)]
  }
  // a flow back to an earlier element: leave below both and come in from underneath
  const below = Math.max(src.y + src.height, tgt.y + tgt.height) + 30
  return [wp(s.x, src.y + src.height), wp(s.x, below), wp(t.x, below), wp(t.x, tgt.y + tgt.height)]
}

function layoutLanes(moddle, definitions) {
  const process = definitions.rootElements.find((e) => e.$type === 'bpmn:Process')
  const lanes = (process && process.laneSets || []).flatMap((set) => set.lanes || [])
  const plane = definitions.diagrams[0] && definitions.diagrams[0].plane
  if (!plane) return
  if (!lanes.length) {
    const boxes = (plane.planeElement || []).filter((d) => d.bounds).map((d) => d.bounds)
    if (!boxes.length) return
    const x = Math.min(...boxes.map((b) => b.x)) - 40, y = Math.min(...boxes.map((b) => b.y)) - 30
    wrapInParticipant(moddle, definitions, process, plane, { x, y,
      width: Math.max(...boxes.map((b) => b.x + b.width)) + 40 - x, height: Math.max(...boxes.map((b) => b.y + b.height)) + 30 - y })
    return
  }
  const shapes = new Map(), edges = []
  for (const di of plane.planeElement || []) {
    if (di.$type === 'bpmndi:BPMNShape') shapes.set(di.bpmnElement.id, di)
    else if (di.$type === 'bpmndi:BPMNEdge') edges.push(di)
  }
  const laneOf = new Map()
  lanes.forEach((lane, i) => (lane.flowNodeRef || []).forEach((node) => laneOf.set(node.id, i)))
  const nodes = (process.flowElements || []).filter((e) => shapes.has(e.id) && e.$type !== 'bpmn:BoundaryEvent')
  const rowOf = (id) => Math.round((mid(shapes.get(id).bounds).y - mid(shapes.get(nodes[0].id).bounds).y) / ROW)
  // each lane takes the rows its own nodes use, in their order; a node in no lane goes to the first lane
  const rows = lanes.map(() => new Set())
  for (const node of nodes) rows[laneOf.get(node.id) ?? 0].add(rowOf(node.id))
  const sorted = rows.map((set) => [...(set.size ? set : new Set([0]))].sort((a, b) => a - b))
  const firstRow = []
  sorted.reduce((at, list, i) => { firstRow[i] = at; return at + list.length }, 0)
  const top = Math.min(...nodes.map((n) => shapes.get(n.id).bounds.y)) - 30
  const shift = new Map()
  for (const node of nodes) {
    const lane = laneOf.get(node.id) ?? 0
    const row = firstRow[lane] + sorted[lane].indexOf(rowOf(node.id))
    const b = shapes.get(node.id).bounds
    const dy = top + row * ROW + ROW / 2 - (b.y + b.height / 2)
    b.y += dy
    shift.set(node.id, dy)
  }
  for (const event of (process.flowElements || []).filter((e) => e.$type === 'bpmn:BoundaryEvent')) {
    const dy = shift.get(event.attachedToRef && event.attachedToRef.id) || 0
    if (shapes.has(event.id)) shapes.get(event.id).bounds.y += dy
    shift.set(event.id, dy)
  }
  for (const edge of edges) {
    const flow = edge.bpmnElement
    const a = flow.sourceRef && flow.sourceRef.id, b = flow.targetRef && flow.targetRef.id
    if (!shapes.has(a) || !shapes.has(b)) continue
    if ((shift.get(a) || 0) === (shift.get(b) || 0)) {
      for (const p of edge.waypoint || []) p.y += shift.get(a) || 0
    } else {
      edge.waypoint = route(moddle, shapes.get(a).bounds, shapes.get(b).bounds,
        flow.sourceRef.$type === 'bpmn:BoundaryEvent')
    }
  }
  const all = [...shapes.values()].map((s) => s.bounds)
  const left = Math.min(...all.map((b) => b.x)) - LANE_LABEL - 30
  const right = Math.max(...all.map((b) => b.x + b.width)) + 40
  lanes.forEach((lane, i) => {
    const bounds = moddle.create('dc:Bounds', {
      x: left, y: top + firstRow[i] * ROW, width: right - left, height: sorted[i].length * ROW })
    const di = moddle.create('bpmndi:BPMNShape', { id: `${lane.id}_di`, bpmnElement: lane, isHorizontal: true, bounds })
    plane.planeElement.unshift(di)
  })
  const rowsTotal = sorted.reduce((n, list) => n + list.length, 0)
  wrapInParticipant(moddle, definitions, process, plane, { x: left, y: top, width: right - left, height: rowsTotal * ROW })
}

// When the file names a pool (a collaboration whose participant is this process), draw it around the lanes.
function wrapInParticipant(moddle, definitions, process, plane, box) {
  const collaboration = definitions.rootElements.find((e) => e.$type === 'bpmn:Collaboration')
  const participant = collaboration && (collaboration.participants || []).find((p) => p.processRef === process)
  if (!participant) return
  plane.bpmnElement = collaboration
  const bounds = moddle.create('dc:Bounds', { x: box.x - LANE_LABEL, y: box.y, width: box.width + LANE_LABEL, height: box.height })
  plane.planeElement.unshift(moddle.create('bpmndi:BPMNShape', {
    id: `${participant.id}_di`, bpmnElement: participant, isHorizontal: true, bounds }))
}

const NAMESPACES = {
  bpmndi: 'http://www.omg.org/spec/BPMN/20100524/DI',
  dc: 'http://www.omg.org/spec/DD/20100524/DC',
  di: 'http://www.omg.org/spec/DD/20100524/DI',
}

// BPMN XML without diagram interchange → the same text with a laid-out diagram (lanes included) added before
// </definitions>: the process itself, its comments and extension elements stay exactly as they were (a round trip
// through bpmn-moddle would drop comments and the multi-instance collection names, which are no element ids).
export async function layout(xml) {
  const moddle = new BpmnModdle()
  const { rootElement } = await moddle.fromXML(await layoutProcess(xml))
  layoutLanes(moddle, rootElement)
  const { xml: out } = await moddle.toXML(rootElement, { format: true })
  const diagrams = out.match(/^ *<bpmndi:BPMNDiagram[\s\S]*<\/bpmndi:BPMNDiagram>\n/m)[0]
  const close = xml.lastIndexOf('</')
  let head = xml.slice(0, close)
  const open = head.match(/<(\w+:)?definitions\b[^>]*/)
  let tag = open[0]
  for (const [prefix, uri] of Object.entries(NAMESPACES)) {
    if (!new RegExp(`xmlns:${prefix}=`).test(tag)) tag += ` xmlns:${prefix}="${uri}"`
  }
  head = head.slice(0, open.index) + tag + head.slice(open.index + open[0].length)
  return head.replace(/\s*$/, '\n') + diagrams + xml.slice(close)
}
