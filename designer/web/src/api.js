// The API client: the token pair lives in sessionStorage (this tab only); a 401 refreshes once and retries.
// Requests that fail together share one refresh; one whose token was already replaced retries at once (a second
// refresh would rotate again for nothing). When the session cannot be refreshed, 'zhangban:signed-out' fires.
const KEY = 'zhangban.designer.tokens'

export function tokens() {
  try { return JSON.parse(sessionStorage.getItem(KEY)) } catch { return null }
}

export function setTokens(pair) {
  if (pair) sessionStorage.setItem(KEY, JSON.stringify(pair))
  else sessionStorage.removeItem(KEY)
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`)
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
    if (!r.ok) { setTokens(null); window.dispatchEvent(new Event('zhangban:signed-out')); return false }
    setTokens(await r.json())
    return true
  }, () => false).finally(() => { refreshing = null })
  return refreshing
}

export async function api(method, path, { body, headers = {}, raw = false, retry = true } = {}) {
  const pair = tokens()
  const init = { method, headers: { 'Accept-Language': localStorage.getItem('zhangban.lang') || 'zh-CN', ...headers } }
  if (pair) init.headers.Authorization = `Bearer ${pair.access_token}`
  if (body instanceof FormData) init.body = body
  else if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json'
    init.body = JSON.stringify(body)
  }
  const response = await fetch(path, init)
  if (response.status === 401 && retry && pair) {
    const now = tokens()
    const replaced = now && now.access_token !== pair.access_token
    if (replaced || await refresh()) return api(method, path, { body, headers, raw, retry: false })
  }
  if (raw) return response
  const text = await response.text()
  let data = null
  try { data = text ? JSON.parse(text) : null } catch { data = { message: `HTTP ${response.status}` } }   // a proxy's page
  if (!response.ok) throw new ApiError(response.status, data)
  return data
}

export async function login(username, password) {
  const pair = await api('POST', '/api/v1/auth/login', { body: { username, password }, retry: false })
  setTokens(pair)
  return api('GET', '/api/v1/me')
}

export async function logout() {
  const pair = tokens()
  if (pair) {
    try { await api('POST', '/api/v1/auth/logout', { body: { refresh_token: pair.refresh_token } }) } catch { /* gone */ }
  }
  setTokens(null)
}
