// The forms room's labels (zh-CN first, English beside), added to the shell's table.
import { extend } from '../i18n.js'

const zh = {
  'forms.search': '搜索表单', 'forms.new': '新建表单', 'forms.key': '表单标识', 'forms.title': '表单名称',
  'forms.title_en': '英文名称', 'forms.department': '所属部门', 'forms.create': '创建', 'forms.cancel': '取消',
  'forms.none': '还没有表单', 'forms.status': '状态', 'forms.published': '已发布版本', 'forms.open': '打开',
  'forms.status.draft': '草稿', 'forms.status.archived': '已归档', 'forms.back': '返回表单列表',
  'forms.palette': '控件', 'forms.canvas': '画布', 'forms.props': '属性', 'forms.preview': '预览',
  'forms.add': '添加', 'forms.drop_here': '把控件拖到这里', 'forms.save': '保存', 'forms.saved': '已保存',
  'forms.publish': '发布', 'forms.published_as': '已发布为第 {n} 版', 'forms.versions': '历史版本',
  'forms.version': '第 {n} 版', 'forms.readonly': '只读', 'forms.json': 'JSON（只读）', 'forms.dirty': '有未保存的修改',
  'forms.conflict': '其他人已先保存了这个表单。重新加载会丢弃你的修改。', 'forms.reload': '重新加载',
  'forms.problems': '问题', 'forms.no_problems': '没有问题', 'forms.form_problems': '表单整体的问题',
  'forms.move_up': '上移', 'forms.move_down': '下移', 'forms.remove': '删除', 'forms.select': '选中',
  'forms.field_key': '字段标识', 'forms.label_zh': '标签（中文）', 'forms.label_en': '标签（英文）',
  'forms.placeholder_zh': '占位提示（中文）', 'forms.placeholder_en': '占位提示（英文）',
  'forms.help_zh': '帮助说明（中文）', 'forms.help_en': '帮助说明（英文）', 'forms.required': '必填',
  'forms.min': '最小值', 'forms.max': '最大值', 'forms.min_length': '最少字符数', 'forms.max_length': '最多字符数',
  'forms.min_items': '最少项数', 'forms.max_items': '最多项数', 'forms.pattern': '格式（正则表达式）',
  'forms.options': '选项', 'forms.option_value': '选项值', 'forms.add_option': '添加选项',
  'forms.section': '所属分区', 'forms.no_section': '（无分区）', 'forms.sections': '分区', 'forms.add_section': '添加分区',
  'forms.section_key': '分区标识', 'forms.visible_if': '显示条件', 'forms.required_if': '条件必填',
  'forms.add_clause': '添加条件', 'forms.clause_field': '条件字段', 'forms.clause_op': '比较', 'forms.clause_value': '值',
  'forms.join': '多个条件之间', 'forms.join.and': '全部满足', 'forms.join.or': '任一满足', 'forms.condition_text': '条件表达式',
  'forms.condition_replace': '用选择器重新设置', 'forms.prefill': '预填来源', 'forms.prefill.none': '不预填',
  'forms.prefill.history': '上次填写（按槽位）', 'forms.prefill_slot': '历史槽位', 'forms.read_only': '只读（不可修改）',
  'forms.text_zh': '说明文字（中文）', 'forms.text_en': '说明文字（英文）', 'forms.levels': '地址级数',
  'forms.multiple': '可上传多张', 'forms.form_settings': '表单设置', 'forms.pick_field': '在画布上选中一个字段来编辑它的属性',
  'forms.true': '是', 'forms.false': '否', 'forms.row': '每行', 'forms.add_row': '添加一行', 'forms.upload': '拍照或上传',
  'forms.sign_here': '在此签名', 'forms.choose': '请选择', 'forms.region': '省 / 市 / 区', 'forms.detail': '详细地址',
  'forms.preview_of': '手机预览', 'forms.preview_empty': '添加字段后这里显示预览', 'forms.submit': '提交',
  'forms.read_version': '查看', 'forms.published_at': '发布时间', 'forms.key_hint': '小写字母开头，2–64 个 a-z、0-9、_ 或 -',
  'forms.loading': '加载中…', 'forms.condition_none': '（总是）', 'forms.key_taken': '同一层已有这个字段标识',
  'forms.prefill.name': '姓名', 'forms.title_settings': '表单名称',
}

const en = {
  'forms.search': 'Search forms', 'forms.new': 'New form', 'forms.key': 'Form key', 'forms.title': 'Title',
  'forms.title_en': 'English title', 'forms.department': 'Department', 'forms.create': 'Create', 'forms.cancel': 'Cancel',
  'forms.none': 'No forms yet', 'forms.status': 'Status', 'forms.published': 'Published version', 'forms.open': 'Open',
  'forms.status.draft': 'Draft', 'forms.status.archived': 'Archived', 'forms.back': 'Back to the forms',
  'forms.palette': 'Fields', 'forms.canvas': 'Canvas', 'forms.props': 'Properties', 'forms.preview': 'Preview',
  'forms.add': 'Add', 'forms.drop_here': 'Drag fields here', 'forms.save': 'Save', 'forms.saved': 'Saved',
  'forms.publish': 'Publish', 'forms.published_as': 'Published as version {n}', 'forms.versions': 'Versions',
  'forms.version': 'Version {n}', 'forms.readonly': 'read-only', 'forms.json': 'JSON (read-only)', 'forms.dirty': 'Unsaved changes',
  'forms.conflict': 'Someone else saved this form first. Reloading discards your changes.', 'forms.reload': 'Reload',
  'forms.problems': 'Problems', 'forms.no_problems': 'No problems', 'forms.form_problems': 'Problems of the whole form',
  'forms.move_up': 'Move up', 'forms.move_down': 'Move down', 'forms.remove': 'Remove', 'forms.select': 'Select',
  'forms.field_key': 'Field key', 'forms.label_zh': 'Label (Chinese)', 'forms.label_en': 'Label (English)',
  'forms.placeholder_zh': 'Placeholder (Chinese)', 'forms.placeholder_en': 'Placeholder (English)',
  'forms.help_zh': 'Help (Chinese)', 'forms.help_en': 'Help (English)', 'forms.required': 'Required',
  'forms.min': 'Minimum', 'forms.max': 'Maximum', 'forms.min_length': 'Minimum length', 'forms.max_length': 'Maximum length',
  'forms.min_items': 'Minimum items', 'forms.max_items': 'Maximum items', 'forms.pattern': 'Pattern (regular expression)',
  'forms.options': 'Options', 'forms.option_value': 'Option value', 'forms.add_option': 'Add option',
  'forms.section': 'Section', 'forms.no_section': '(no section)', 'forms.sections': 'Sections', 'forms.add_section': 'Add section',
  'forms.section_key': 'Section key', 'forms.visible_if': 'Visible if', 'forms.required_if': 'Required if',
  'forms.add_clause': 'Add condition', 'forms.clause_field': 'Condition field', 'forms.clause_op': 'Comparison',
  'forms.clause_value': 'Value', 'forms.join': 'Between conditions', 'forms.join.and': 'all hold', 'forms.join.or': 'any holds',
  'forms.condition_text': 'Condition', 'forms.condition_replace': 'Set it again with the pickers', 'forms.prefill': 'Prefill from',
  'forms.prefill.none': 'No prefill', 'forms.prefill.history': 'Last answer (by slot)', 'forms.prefill_slot': 'History slot',
  'forms.read_only': 'Read-only', 'forms.text_zh': 'Text (Chinese)', 'forms.text_en': 'Text (English)',
  'forms.levels': 'Address levels', 'forms.multiple': 'Several photos', 'forms.form_settings': 'Form settings',
  'forms.pick_field': 'Select a field on the canvas to edit its properties', 'forms.true': 'yes', 'forms.false': 'no',
  'forms.row': 'Each row', 'forms.add_row': 'Add a row', 'forms.upload': 'Take or upload a photo', 'forms.sign_here': 'Sign here',
  'forms.choose': 'Choose', 'forms.region': 'Province / city / district', 'forms.detail': 'Street address',
  'forms.preview_of': 'Phone preview', 'forms.preview_empty': 'Add fields to see the preview', 'forms.submit': 'Submit',
  'forms.read_version': 'View', 'forms.published_at': 'Published at', 'forms.key_hint': 'a lower-case letter, then 2–64 of a-z, 0-9, _ or -',
  'forms.loading': 'Loading…', 'forms.condition_none': '(always)', 'forms.key_taken': 'A field beside it has this key',
  'forms.prefill.name': 'name', 'forms.title_settings': 'Form title',
}

const widgets = {
  text: ['单行文本', 'Text'], textarea: ['多行文本', 'Long text'], number: ['数字', 'Number'],
  integer: ['整数', 'Whole number'], money: ['金额', 'Amount of money'], date: ['日期', 'Date'],
  datetime: ['日期时间', 'Date and time'], select: ['下拉选择', 'Drop-down'], radio: ['单选', 'Single choice'],
  checkbox: ['多选', 'Check boxes'], multiselect: ['多选下拉', 'Multi-select'], switch: ['开关', 'Yes/no switch'],
  'id-card': ['身份证号', 'ID card number'], mobile: ['手机号', 'Mobile number'],
  uscc: ['统一社会信用代码', 'Unified social credit code'], email: ['电子邮箱', 'Email'], address: ['地址', 'Address'],
  photo: ['照片', 'Photo'], signature: ['手写签名', 'Signature'], file: ['附件', 'Files'], group: ['分组', 'Group'],
  repeat: ['可重复分组', 'Repeatable group'], readonly: ['说明文字', 'Display text'],
}

// What each problem code of the server's check means (the server adds the detail, in English).
const problems = {
  meta_schema: ['不是有效的 JSON Schema', 'Not valid JSON Schema'], unknown_widget: ['未知控件', 'Unknown field kind'],
  unknown_ui_key: ['未知的界面设置', 'Unknown x-ui setting'], widget_type_mismatch: ['控件与数据类型不符', 'Kind and type disagree'],
  duplicate_option: ['选项值重复', 'An option value repeats'], options_mismatch: ['选项与取值不一致', 'Options and values disagree'],
  missing_options: ['缺少选项', 'Options are missing'], invalid_regex: ['正则表达式无效', 'Not a valid pattern'],
  catastrophic_regex: ['正则表达式可能极慢', 'The pattern may run for ever'], invalid_condition: ['条件无效', 'Not a valid condition'],
  unknown_field: ['引用了不存在的字段', 'Names a field that does not exist'], condition_cycle: ['条件循环引用', 'Conditions form a cycle'],
  unsupported_keyword: ['不支持的关键字', 'Unsupported keyword'], unknown_extension: ['未知扩展', 'Unknown extension'],
  invalid_prefill: ['预填来源无效', 'Not a valid prefill source'], unknown_section: ['分区不存在', 'No such section'],
  limit_too_high: ['上限过高', 'The limit is too high'], limits_crossed: ['最小值大于最大值', 'The minimum is above the maximum'],
  empty_group: ['分组里还没有字段', 'The group has no fields'], too_deep: ['分组嵌套过深', 'Groups nest too deeply'],
  too_many_fields: ['字段过多', 'Too many fields'], invalid_key: ['字段标识无效', 'Not a valid field key'],
  readonly_required: ['只读字段不能必填', 'A read-only field cannot be required'], not_an_object: ['结构错误', 'Wrong structure'],
}

for (const [w, [z, e]] of Object.entries(widgets)) { zh[`widget.${w}`] = z; en[`widget.${w}`] = e }
for (const [c, [z, e]] of Object.entries(problems)) { zh[`problem.${c}`] = z; en[`problem.${c}`] = e }

extend({ 'zh-CN': zh, en })

// A new field's label: the kind's name in both languages.
export function widgetLabel(widget) {
  const [z, e] = widgets[widget] || [widget, widget]
  return { 'zh-CN': z, en: e }
}

// A {zh-CN, en} text in the current language (a plain string is Chinese).
export function textIn(value, lang) {
  if (value === null || value === undefined) return ''
  if (typeof value === 'string') return value
  return (lang === 'en' ? value.en : value['zh-CN']) || value['zh-CN'] || value.en || ''
}
