const { errorCode, describeError, toastError } = require('../../utils/view.js');

// "我的": who is logged in (the login reply's user, kept with the session by replyFields), one-tap
// phone login (getPhoneNumber → a login whose exchange carries the phone code), and the profile
// (chooseAvatar → upload, nickname input → save). WeChat asks for privacy agreement first
// (components/privacy-popup). Handlers return their promise so tests can check the state they leave.
Page({
  data: {
    status: 'loggingIn', // loggingIn | loggedIn | error
    statusText: '登录中…',
    user: null, // { id, nickname, avatarUrl, phone }
    isNewUser: false,
    nickname: '',
    busy: '', // what is in progress: '' | 'phone' | 'avatar' | 'nickname'
    errorText: '',
    errorCode: '',
    notice: '',
  },

  onLoad() {
    const { auth } = getApp();
    this.unsubscribe = auth.onChange((event) => {
      if (event.type === 'login' && event.reply) this.showReply(event.reply);
      if (event.type === 'logout') this.setData({ status: 'loggingIn', statusText: '未登录', user: null, isNewUser: false });
    });
    this.ready = auth.ensureLogin().then((state) => this.showReply(state.reply), (error) => this.showError(error));
  },

  onUnload() {
    if (this.unsubscribe) this.unsubscribe();
  },

  showReply(reply) {
    const user = (reply && reply.user) || null;
    this.setData({
      status: 'loggedIn',
      statusText: '已登录',
      user,
      isNewUser: Boolean(reply && reply.isNewUser),
      nickname: (user && user.nickname) || '',
      errorText: '',
      errorCode: '',
    });
  },

  showUser(user, notice) {
    this.setData({ user, nickname: user.nickname || '', busy: '', errorText: '', errorCode: '', notice });
  },

  showError(error, busy) {
    this.setData({ status: busy ? this.data.status : 'error', statusText: busy ? this.data.statusText : '登录失败', busy: '', errorText: describeError(error), errorCode: errorCode(error), notice: '' });
    toastError(error);
  },

  // The server's own error for a profile call: { errcode, errmsg } with a 4xx status.
  showServerError(res) {
    const body = typeof res.data === 'string' ? safeParse(res.data) : res.data;
    const message = (body && body.errmsg) || `HTTP ${res.statusCode}`;
    this.setData({ busy: '', errorText: message, errorCode: body && body.errcode ? String(body.errcode) : `HTTP_${res.statusCode}`, notice: '' });
    wx.showToast({ title: message, icon: 'none' });
  },

  // <button open-type="getPhoneNumber" bindgetphonenumber>: a one-time code (base library >= 2.21.2)
  // that our server exchanges and binds to the user in the same login.
  onGetPhoneNumber(e) {
    const code = e && e.detail && e.detail.code;
    if (!code) {
      this.setData({ errorText: '未授权手机号', errorCode: (e && e.detail && e.detail.errMsg) || 'getPhoneNumber:fail', notice: '' });
      return Promise.resolve();
    }
    this.setData({ busy: 'phone', errorText: '', errorCode: '' });
    return getApp().auth.ensureLogin({ force: true, payload: { phoneCode: code } }).then(
      (state) => {
        this.showReply(state.reply);
        this.setData({ busy: '', notice: '手机号已绑定' });
      },
      (error) => this.showError(error, 'phone'),
    );
  },

  // <button open-type="chooseAvatar" bindchooseavatar>: a temporary file that expires; upload it now.
  onChooseAvatar(e) {
    const filePath = e && e.detail && e.detail.avatarUrl;
    if (!filePath) return Promise.resolve();
    this.setData({ busy: 'avatar', errorText: '', errorCode: '' });
    return getApp().auth.uploadFile({ url: '/api/avatar', filePath, name: 'file' }).then(
      (res) => {
        if (res.statusCode !== 200) return this.showServerError(res);
        this.showUser(safeParse(res.data).user, '头像已更新');
      },
      (error) => this.showError(error, 'avatar'),
    );
  },

  // <input type="nickname"> inside a form: WeChat checks the text on blur; we save on submit.
  onSaveNickname(e) {
    const nickname = String((e && e.detail && e.detail.value && e.detail.value.nickname) || '').trim();
    if (!nickname) {
      this.setData({ errorText: '请输入昵称', errorCode: 'EMPTY_NICKNAME', notice: '' });
      return Promise.resolve();
    }
    this.setData({ busy: 'nickname', errorText: '', errorCode: '' });
    return getApp().auth.request({ url: '/api/profile', method: 'PUT', data: { nickname } }).then(
      (res) => (res.statusCode === 200 ? this.showUser(res.data.user, '昵称已保存') : this.showServerError(res)),
      (error) => this.showError(error, 'nickname'),
    );
  },
});

function safeParse(text) {
  try {
    return JSON.parse(text);
  } catch (e) {
    return null;
  }
}
