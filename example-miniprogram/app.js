const { createClient } = require('mp-session');
const config = require('./config.js');

App({
  onLaunch() {
    // One client for the whole app. WeChat advises logging in from onLaunch (not onShow): the login
    // starts now, and every page that asks shares it.
    // replyFields: the login reply's user and isNewUser stay with the session (and in storage), so
    // every page reads them from ensureLogin() without asking the server again.
    this.auth = createClient({
      baseUrl: config.baseUrl,
      allowInsecureHttp: config.allowInsecureHttp,
      replyFields: ['user', 'isNewUser'],
      // mp-session-server answers logins with a refresh token too: an expired access token is
      // renewed at /auth/refresh without wx.login, for every page at once.
      refresh: { path: '/auth/refresh' },
    });
    this.auth.ensureLogin().catch(() => {
      // Pages show login errors when they ask; nothing to do here.
    });
  },
});
