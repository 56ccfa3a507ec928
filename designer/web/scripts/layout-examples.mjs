// Give each BPMN file named on the command line (e.g. ../../docs/bpmn/*.bpmn) a diagram layout, in place.
// Files that already carry one are left alone. Run: node scripts/layout-examples.mjs ../../docs/bpmn/*.bpmn
import fs from 'node:fs'
import { hasDiagram, layout } from '../src/processes/layout.js'

for (const file of process.argv.slice(2)) {
  const xml = fs.readFileSync(file, 'utf8')
  if (hasDiagram(xml)) { console.log(`${file}: has a layout`); continue }
  fs.writeFileSync(file, await layout(xml))
  console.log(`${file}: laid out`)
}
