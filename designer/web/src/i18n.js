// zh-CN by default, English by a switch kept in localStorage. t('key') looks a label up; missing keys show the key.
import { ref } from 'vue'

export const lang = ref(localStorage.getItem('zhangban.lang') || 'zh-CN')

const messages = {
  'zh-CN': {
    'app.title': '掌办 设计器', 'login.title': '工作人员登录', 'login.username': '用户名',
    'login.password': '密码', 'login.submit': '登录', 'logout': '退出', 'lang.switch': 'English',
    'nav.forms': '表单', 'nav.processes': '流程', 'nav.services': '事项', 'nav.bundles': '一件事',
    'login.expired': '登录已过期，请重新登录',
  },
  en: {
    'app.title': 'Zhangban designer', 'login.title': 'Staff sign-in', 'login.username': 'Username',
    'login.password': 'Password', 'login.submit': 'Sign in', 'logout': 'Sign out', 'lang.switch': '中文',
    'nav.forms': 'Forms', 'nav.processes': 'Processes', 'nav.services': 'Services', 'nav.bundles': 'Bundles',
    'login.expired': 'Your session has ended; please sign in again',
  },
}

export function t(key) {
  return (messages[lang.value] || {})[key] ?? messages['zh-CN'][key] ?? key
}

// '第 {n} 版' with {n: 2} → '第 2 版'
export function fill(template, params) {
  return template.replace(/\{(\w+)\}/g, (_, k) => params[k])
}

export function extend(more) {
  for (const [code, table] of Object.entries(more)) Object.assign(messages[code] ||= {}, table)
}

export function toggleLang() {
  lang.value = lang.value === 'zh-CN' ? 'en' : 'zh-CN'
  localStorage.setItem('zhangban.lang', lang.value)
  document.documentElement.lang = lang.value
}
