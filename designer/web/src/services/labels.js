// The services room's labels (zh-CN first, English beside), added to the shell's table.
import { extend } from '../i18n.js'

const pairs = {
  'services.new': ['新建事项', 'New service'], 'services.code': ['事项编码', 'Service code'],
  'services.name': ['事项名称', 'Name'], 'services.name_en': ['英文名称', 'English name'],
  'services.department': ['所属部门', 'Department'], 'services.category': ['类别', 'Category'],
  'services.description': ['办事指南（中文）', 'Guide (Chinese)'], 'services.description_en': ['办事指南（英文）', 'Guide (English)'],
  'services.create': ['创建', 'Create'], 'services.cancel': ['取消', 'Cancel'], 'services.none': ['还没有事项', 'No services yet'],
  'services.status': ['状态', 'Status'], 'services.status.draft': ['草稿', 'Draft'],
  'services.status.published': ['已发布', 'Published'], 'services.status.archived': ['已归档', 'Archived'],
  'services.published': ['已发布版本', 'Published version'], 'services.back': ['返回事项列表', 'Back to the services'],
  'services.binding': ['表单与流程', 'Form and process'], 'services.form': ['申请表单', 'Application form'],
  'services.form_version': ['表单版本', 'Form version'], 'services.process': ['办理流程', 'Process'],
  'services.process_version': ['流程版本', 'Process version'], 'services.version': ['第 {n} 版', 'Version {n}'],
  'services.choose': ['请选择', 'Choose'], 'services.limits': ['时限与收费', 'Time limits and fee'],
  'services.time_limit': ['承诺时限（工作日）', 'Committed limit (working days)'],
  'services.statutory_limit': ['法定时限（工作日）', 'Statutory limit (working days)'],
  'services.fee': ['收费（元）', 'Fee (CNY)'], 'services.handling': ['办理方式', 'How it is handled'],
  'services.handling.online': ['全程网办', 'Fully online'], 'services.handling.offline': ['窗口办理', 'At the counter'],
  'services.handling.both': ['网办或窗口', 'Online or at the counter'],
  'services.materials': ['申请材料', 'Materials'], 'services.material_name': ['材料名称', 'Material name'],
  'services.material_name_en': ['英文名称', 'English name'], 'services.material_field': ['对应表单字段', 'Form field'],
  'services.material_kind': ['上传类型', 'Upload kind'], 'services.kind.none': ['（不上传）', '(not uploaded)'],
  'services.kind.photo': ['照片', 'Photo'], 'services.kind.signature': ['签名', 'Signature'],
  'services.kind.document': ['文件', 'Document'], 'services.originals': ['需核验原件', 'Originals checked'],
  'services.required': ['必需', 'Required'], 'services.add_material': ['添加材料', 'Add a material'],
  'services.no_field': ['（无）', '(none)'], 'services.remove': ['删除', 'Remove'],
  'services.regions': ['可办理区域', 'Regions'], 'services.region_code': ['行政区划代码', 'Region code'],
  'services.add_region': ['添加区域', 'Add region'], 'services.quick_region': ['快速选择', 'Quick pick'],
  'services.nationwide': ['全国', 'Nationwide'], 'services.save': ['保存', 'Save'], 'services.saved': ['已保存', 'Saved'],
  'services.validate': ['检查', 'Check'], 'services.valid': ['没有问题，可以发布', 'No problems: ready to publish'],
  'services.publish': ['发布', 'Publish'], 'services.published_as': ['已发布为第 {n} 版', 'Published as version {n}'],
  'services.versions': ['历史版本', 'Versions'], 'services.readonly': ['只读', 'read-only'],
  'services.current': ['当前版本', 'current'], 'services.dirty': ['有未保存的修改', 'Unsaved changes'],
  'services.conflict': ['其他人已先保存了这个事项。重新加载会丢弃你的修改。',
    'Someone else saved this service first. Reloading discards your changes.'],
  'services.reload': ['重新加载', 'Reload'], 'services.problems': ['问题', 'Problems'],
  'services.loading': ['加载中…', 'Loading…'], 'services.published_at': ['发布时间', 'Published at'],
  'services.basics': ['基本信息', 'Basics'], 'services.code_hint': ['2–64 个字母、数字、_ 或 -', '2–64 letters, digits, _ or -'],
}

// GB/T 2260 province-level codes, for the quick pick.
export const PROVINCES = [
  ['110000', '北京市', 'Beijing'], ['120000', '天津市', 'Tianjin'], ['130000', '河北省', 'Hebei'],
  ['140000', '山西省', 'Shanxi'], ['150000', '内蒙古自治区', 'Inner Mongolia'], ['210000', '辽宁省', 'Liaoning'],
  ['220000', '吉林省', 'Jilin'], ['230000', '黑龙江省', 'Heilongjiang'], ['310000', '上海市', 'Shanghai'],
  ['320000', '江苏省', 'Jiangsu'], ['330000', '浙江省', 'Zhejiang'], ['340000', '安徽省', 'Anhui'],
  ['350000', '福建省', 'Fujian'], ['360000', '江西省', 'Jiangxi'], ['370000', '山东省', 'Shandong'],
  ['410000', '河南省', 'Henan'], ['420000', '湖北省', 'Hubei'], ['430000', '湖南省', 'Hunan'],
  ['440000', '广东省', 'Guangdong'], ['450000', '广西壮族自治区', 'Guangxi'], ['460000', '海南省', 'Hainan'],
  ['500000', '重庆市', 'Chongqing'], ['510000', '四川省', 'Sichuan'], ['520000', '贵州省', 'Guizhou'],
  ['530000', '云南省', 'Yunnan'], ['540000', '西藏自治区', 'Tibet'], ['610000', '陕西省', 'Shaanxi'],
  ['620000', '甘肃省', 'Gansu'], ['630000', '青海省', 'Qinghai'], ['640000', '宁夏回族自治区', 'Ningxia'],
  ['650000', '新疆维吾尔自治区', 'Xinjiang'], ['710000', '台湾省', 'Taiwan'], ['810000', '香港特别行政区', 'Hong Kong'],
  ['820000', '澳门特别行政区', 'Macao'],
]

const zh = {}
const en = {}
for (const [key, [z, e]] of Object.entries(pairs)) { zh[key] = z; en[key] = e }
extend({ 'zh-CN': zh, en })
