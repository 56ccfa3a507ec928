import { showConfirmDialog } from 'vant'

export const back = () => window.history.back()
export const statusType = { submitted: 'primary', returned: 'warning', approved: 'success', rejected: 'danger',
                            withdrawn: 'default', draft: 'default', partly_approved: 'warning', waiting: 'default',
                            cancelled: 'default', skipped: 'default' }
export const when = (at) => (at ? new Date(at).toLocaleString() : '')

// true when the person confirmed (Vant's dialog rejects on cancel)
export async function confirmed(message) {
  try { await showConfirmDialog({ message }); return true } catch { return false }
}
