// What the properties panel offers: the published forms the designer may bind, and the departments (lanes).
import { api } from '../api.js'

async function all(path) {
  const page = await api('GET', `${path}${path.includes('?') ? '&' : '?'}page_size=100`)
  return page.items
}

export async function loadChoices() {
  const [forms, departments] = await Promise.all([all('/api/v1/designer/forms'), all('/api/v1/departments')])
  return { forms: forms.filter((f) => f.published_version > 0), departments }
}
