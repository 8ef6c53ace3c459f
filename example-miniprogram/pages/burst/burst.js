const config = require('../../config.js');
const { errorCode, toastError } = require('../../utils/view.js');

const REQUESTS = 20;

// Fires many requests at once: they wait for one login together, and after the server revokes the
// tokens they share one re-login and each is replayed once.
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
      calls.push(auth.request({ url: '/api/echo', method: 'POST', data: { n: i } }).then((res) => res.statusCode, (error) => errorCode(error)));
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

  // Developer server only: its admin route ends every session, as a server restart or a password
  // change would in production.
  onTapRevoke() {
    return new Promise((resolve) => {
      wx.request({
        url: `${config.baseUrl}/admin/revoke-all`,
        method: 'POST',
        data: {},
        success: () => {
          wx.showToast({ title: '服务器已吊销全部令牌', icon: 'none' });
          this.setData({ summary: '令牌已吊销：下一批请求会共用一次重新登录' });
          resolve();
        },
        fail: (err) => {
          toastError({ code: 'NETWORK', errMsg: err.errMsg });
          resolve();
        },
      });
    });
  },
});
