// Overlays and markers on a bpmn-js diagram: validation problems and incidents pinned on their element by id,
// the active and the passed elements of a test run.
export function clearMarks(viewer, type) {
  viewer.get('overlays').remove({ type })
}

// Pin one note per element (problems of one element joined); answers the ids that are not on the diagram.
export function pin(viewer, type, problems, className) {
  const overlays = viewer.get('overlays'), registry = viewer.get('elementRegistry')
  clearMarks(viewer, type)
  const byElement = new Map(), elsewhere = []
  for (const p of problems) {
    const id = p.element_id || p.path
    if (id && registry.get(id)) byElement.set(id, [...(byElement.get(id) || []), p])
    else elsewhere.push(p)
  }
  for (const [id, list] of byElement) {
    const note = document.createElement('div')
    note.className = className
    note.setAttribute('role', 'note')
    note.dataset.elementId = id
    note.textContent = list.map((p) => p.message).join('；')
    note.title = note.textContent
    overlays.add(id, type, { position: { bottom: -4, left: 0 }, html: note })
  }
  return elsewhere
}

export function mark(viewer, ids, marker) {
  const canvas = viewer.get('canvas'), registry = viewer.get('elementRegistry')
  registry.forEach((el) => canvas.removeMarker(el, marker))
  for (const id of ids) if (registry.get(id)) canvas.addMarker(id, marker)
}

// Fit the diagram in view, leaving the palette's strip on the left free (the modeler draws its palette there).
export function fit(viewer) {
  const canvas = viewer.get('canvas')
  canvas.zoom('fit-viewport', 'auto')
  const box = canvas.viewbox()
  const room = 110 / box.scale
  if (box.inner.x - box.x < room) {
    canvas.zoom(box.scale * 0.9, 'auto')
    canvas.scroll({ dx: 110 - (canvas.viewbox().inner.x - canvas.viewbox().x) * canvas.viewbox().scale })
  }
}
