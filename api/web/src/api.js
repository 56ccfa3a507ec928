// The API client. A phone stays signed in: the token pair is kept in localStorage (a mini-program keeps it in
// wx storage the same way); a 401 refreshes once and retries. Network failures are ApiError with status 0.
import { onMounted, ref } from 'vue'
import { textIn } from './i18n.js'

const KEY = 'zhangban.m.tokens'

export function tokens() {
  try { return JSON.parse(localStorage.getItem(KEY)) } catch { return null }
}

export function setTokens(pair) {
  if (pair) localStorage.setItem(KEY, JSON.stringify(pair))
  else localStorage.removeItem(KEY)
}

// One per submission a phone may send again (a lost connection): the server answers a repeat with the first.
export function newIdempotencyKey() {
  return crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || (status ? `HTTP ${status}` : 'network'))
    this.status = status
    this.body = body || {}
    this.errors = (body && body.errors) || []
  }
}

let refreshing = null

async function refresh() {
  const pair = tokens()
  if (!pair || !pair.refresh_token) return false
  refreshing = refreshing || fetch('/api/v1/auth/refresh', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ refresh_token: pair.refresh_token }),
  }).then(async (r) => {
    if (!r.ok) { setTokens(null); return false }
    setTokens(await r.json())
    return true
  }).catch(() => false).finally(() => { refreshing = null })
  return refreshing
}

function headers(extra = {}) {
  const pair = tokens()
  const out = { 'Accept-Language': localStorage.getItem('zhangban.lang') || 'zh-CN', ...extra }
  if (pair) out.Authorization = `Bearer ${pair.access_token}`
  return out
}

export async function api(method, path, { body, extraHeaders = {}, retry = true } = {}) {
  const init = { method, headers: headers(extraHeaders) }
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json'
    init.body = JSON.stringify(body)
  }
  let response
  try { response = await fetch(path, init) } catch { throw new ApiError(0, null) }
  if (response.status === 401 && retry && tokens() && await refresh()) {
    return api(method, path, { body, extraHeaders, retry: false })
  }
  const text = await response.text()
  let data = null
  try { data = text ? JSON.parse(text) : null } catch { data = null }
  if (!response.ok) throw new ApiError(response.status, data)
  return data
}

// An upload with progress (fetch has none): onProgress(0..100). Resolves to the attachment, rejects ApiError.
export function upload(file, kind, onProgress, filename) {
  return new Promise((resolve, reject) => {
    const form = new FormData()
    form.append('kind', kind)
    form.append('file', file, filename || file.name || `${kind}.png`)
    const xhr = new XMLHttpRequest()
    xhr.open('POST', '/api/v1/attachments')
    for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v)
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress?.(Math.round((e.loaded / e.total) * 100)) }
    xhr.onload = () => {
      let data = null
      try { data = JSON.parse(xhr.responseText) } catch { data = null }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data)
      else reject(new ApiError(xhr.status, data))
    }
    xhr.onerror = () => reject(new ApiError(0, null))
    xhr.send(form)
  })
}

// A short-lived link to an attachment's rendition, for an <img> (the bearer token cannot ride on one).
export async function link(id, variant = 'thumbnail', reason = '') {
  const why = reason ? `&reason=${encodeURIComponent(reason)}` : ''
  return (await api('GET', `/api/v1/attachments/${id}/link?variant=${variant}${why}`)).url
}

export async function residentLogin(openid) {
  setTokens(await api('POST', '/api/v1/auth/dev-login', { body: { openid }, retry: false }))
  return api('GET', '/api/v1/me')
}

export async function staffLogin(username, password) {
  setTokens(await api('POST', '/api/v1/auth/login', { body: { username, password }, retry: false }))
  return api('GET', '/api/v1/me')
}

export async function logout() {
  const pair = tokens()
  if (pair) {
    try { await api('POST', '/api/v1/auth/logout', { body: { refresh_token: pair.refresh_token } }) } catch { /* gone */ }
  }
  setTokens(null)
}

// A screen's one resource: loaded when the screen opens and again by pull-to-refresh, with its error text.
// `value` may also be set by the screen (an action's answer is the resource as it now is).
export function useLoaded(fetcher) {
  const value = ref(null)
  const error = ref('')
  const refreshing = ref(false)
  async function load() {
    error.value = ''
    try { value.value = await fetcher() } catch (e) { error.value = e.message }
    refreshing.value = false
  }
  // an action whose answer is the resource as it now is (a withdrawal, an urge): true when it went through
  async function act(request) {
    error.value = ''
    try { value.value = await request(); return true } catch (e) { error.value = e.message; return false }
  }
  onMounted(load)
  return { value, error, refreshing, load, act }
}

// An application form's top-level field → its label, from its render model (姓名 rather than name); {} when the
// form cannot be read, and the field names stand in.
export async function fieldLabels(renderUrl) {
  try {
    const model = await api('GET', renderUrl)
    return Object.fromEntries(model.components.filter((c) => !c.parent).map((c) => [c.path.slice(1), textIn(c.label)]))
  } catch { return {} }
}
