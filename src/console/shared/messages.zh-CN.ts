// The zh-CN message catalogue (简体中文, the default language). Every string a page shows lives here
// and in messages.en.ts under the same key; tsc checks that both have every key. Keys are grouped
// by page area: common, sign-in, console, counter, board. Add keys to your area's block.
export const zhCN = {
  // — common —
  'app.name': '文明银行',
  'lang.switch': 'English',
  'lang.label': '语言',
  'common.loading': '加载中…',
  'common.retry': '重试',
  'common.cancel': '取消',
  'common.save': '保存',
  'common.search': '搜索',
  'common.confirm': '确认',
  'common.back': '返回',
  'common.none': '暂无数据',
  'common.more': '加载更多',
  'common.required': '{field}为必填项',
  'common.signOut': '退出登录',
  'common.signedInAs': '当前用户：{name}',
  'common.home': '首页',
  'error.network': '网络异常，请检查连接后重试',
  'error.UNAUTHENTICATED': '登录已失效，请重新登录',
  'error.FORBIDDEN': '没有权限执行此操作',
  'error.NOT_FOUND': '未找到',
  'error.BAD_USER_INPUT': '输入有误',
  'error.INSUFFICIENT_FUNDS': '积分不足',
  'error.CAP_EXCEEDED': '已超过规则上限',
  'error.OUT_OF_STOCK': '库存不足',
  'error.LIMIT_EXCEEDED': '超过限额',
  'error.IDEMPOTENCY_CONFLICT': '重复的请求编号',
  'error.INVALID_STATE': '当前状态不允许此操作',
  'error.RATE_LIMITED': '操作过于频繁，请稍后再试',
  'error.UNAVAILABLE': '服务暂时不可用，请稍后重试',
  'error.INTERNAL': '系统内部错误',

  // — sign-in —
  'signIn.title': '工作人员登录',
  'signIn.username': '用户名',
  'signIn.password': '密码',
  'signIn.submit': '登录',
  'signIn.submitting': '正在登录…',
  'signIn.expired': '登录已过期，请重新登录',
  'signIn.ended': '会话已结束，请重新登录',
  'signIn.signedOut': '您已退出登录',
  'signIn.wrongRole.console': '此账号不是分行管理员，请使用商户核销台',
  'signIn.wrongRole.counter': '此账号不是商户店员，请使用分行后台',
  'signIn.toCounter': '商户店员？前往核销台',
  'signIn.toConsole': '分行管理员？前往后台',

  // — console —
  'console.title': '分行后台',
  'console.skipToContent': '跳到正文',
  'console.menu': '主菜单',
  'console.breadcrumbs': '当前位置',
  'console.menu.dashboard': '首页概览',

  // — counter —
  'counter.title': '商户核销',

  // — board —
  'board.title': '公示栏',
};

export type MessageKey = keyof typeof zhCN;
