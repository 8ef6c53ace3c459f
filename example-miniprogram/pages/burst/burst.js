const { errorCode, toastError } = require('../../utils/view.js');

const REQUESTS = 20;

// Fires many requests at once: they wait for one login together, and after the server ends the
// session they share one re-login and each is replayed once.
Page({
  data: {
    requests: REQUESTS,
    running: false,
    summary: '',
    failures: '',
  },

  onLoad() {
    this.logins = 0;
    this.unsubscribe = getApp().auth.onChange((event) => {
      if (event.type === 'login') this.logins++;
    });
  },

  onUnload() {
    if (this.unsubscribe) this.unsubscribe();
  },

  onTapFire() {
    const { auth } = getApp();
    const loginsBefore = this.logins;
    const started = Date.now();
    this.setData({ running: true, summary: `${REQUESTS} 个请求同时发出…`, failures: '' });
    const calls = [];
    for (let i = 0; i < REQUESTS; i++) {
      calls.push(auth.request({ url: '/api/me' }).then((res) => res.statusCode, (error) => errorCode(error)));
    }
    return Promise.all(calls).then((results) => {
      const ok = results.filter((r) => r === 200).length;
      const failed = results.filter((r) => r !== 200);
      this.setData({
        running: false,
        summary: `${ok}/${REQUESTS} 个成功，期间登录 ${this.logins - loginsBefore} 次，用时 ${Date.now() - started} ms`,
        failures: failed.length ? `失败：${failed.join(', ')}` : '',
      });
    });
  },

  // Ends this session on the server behind the SDK's back (POST /auth/logout with its token), as
  // a logout on another device, a password change or an operator's revocation would: the next
  // requests are answered 401 and share one re-login, each replayed once.
  onTapRevoke() {
    return getApp().auth.request({ url: '/auth/logout', method: 'POST' }).then(
      () => {
        wx.showToast({ title: '服务器已结束本会话', icon: 'none' });
        this.setData({ summary: '会话已在服务器结束：下一批请求会共用一次重新登录' });
      },
      (error) => toastError(error),
    );
  },
});
