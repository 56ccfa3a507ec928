"""Human messages for error codes, in zh-CN (the default) and en, chosen by Accept-Language."""
from __future__ import annotations

from flask import has_request_context, request

SUPPORTED = ("zh-CN", "en")

# message key → (zh-CN, en). Keys are the stable codes of docs/errors.md; {params} come from the error.
MESSAGES = {
    "bad_request": ("请求无效", "The request is not valid"),
    "invalid": ("提交的数据无效", "The submitted data is not valid"),
    "invalid_json": ("请求体不是有效的 JSON", "The request body is not valid JSON"),
    "validation_failed": ("提交的数据未通过校验", "The submitted data did not pass validation"),
    "unauthorized": ("请先登录", "Please log in"),
    "token_expired": ("登录已过期，请重新登录", "Your session has expired; please log in again"),
    "token_invalid": ("登录凭证无效", "The access token is not valid"),
    "refresh_invalid": ("刷新凭证无效或已被使用", "The refresh token is not valid or was already used"),
    "refresh_reused": ("刷新凭证被重复使用，该登录已全部注销",
                       "A refresh token was reused; that login has been signed out everywhere"),
    "bad_credentials": ("用户名或密码错误", "Wrong username or password"),
    "account_locked": ("尝试次数过多，请在 {retry_after} 秒后重试",
                       "Too many attempts; try again in {retry_after} seconds"),
    "account_disabled": ("该账号已停用", "This account is disabled"),
    "forbidden": ("没有权限执行此操作", "You are not allowed to do this"),
    "not_found": ("未找到该对象", "Not found"),
    "method_not_allowed": ("不支持该请求方法", "This method is not allowed here"),
    "payload_too_large": ("请求体过大", "The request body is too large"),
    "uri_too_long": ("请求地址过长", "The request URI is too long"),
    "headers_too_large": ("请求头过大", "The request headers are too large"),
    "not_implemented": ("不支持该请求", "This request is not supported"),
    "unsupported_media_type": ("不支持的内容类型", "This content type is not supported"),
    "conflict": ("与当前状态冲突", "This conflicts with the current state"),
    "precondition_failed": ("数据已被他人修改，请刷新后重试", "Someone changed this first; reload and try again"),
    "precondition_required": ("请提供 If-Match 头", "Send an If-Match header"),
    "too_many_requests": ("请求过于频繁", "Too many requests"),
    "unavailable": ("服务暂时不可用，请稍后重试", "The service is temporarily unavailable; try again later"),
    "database.unavailable": ("数据库暂时不可用", "The database is temporarily unavailable"),
    "storage.unavailable": ("文件存储暂时不可用", "File storage is temporarily unavailable"),
    "internal_error": ("服务器内部错误", "Internal server error"),
    "upstream_error": ("外部服务出错", "An external service failed"),
    "wechat.invalid_code": ("微信登录凭证无效或已使用", "The WeChat login code is invalid or was already used"),
    "wechat.rate_limited": ("微信接口调用过于频繁", "WeChat is rate limiting us; try again shortly"),
    "wechat.high_risk_user": ("微信判定该用户存在风险，暂不能登录", "WeChat flagged this user as high-risk"),
    "wechat.busy": ("微信服务繁忙，请稍后重试", "WeChat is busy; try again shortly"),
    "wechat.error": ("微信接口返回错误 {errcode}", "WeChat answered with error {errcode}"),
    "wechat.unreachable": ("无法连接微信服务", "WeChat could not be reached"),
    "wechat.not_configured": ("未配置微信小程序", "WeChat login is not configured"),
    "wechat.not_a_wechat_user": ("该账号不是微信用户", "This account did not log in with WeChat"),
    "user.username_taken": ("用户名已存在", "This username is taken"),
    "user.role_needs_department": ("该角色需要指定部门", "This role is held per department: name one"),
    "user.role_without_department": ("该角色不属于部门", "This role is not held per department"),
    "user.cannot_disable_self": ("不能停用自己的账号", "You cannot disable your own account"),
    "user.cannot_revoke_own_admin": ("不能撤销自己的管理员角色", "You cannot remove your own admin role"),
    "workflow.start_form_missing": ("开始事件指定的表单未发布", "The start event's form is not published"),
    "department.code_taken": ("部门编码已存在", "This department code is taken"),
    "department.cycle": ("部门不能成为自己的下级", "A department cannot sit below itself"),
    "department.has_children": ("该部门下仍有下级部门", "This department still has sub-departments"),
}


def language() -> str:
    if not has_request_context():
        return "zh-CN"
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"], default="zh-CN")
    return "en" if best.startswith("en") else "zh-CN"


def message(key: str, params: dict | None = None, lang: str | None = None) -> str:
    lang = lang or language()
    texts = MESSAGES.get(key) or MESSAGES.get(key.split(".")[0]) or MESSAGES["bad_request"]
    text = texts[1] if lang == "en" else texts[0]
    try:
        return text.format(**(params or {}))
    except (KeyError, IndexError, ValueError):   # a missing parameter or a stray brace: say the plain text
        return text


def register(messages: dict) -> None:
    """Rooms add their own message keys at start-up."""
    MESSAGES.update(messages)
