// What the phone checks before sending (the server checks all of it again): required fields that are shown,
// and the formats of 身份证号, 手机号, 统一社会信用代码 and e-mail. Returns {JSON pointer: message}.
import { watch } from 'vue'
import jsonLogic from 'json-logic-js'
import { FORMAT_CHECKS } from './checks.js'
import { t } from './i18n.js'

const empty = (v) => v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0)

export function localErrors(components, root) {
  const errors = {}
  const walk = (level, data, prefix) => {
    for (const c of components.filter((x) => (x.parent || null) === level)) {
      const holds = (cond) => { try { return !!jsonLogic.apply(cond.logic, { ...data, $: root }) } catch { return true } }
      if (c.visible_if && !holds(c.visible_if)) continue
      const key = c.path.split('/').pop()
      const pointer = `${prefix}/${key}`
      const value = data?.[key]
      if (c.type === 'group') { walk(c.path, value || {}, pointer); continue }
      if (c.type === 'repeat') { (value || []).forEach((row, i) => walk(`${c.path}/*`, row, `${pointer}/${i}`)) }
      if ((c.required || (c.required_if && holds(c.required_if))) && empty(value)) {
        errors[pointer] = t('check.required')
      } else if (!empty(value) && FORMAT_CHECKS[c.type] && !FORMAT_CHECKS[c.type][0](value)) {
        errors[pointer] = t(FORMAT_CHECKS[c.type][1])
      }
    }
  }
  walk(null, root, '')
  return errors
}

// The server's 422 items ({path, message}) as {pointer: message}.
export function serverErrors(error) {
  const out = {}
  for (const item of error?.errors || []) out[item.path || ''] = item.message
  return out
}

// The "please correct the marked fields" note goes once no field is marked any more (each mark goes as its field
// is edited: FormFields).
export function clearFixNoteWhenUnmarked(errors, failure) {
  watch(errors, (now) => {
    if (!Object.keys(now).length && failure.value === t('form.fix')) failure.value = ''
  }, { deep: true })
}
