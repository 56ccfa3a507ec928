// A draft editor's state and moves, shared by the services and bundles rooms: the draft is loaded into an
// editable copy of its fields (`body`); save sends them with If-Match (a 412 sets `conflict`, which offers a
// reload); check saves first, then shows the problems by JSON pointer; publish saves first, publishes, reloads.
// `room` names the labels ('services' → services.saved, services.valid, services.published_as).
import { nextTick, onMounted, reactive, ref, watch } from 'vue'
import { api } from './api.js'
import { fill, t } from './i18n.js'

export function useDraftEditor({ base, fields, blank, payload, room, afterLoad }) {
  const draft = ref(null)
  const body = reactive({})
  const problems = ref({})
  const dirty = ref(false)
  const conflict = ref(false)
  const notice = ref('')
  const failure = ref('')
  const busy = ref(false)

  function load(d) {
    draft.value = d
    for (const k of fields) body[k] = JSON.parse(JSON.stringify(d[k] ?? blank(k)))
    conflict.value = false
    problems.value = {}
    nextTick(() => { dirty.value = false })
  }
  async function reload() {
    try {
      load(await api('GET', base))
      await afterLoad?.()
    } catch (e) { failure.value = e.message }
  }
  onMounted(reload)
  watch(body, () => { dirty.value = true; notice.value = '' }, { deep: true })

  function show(errors) {
    problems.value = {}
    for (const e of errors || []) problems.value[e.path] ||= e.message
  }

  // a write with If-Match: its answer, or null when it was refused (a 412 offers the reload)
  async function send(method, path, options) {
    busy.value = true
    failure.value = ''
    try {
      return await api(method, path, { ...options, headers: { 'If-Match': `"${draft.value.version}"` } })
    } catch (e) {
      if (e.status === 412) conflict.value = true
      else { failure.value = e.message; show(e.errors) }
      return null
    } finally { busy.value = false }
  }

  async function save() {
    const saved = await send('PUT', base, { body: payload(body) })
    if (!saved) return false
    load(saved)
    notice.value = t(`${room}.saved`)
    return true
  }

  async function check() {
    if (dirty.value && !(await save())) return
    const result = await api('POST', `${base}/validate`)
    show(result.errors)
    notice.value = result.valid ? t(`${room}.valid`) : ''
  }

  async function publish() {
    if (dirty.value && !(await save())) return
    const version = await send('POST', `${base}/publish`, {})
    if (!version) return
    await reload()
    notice.value = fill(t(`${room}.published_as`), { n: version.version })
  }

  return { draft, body, problems, dirty, conflict, notice, failure, busy, reload, save, check, publish }
}

// The versions picker of an editor's toolbar: its value is the version's hash route ('' for none).
export function openVersion(route) {
  if (route) location.hash = route
}
