// zh-CN by default, English by a switch kept in localStorage.
import { ref } from 'vue'

export const lang = ref(localStorage.getItem('zhangban.lang') || 'zh-CN')

const messages = {
  'zh-CN': {
    title: '掌办', 'login.resident': '居民登录（开发环境）', 'login.openid': '微信 openid（demo-…）',
    'login.staff': '工作人员登录', 'login.username': '用户名', 'login.password': '密码', 'login.submit': '登录',
    'tab.services': '办事', 'tab.mine': '我的办件', 'tab.tasks': '待办', 'tab.me': '我的',
    search: '搜索事项', 'service.apply': '在线申请', 'service.limit': '承诺时限', 'service.days': '个工作日',
    'service.fee': '收费', 'service.free': '免费', 'service.materials': '申请材料', 'service.instant': '即办',
    'form.submit': '提交', 'form.draft': '保存草稿', 'form.saved': '草稿已保存', 'form.offline': '网络不可用，已保存在本机，恢复后重试',
    'form.fix': '请先修改标出的内容', 'form.add_row': '添加一行', 'form.remove_row': '删除', 'form.upload_retry': '重新上传',
    'form.uploading': '上传中', 'form.take_photo': '拍照或选择照片', 'form.sign_here': '请在此签名',
    'form.sign_clear': '重写', 'form.sign_done': '确认签名', 'form.signed': '已签名', 'form.choose': '请选择',
    'form.supplement': '提交补正', 'form.supplement_hint': '只需修改下列标出的内容',
    'app.timeline': '办理进度', 'app.withdraw': '撤回申请', 'app.withdraw_confirm': '确定撤回这个申请吗？',
    'app.supplement': '去补正', 'app.result': '办理结果', 'app.number': '办件编号', 'app.documents': '结果文件',
    'app.urge': '催办', 'app.urged': '已催办，办理人员会收到提醒',
    'rating.title': '好差评', 'rating.ask': '对这次办理满意吗', 'rating.score': '评分', 'rating.comment': '评价',
    'rating.submit': '提交评价', 'rating.thanks': '感谢您的评价', 'rating.yours': '我的评价', 'rating.reply': '部门回复',
    'rating.follow_up': '追评', 'rating.add_follow_up': '追加评价',
    'messages.title': '消息', 'messages.empty': '没有消息',
    'tasks.batch': '批量同意', 'tasks.batch_approve': '同意所选（{n}）', 'tasks.batch_done': '已同意 {n} 件',
    'tasks.batch_refused': '以下事项未能同意', 'tasks.batch_cancel': '取消',
    'auth.confirm': '确认授权', 'auth.refuse': '拒绝', 'auth.refuse_sure': '拒绝后该帮办员不能代您办理，确定拒绝？',
    'auth.active': '已确认授权', 'auth.refused': '已拒绝',
    'image.reason_title': '查看原图', 'image.reason': '理由', 'image.reason_hint': '查看原图的理由（会留痕）',
    'copy.from': '抄送人', 'tasks.todo': '待办', 'tasks.done': '已办', 'tasks.copies': '抄送', 'tasks.empty': '没有事项',
    'task.approve': '同意', 'task.reject': '不同意', 'task.return': '退回补正', 'task.comment': '审批意见',
    'task.signature': '签名', 'task.transfer': '转办', 'task.delegate': '委派', 'task.add_signer': '加签',
    'task.user_id': '同事的用户 ID', 'task.data': '申请内容', 'task.attachments': '附件', 'task.done': '已处理',
    'task.follow_up_reply': '回访整改情况', 'task.follow_up_done': '提交回访情况',
    'task.reason': '退回原因', 'logout': '退出登录', 'lang.switch': 'English', 'refresh': '下拉刷新',
    'status.draft': '草稿', 'status.submitted': '办理中', 'status.returned': '待补正', 'status.approved': '已办结',
    'status.rejected': '未通过', 'status.withdrawn': '已撤回', 'status.partly_approved': '部分办结',
    'status.waiting': '待前序办结', 'status.cancelled': '已取消', 'status.skipped': '未启动',
    'action.submitted': '提交申请', 'action.approved': '同意', 'action.rejected': '不同意', 'action.returned': '退回补正',
    'action.supplemented': '已补正', 'action.withdrawn': '已撤回', 'action.withdraw': '申请整体撤回', 'action.urged': '催办',
    'action.transferred': '转办', 'action.delegated': '委派', 'action.signer_added': '加签', 'action.started': '已启动',
    'action.cancelled': '已取消', 'action.skipped': '未启动', 'action.partly_approved': '部分办结',
    'action.cc': '抄送', 'action.sent_back': '退回', 'action.signer_removed': '减签', 'action.delegate_done': '委派办结',
    'action.signed': '加签意见', 'action.incident': '办理中', 'action.incident_retried': '已重新办理',
    'action.return_cancelled': '补正已结束',
    'bundle.section': '一件事一次办', 'bundle.hint': '一次填写，同时办理', 'bundle.shared': '共同信息',
    'bundle.submit': '一次提交', 'bundle.parts': '各部门办理情况', 'bundle.withdraw': '整体撤回',
    'bundle.withdraw_confirm': '确定撤回这件事的全部申请吗？', 'bundle.mine': '我的一件事',
    'check.id_card': '身份证号格式或校验位不正确', 'check.mobile': '手机号格式不正确',
    'check.uscc': '统一社会信用代码不正确', 'check.required': '必填', 'check.email': '邮箱格式不正确',
  },
  en: {
    title: 'Zhangban', 'login.resident': 'Resident sign-in (development)', 'login.openid': 'WeChat openid (demo-…)',
    'login.staff': 'Staff sign-in', 'login.username': 'Username', 'login.password': 'Password', 'login.submit': 'Sign in',
    'tab.services': 'Services', 'tab.mine': 'My cases', 'tab.tasks': 'Tasks', 'tab.me': 'Me',
    search: 'Search services', 'service.apply': 'Apply online', 'service.limit': 'Time limit', 'service.days': 'working days',
    'service.fee': 'Fee', 'service.free': 'Free', 'service.materials': 'Materials', 'service.instant': 'At once',
    'form.submit': 'Submit', 'form.draft': 'Save draft', 'form.saved': 'Draft saved', 'form.offline': 'Offline: kept on this phone, will retry',
    'form.fix': 'Please correct the marked fields', 'form.add_row': 'Add a row', 'form.remove_row': 'Remove', 'form.upload_retry': 'Retry upload',
    'form.uploading': 'Uploading', 'form.take_photo': 'Take or choose a photo', 'form.sign_here': 'Sign here',
    'form.sign_clear': 'Clear', 'form.sign_done': 'Use this signature', 'form.signed': 'Signed', 'form.choose': 'Choose',
    'form.supplement': 'Send the corrections', 'form.supplement_hint': 'Only the marked fields need changing',
    'app.timeline': 'Progress', 'app.withdraw': 'Withdraw', 'app.withdraw_confirm': 'Withdraw this application?',
    'app.supplement': 'Correct it', 'app.result': 'Result', 'app.number': 'Case number', 'app.documents': 'Result documents',
    'app.urge': 'Urge', 'app.urged': 'Urged: the handlers are reminded',
    'rating.title': 'Rate the service', 'rating.ask': 'How satisfied are you?', 'rating.score': 'Score', 'rating.comment': 'Comment',
    'rating.submit': 'Send the rating', 'rating.thanks': 'Thank you for rating', 'rating.yours': 'Your rating', 'rating.reply': "The department's reply",
    'rating.follow_up': 'Follow-up', 'rating.add_follow_up': 'Add a follow-up',
    'messages.title': 'Messages', 'messages.empty': 'No messages',
    'tasks.batch': 'Approve several', 'tasks.batch_approve': 'Approve the chosen ({n})', 'tasks.batch_done': '{n} approved',
    'tasks.batch_refused': 'Not approved', 'tasks.batch_cancel': 'Cancel',
    'auth.confirm': 'Confirm', 'auth.refuse': 'Refuse', 'auth.refuse_sure': 'Refuse? The helper cannot act for you then.',
    'auth.active': 'Confirmed', 'auth.refused': 'Refused',
    'image.reason_title': 'Full image', 'image.reason': 'Reason', 'image.reason_hint': 'Why you open the full image (recorded)',
    'copy.from': 'Copied by', 'tasks.todo': 'To do', 'tasks.done': 'Done', 'tasks.copies': 'Copies', 'tasks.empty': 'Nothing here',
    'task.approve': 'Approve', 'task.reject': 'Reject', 'task.return': 'Send back', 'task.comment': 'Comment',
    'task.signature': 'Signature', 'task.transfer': 'Transfer', 'task.delegate': 'Delegate', 'task.add_signer': 'Add a signer',
    'task.user_id': "A colleague's user id", 'task.data': 'Application', 'task.attachments': 'Attachments', 'task.done': 'Handled',
    'task.follow_up_reply': 'What was done', 'task.follow_up_done': 'Report the follow-up',
    'task.reason': 'Why it goes back', 'logout': 'Sign out', 'lang.switch': '中文', 'refresh': 'Pull to refresh',
    'status.draft': 'Draft', 'status.submitted': 'In progress', 'status.returned': 'To correct', 'status.approved': 'Approved',
    'status.rejected': 'Rejected', 'status.withdrawn': 'Withdrawn', 'status.partly_approved': 'Partly approved',
    'status.waiting': 'Waiting for an earlier part', 'status.cancelled': 'Cancelled', 'status.skipped': 'Not started',
    'action.submitted': 'Submitted', 'action.approved': 'Approved', 'action.rejected': 'Rejected', 'action.returned': 'Sent back',
    'action.supplemented': 'Corrected', 'action.withdrawn': 'Withdrawn', 'action.withdraw': 'Withdrawal asked', 'action.urged': 'Urged',
    'action.transferred': 'Transferred', 'action.delegated': 'Delegated', 'action.signer_added': 'Signer added', 'action.started': 'Started',
    'action.cancelled': 'Cancelled', 'action.skipped': 'Not started', 'action.partly_approved': 'Partly approved',
    'action.cc': 'Copied', 'action.sent_back': 'Sent back to a step', 'action.signer_removed': 'Signer removed',
    'action.delegate_done': 'Delegate done', 'action.signed': 'Added signer\'s opinion',
    'action.incident': 'Being handled', 'action.incident_retried': 'Handled again',
    'action.return_cancelled': 'Correction no longer needed',
    'bundle.section': 'One thing, one submission', 'bundle.hint': 'Fill in once for', 'bundle.shared': 'Asked once',
    'bundle.submit': 'Submit all', 'bundle.parts': "Each department's part", 'bundle.withdraw': 'Withdraw it all',
    'bundle.withdraw_confirm': 'Withdraw every application of this bundle?', 'bundle.mine': 'My bundles',
    'check.id_card': 'Not a valid ID card number', 'check.mobile': 'Not a valid mobile number',
    'check.uscc': 'Not a valid unified social credit code', 'check.required': 'Required', 'check.email': 'Not a valid email',
  },
}

export function t(key) {
  return (messages[lang.value] || {})[key] ?? messages['zh-CN'][key] ?? key
}

// A timeline line's action (submitted, approved, urged …) in words; an unknown one as it is.
export function actionText(action) {
  const key = `action.${action}`
  return t(key) !== key ? t(key) : action
}

// '已同意 {n} 件' with {n: 2} → '已同意 2 件'
export function fill(template, params) {
  return template.replace(/\{(\w+)\}/g, (_, k) => params[k])
}

export function textIn(value) {
  if (value == null) return ''
  if (typeof value === 'string') return value
  return value[lang.value] || value['zh-CN'] || Object.values(value)[0] || ''
}

export function toggleLang() {
  lang.value = lang.value === 'zh-CN' ? 'en' : 'zh-CN'
  localStorage.setItem('zhangban.lang', lang.value)
  document.documentElement.lang = lang.value
}
