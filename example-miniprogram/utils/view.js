// What the pages show for the SDK's states and errors, in Chinese. Error codes are mp-session's
// stable codes (README: Errors); the code is always shown too, so a user can report it.
const ERROR_TEXT = {
  NETWORK: '网络不可用',
  TIMEOUT: '请求超时',
  WX_LOGIN_FAILED: '微信登录失败',
  LOGIN_REJECTED: '服务器拒绝登录',
  RATE_LIMITED: '登录太频繁，请稍后再试',
  USER_BLOCKED: '账号存在风险，已被限制',
  SERVER_ERROR: '服务器出错',
  BAD_RESPONSE: '服务器回复无法识别',
  SESSION_EXPIRED: '登录已失效',
  LOGGED_OUT: '已退出登录',
  CONFIG_INVALID: '配置有误',
  WASM_LOAD_FAILED: '登录模块加载失败',
};

function errorCode(error) {
  return (error && error.code) || 'INTERNAL';
}

function describeError(error) {
  return ERROR_TEXT[errorCode(error)] || '未知错误';
}

// Shows an error as a toast with its code, e.g. "请求超时 (TIMEOUT)".
function toastError(error) {
  wx.showToast({ title: `${describeError(error)} (${errorCode(error)})`, icon: 'none', duration: 3000 });
}

const pad = (n) => String(n).padStart(2, '0');

function formatTime(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

module.exports = { errorCode, describeError, toastError, formatTime };
