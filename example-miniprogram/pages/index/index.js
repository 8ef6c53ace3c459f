const { errorCode, describeError, toastError, formatTime } = require('../../utils/view.js');

// The login state and the four things a user does with it. Handlers return their promise so the
// state they leave can be checked; WeChat ignores the return value.
Page({
  data: {
    status: 'loggingIn', // loggedOut | loggingIn | loggedIn | error
    statusText: '登录中…',
    expiresText: '',
    errorCode: '',
    apiText: '',
  },

  onLoad() {
    const { auth } = getApp();
    // Logins made elsewhere (another page, a transparent re-login inside auth.request) show here too.
    this.unsubscribe = auth.onChange((event) => {
      if (event.type === 'login') this.showLoggedIn(event.expiresAt);
      if (event.type === 'logout') this.showLoggedOut('未登录');
      if (event.type === 'expired') this.showLoggedOut('登录已过期');
    });
    // app.js started the login in onLaunch; this joins it rather than starting another.
    this.ready = this.login(false);
  },

  onUnload() {
    if (this.unsubscribe) this.unsubscribe();
  },

  login(force) {
    this.setData({ status: 'loggingIn', statusText: '登录中…', errorCode: '' });
    return getApp().auth.ensureLogin({ force }).then(
      (state) => this.showLoggedIn(state.expiresAt),
      (error) => this.showError(error),
    );
  },

  showLoggedIn(expiresAt) {
    this.setData({ status: 'loggedIn', statusText: '已登录', expiresText: `有效期至 ${formatTime(expiresAt)}`, errorCode: '' });
  },

  showLoggedOut(text) {
    this.setData({ status: 'loggedOut', statusText: text, expiresText: '', apiText: '' });
  },

  showError(error) {
    this.setData({ status: 'error', statusText: `登录失败：${describeError(error)}`, expiresText: '', errorCode: errorCode(error) });
    toastError(error);
  },

  onTapLogin() {
    return this.login(false);
  },

  onTapForceLogin() {
    return this.login(true);
  },

  onTapCallApi() {
    this.setData({ apiText: '请求中…' });
    return getApp().auth.request({ url: '/api/me' }).then(
      (res) => this.setData({ apiText: res.statusCode === 200 ? `接口返回：用户 ${res.data.userId}` : `接口返回 HTTP ${res.statusCode}` }),
      (error) => {
        this.setData({ apiText: `请求失败 (${errorCode(error)})` });
        toastError(error);
      },
    );
  },

  onTapLogout() {
    return getApp().auth.logout().then(
      () => {
        this.showLoggedOut('未登录');
        wx.showToast({ title: '已退出登录', icon: 'success' });
      },
      (error) => toastError(error),
    );
  },
});
