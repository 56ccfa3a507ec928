// The same format checks the server runs (forms/formats.py), so a resident sees a mistake as they type it.
// The server checks again on submit: these only save a round trip.
const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
const ID_CHECK = '10X98765432'
const ID_PROVINCES = new Set([11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
  50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83])

export function isIdCard(raw) {
  const value = String(raw || '').toUpperCase()
  if (!/^\d{17}[\dX]$/.test(value) || !ID_PROVINCES.has(Number(value.slice(0, 2)))) return false
  const [y, m, d] = [value.slice(6, 10), value.slice(10, 12), value.slice(12, 14)].map(Number)
  const born = new Date(Date.UTC(y, m - 1, d))
  if (born.getUTCFullYear() !== y || born.getUTCMonth() !== m - 1 || born.getUTCDate() !== d) return false
  if (y < 1900 || born > new Date()) return false
  const sum = ID_WEIGHTS.reduce((acc, w, i) => acc + w * Number(value[i]), 0)
  return ID_CHECK[sum % 11] === value[17]
}

export function normalizeMobile(raw) {
  const bare = String(raw || '').replace(/[\s-]/g, '')
  for (const prefix of ['+86', '0086']) {
    if (bare.startsWith(prefix) && bare.length === 11 + prefix.length) return bare.slice(prefix.length)
  }
  return bare
}

export const isMobile = (raw) => /^1[3-9]\d{9}$/.test(normalizeMobile(raw))

const USCC_CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY'
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]

export function isUscc(raw) {
  const value = String(raw || '').toUpperCase()
  if (!/^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$/.test(value)) return false
  const total = USCC_WEIGHTS.reduce((acc, w, i) => acc + w * USCC_CHARS.indexOf(value[i]), 0)
  return USCC_CHARS[(31 - (total % 31)) % 31] === value[17]
}

export const isEmail = (raw) => /^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/.test(String(raw || ''))

// widget → [check, message key]
export const FORMAT_CHECKS = {
  'id-card': [isIdCard, 'check.id_card'],
  mobile: [isMobile, 'check.mobile'],
  uscc: [isUscc, 'check.uscc'],
  email: [isEmail, 'check.email'],
}
