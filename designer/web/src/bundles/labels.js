// The bundles room's labels (zh-CN first, English beside), added to the shell's table.
import { extend } from '../i18n.js'

const pairs = {
  'bundles.new': ['新建一件事', 'New bundle'], 'bundles.code': ['一件事编码', 'Bundle code'],
  'bundles.name': ['名称', 'Name'], 'bundles.name_en': ['英文名称', 'English name'],
  'bundles.department': ['牵头部门', 'Leading department'], 'bundles.category': ['类别', 'Category'],
  'bundles.description': ['说明', 'Description'], 'bundles.create': ['创建', 'Create'], 'bundles.cancel': ['取消', 'Cancel'],
  'bundles.none': ['还没有一件事', 'No bundles yet'], 'bundles.status': ['状态', 'Status'],
  'bundles.status.draft': ['草稿', 'Draft'], 'bundles.status.published': ['已发布', 'Published'],
  'bundles.status.archived': ['已归档', 'Archived'], 'bundles.published': ['已发布版本', 'Published version'],
  'bundles.back': ['返回一件事列表', 'Back to the bundles'], 'bundles.loading': ['加载中…', 'Loading…'],
  'bundles.basics': ['基本信息', 'Basics'], 'bundles.parts': ['包含的事项', 'Services in the bundle'],
  'bundles.part': ['组成事项', 'Part'], 'bundles.part_key': ['部分标识', 'Part key'],
  'bundles.service': ['事项', 'Service'], 'bundles.choose': ['请选择', 'Choose'],
  'bundles.depends_on': ['需先办结', 'Needs first'], 'bundles.on_reject': ['不予许可时', 'When rejected'],
  'bundles.on_reject.fail_bundle': ['整件事不予办理', 'the whole bundle fails'],
  'bundles.on_reject.part_only': ['只影响本事项', 'only this part'],
  'bundles.add_part': ['添加事项', 'Add a service'], 'bundles.remove': ['删除', 'Remove'],
  'bundles.shared': ['共用字段（只填一次）', 'Shared fields (asked once)'], 'bundles.shared_field': ['共用字段', 'Shared field'],
  'bundles.shared_key': ['字段标识', 'Field key'], 'bundles.shared_label': ['显示名称', 'Label'],
  'bundles.fills': ['填入', 'Fills'], 'bundles.not_shared': ['（不共用）', '(not shared)'],
  'bundles.add_shared': ['添加共用字段', 'Add a shared field'],
  'bundles.save': ['保存', 'Save'], 'bundles.saved': ['已保存', 'Saved'], 'bundles.validate': ['检查', 'Check'],
  'bundles.valid': ['没有问题，可以发布', 'No problems: ready to publish'], 'bundles.publish': ['发布', 'Publish'],
  'bundles.published_as': ['已发布为第 {n} 版', 'Published as version {n}'],
  'bundles.dirty': ['有未保存的修改', 'Unsaved changes'],
  'bundles.conflict': ['其他人已先保存了这个一件事。重新加载会丢弃你的修改。',
    'Someone else saved this bundle first. Reloading discards your changes.'],
  'bundles.reload': ['重新加载', 'Reload'], 'bundles.code_hint': ['2–64 个字母、数字、_ 或 -', '2–64 letters, digits, _ or -'],
  'bundles.key_hint': ['小写字母开头，字母、数字或 _', 'a-z first, then a-z, 0-9 or _'],
  'bundles.versions': ['历史版本', 'Versions'], 'bundles.version': ['第 {n} 版', 'Version {n}'],
  'bundles.current': ['当前版本', 'current'], 'bundles.readonly': ['只读', 'read-only'],
  'bundles.published_at': ['发布时间', 'Published at'],
}

const zh = {}
const en = {}
for (const [key, [z, e]] of Object.entries(pairs)) { zh[key] = z; en[key] = e }
extend({ 'zh-CN': zh, en })
